import Foundation

/// A reply before it meets the wire.
struct ControlResponse: Sendable {
    var status: Int
    var contentType: String
    var headers: [(String, String)]
    var body: Data

    init(status: Int, contentType: String = "application/json", headers: [(String, String)] = [], body: Data) {
        self.status = status
        self.contentType = contentType
        self.headers = headers
        self.body = body
    }

    /// The error envelope with the code's status (and the headers 401 and 405 call for).
    static func error(_ error: ControlError) -> ControlResponse {
        var headers: [(String, String)] = []
        if error.code == .unauthorized { headers.append(("WWW-Authenticate", "Bearer")) }
        let body = (try? ControlJSON.encode(ErrorBody(error: error))) ?? Data(#"{"error":{"code":"internal","message":"?"}}"#.utf8)
        return ControlResponse(status: error.httpStatus, headers: headers, body: body)
    }
}

/// The HTTP API without HTTP: checks the token, decodes a route's body,
/// calls the node and encodes what it returns. The server feeds it whole
/// requests.
struct ControlService: Sendable {
    let control: any PeerControl
    private let token: [UInt8]

    init(control: any PeerControl, token: String) {
        self.control = control
        self.token = Array(token.utf8)
    }

    /// Checks `Authorization: Bearer <token>`, in time independent of where it differs.
    func authorize(_ header: String?) throws(ControlError) {
        let hint = "send `Authorization: Bearer <token>`; the token is in control.json in the daemon's data directory"
        guard let header, header.count > 7, header.prefix(7).lowercased() == "bearer " else {
            throw ControlError(.unauthorized, "this request needs the control token", hint: hint)
        }
        let given = Array(header.dropFirst(7).trimmingCharacters(in: .whitespaces).utf8)
        var difference = UInt8(given.count == token.count ? 0 : 1)
        for index in token.indices { difference |= token[index] ^ (index < given.count ? given[index] : 0) }
        guard difference == 0, !token.isEmpty else {
            throw ControlError(.unauthorized, "the control token is wrong", hint: hint)
        }
    }

    /// The reply to a matched, authorized route with its whole body.
    func respond(to route: ControlRoute, body: Data) async -> ControlResponse {
        do {
            return try await dispatch(route, body: body)
        } catch {
            return .error(error)
        }
    }

    private func dispatch(_ route: ControlRoute, body: Data) async throws(ControlError) -> ControlResponse {
        switch route {
        case .health:
            return try json(HealthStatus(ok: true))
        case .metrics:
            let text = await control.metricsText()
            return ControlResponse(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", body: Data(text.utf8))
        case .status:
            return try json(try await control.status())
        case .listSpaces:
            return try json(SpaceList(spaces: try await control.spaces()))
        case .createSpace:
            return try json(try await control.createSpace(), status: 201)
        case .joinSpace:
            var request = try decode(JoinSpaceRequest.self, body)
            request.space = try ControlKeys.validate(request.space, as: "space")
            return try json(try await control.joinSpace(request), status: 202)
        case .space(let space):
            return try json(try await control.space(space))
        case .dropSpace(let space):
            try await control.dropSpace(space)
            return try json(DropResult(dropped: space))
        case .admitWriter(let space):
            let writer = try ControlKeys.validate(try decode(AdmitRequest.self, body).writer, as: "writer")
            return try json(try await control.admit(writer, to: space))
        case .putObject(let space, let id):
            return try json(try await control.put(id, try decode(PutObjectRequest.self, body), in: space))
        case .getObject(let space, let id):
            return try json(try await control.get(id, in: space))
        case .deleteObject(let space, let id):
            return try json(try await control.delete(id, in: space))
        case .listObjects(let space, let query):
            return try json(try await control.list(in: space, query: query))
        case .putBatch(let space):
            let request = try decode(PutBatchRequest.self, body)
            guard !request.puts.isEmpty else { throw ControlError(.badRequest, "the batch has no puts") }
            return try json(try await control.putBatch(request, in: space))
        case .snapshot(let space):
            return try json(try await control.snapshotNow(in: space), status: 201)
        }
    }

    private func decode<T: Decodable>(_ type: T.Type, _ body: Data) throws(ControlError) -> T {
        guard !body.isEmpty else {
            throw ControlError(.badRequest, "this request needs a JSON body (\(T.self))", hint: "see docs/API.md for its fields")
        }
        return try ControlJSON.decode(type, from: body, what: "the request body")
    }

    private func json<T: Encodable>(_ value: T, status: Int = 200) throws(ControlError) -> ControlResponse {
        ControlResponse(status: status, body: try ControlJSON.encode(value))
    }
}
