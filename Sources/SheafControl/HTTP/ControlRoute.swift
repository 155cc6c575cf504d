/// The control API's routes, one value per request line. The server matches
/// a method and target into a route and the client renders a route into a
/// method and target, so the two cannot disagree about paths or encoding.
/// Spaces in a route are validated keys (lowercase hex); ids are decoded.
public enum ControlRoute: Hashable, Sendable {
    case health
    case metrics
    case status
    case listSpaces
    case createSpace
    case joinSpace
    case space(String)
    case dropSpace(String)
    case admitWriter(space: String)
    case putObject(space: String, id: String)
    case getObject(space: String, id: String)
    case deleteObject(space: String, id: String)
    case listObjects(space: String, query: ListQuery)
    case putBatch(space: String)
    case snapshot(space: String)

    public enum Method: String, Hashable, Sendable {
        case get = "GET", put = "PUT", post = "POST", delete = "DELETE"
    }

    public var method: Method {
        switch self {
        case .health, .metrics, .status, .listSpaces, .space, .getObject, .listObjects: .get
        case .createSpace, .joinSpace, .admitWriter, .putBatch, .snapshot: .post
        case .putObject: .put
        case .dropSpace, .deleteObject: .delete
        }
    }

    /// Health and metrics stay open so supervisors and scrapers need no token.
    public var requiresToken: Bool {
        switch self {
        case .health, .metrics: false
        default: true
        }
    }

    /// Whether repeating the request is harmless: the client retries these
    /// once when a kept-alive connection turns out closed.
    public var isIdempotent: Bool { method != .post }

    /// The percent-encoded path and query.
    public var target: String {
        let e = PercentEncoding.encode
        switch self {
        case .health: return "/v1/health"
        case .metrics: return "/metrics"
        case .status: return "/v1/status"
        case .listSpaces, .createSpace: return "/v1/spaces"
        case .joinSpace: return "/v1/spaces/join"
        case .space(let space), .dropSpace(let space): return "/v1/spaces/\(e(space))"
        case .admitWriter(let space): return "/v1/spaces/\(e(space))/writers"
        case .putObject(let space, let id), .getObject(let space, let id), .deleteObject(let space, let id):
            return "/v1/spaces/\(e(space))/objects/\(e(id))"
        case .putBatch(let space): return "/v1/spaces/\(e(space))/objects"
        case .snapshot(let space): return "/v1/spaces/\(e(space))/snapshots"
        case .listObjects(let space, let query):
            let items = [("parent", query.parent), ("after", query.after), ("limit", query.limit.map(String.init))]
                .compactMap { name, value in value.map { "\(name)=\(e($0))" } }
            return "/v1/spaces/\(e(space))/objects" + (items.isEmpty ? "" : "?" + items.joined(separator: "&"))
        }
    }

    /// The route a request line names: 404 for an unknown path, 405 for a
    /// known path with another method, 400 for a bad key, id or query.
    public static func match(method: String, target: String) throws(ControlError) -> ControlRoute {
        let (path, query) = split(target)
        let resource = try Resource.parse(path: path)
        let allowed = resource.methods
        guard let method = Method(rawValue: method), allowed.contains(method) else {
            let names = allowed.map(\.rawValue).joined(separator: ", ")
            throw ControlError(.methodNotAllowed, "\(method) is not allowed on \(path)", hint: "allowed: \(names)")
        }
        return try resource.route(method, query: query)
    }

    /// The methods a path accepts (empty for an unknown path), for `Allow`.
    public static func allowedMethods(target: String) -> [Method] {
        (try? Resource.parse(path: split(target).path))?.methods ?? []
    }

    private static func split(_ target: String) -> (path: Substring, query: Substring) {
        guard let mark = target.firstIndex(of: "?") else { return (target[...], "") }
        return (target[..<mark], target[target.index(after: mark)...])
    }
}

/// A path without its method: what 404 and 405 are decided on.
private enum Resource {
    case health, metrics, status, spaces, join
    case space(String), writers(String), objects(String), object(String, String), snapshots(String)

    var methods: [ControlRoute.Method] {
        switch self {
        case .health, .metrics, .status: [.get]
        case .spaces, .objects: [.get, .post]
        case .join, .writers, .snapshots: [.post]
        case .space: [.get, .delete]
        case .object: [.get, .put, .delete]
        }
    }

    static func parse(path: Substring) throws(ControlError) -> Resource {
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        guard segments.first == "" else { throw notFound(path) }
        let parts = segments.dropFirst()
        switch Array(parts) {
        case ["metrics"]: return .metrics
        case ["v1", "health"]: return .health
        case ["v1", "status"]: return .status
        case ["v1", "spaces"]: return .spaces
        case ["v1", "spaces", "join"]: return .join
        default: break
        }
        let rest = Array(parts.dropFirst(3))
        guard parts.count >= 3, Array(parts.prefix(2)) == ["v1", "spaces"] else { throw notFound(path) }
        let space = try ControlKeys.validate(try decode(parts[parts.startIndex + 2], "space"), as: "space")
        switch rest.first {
        case nil: return .space(space)
        case "writers" where rest.count == 1: return .writers(space)
        case "snapshots" where rest.count == 1: return .snapshots(space)
        case "objects" where rest.count == 1: return .objects(space)
        case "objects" where rest.count == 2:
            let id = try decode(rest[1], "object id")
            guard !id.isEmpty else { throw ControlError(.badRequest, "the object id is empty") }
            return .object(space, id)
        default: throw notFound(path)
        }
    }

    func route(_ method: ControlRoute.Method, query: Substring) throws(ControlError) -> ControlRoute {
        switch (self, method) {
        case (.health, _): return .health
        case (.metrics, _): return .metrics
        case (.status, _): return .status
        case (.spaces, .get): return .listSpaces
        case (.spaces, _): return .createSpace
        case (.join, _): return .joinSpace
        case (.space(let space), .get): return .space(space)
        case (.space(let space), _): return .dropSpace(space)
        case (.writers(let space), _): return .admitWriter(space: space)
        case (.snapshots(let space), _): return .snapshot(space: space)
        case (.objects(let space), .get): return .listObjects(space: space, query: try Self.listQuery(query))
        case (.objects(let space), _): return .putBatch(space: space)
        case (.object(let space, let id), .get): return .getObject(space: space, id: id)
        case (.object(let space, let id), .put): return .putObject(space: space, id: id)
        case (.object(let space, let id), _): return .deleteObject(space: space, id: id)
        }
    }

    /// `parent`, `after` and `limit` (1...ListQuery.maxLimit); others are refused
    /// so a misspelt parameter is not silently ignored.
    static func listQuery(_ query: Substring) throws(ControlError) -> ListQuery {
        var result = ListQuery()
        for item in query.split(separator: "&") {
            let pair = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = pair[0]
            let value = try decode(pair.count > 1 ? pair[1] : "", "query parameter \(name)")
            switch name {
            case "parent": result.parent = value.isEmpty ? nil : value
            case "after": result.after = value.isEmpty ? nil : value
            case "limit":
                guard let limit = Int(value), (1...ListQuery.maxLimit).contains(limit) else {
                    throw ControlError(.badRequest, "limit must be a whole number from 1 to \(ListQuery.maxLimit), not \"\(ControlKeys.abbreviate(value))\"")
                }
                result.limit = limit
            default:
                throw ControlError(
                    .badRequest, "unknown query parameter \"\(ControlKeys.abbreviate(String(name)))\"", hint: "use parent, after and limit")
            }
        }
        return result
    }

    private static func decode(_ text: Substring, _ what: String) throws(ControlError) -> String {
        guard let decoded = PercentEncoding.decode(text) else {
            throw ControlError(.badRequest, "the \(what) is not valid percent-encoded UTF-8")
        }
        return decoded
    }

    private static func notFound(_ path: Substring) -> ControlError {
        ControlError(.notFound, "no route \(ControlKeys.abbreviate(String(path)))", hint: "the routes are listed in docs/API.md")
    }
}
