/// A control API failure: a stable code for scripts, a message for people,
/// and a hint saying what to do about it.
public struct ControlError: Error, Codable, Hashable, Sendable, CustomStringConvertible {
    public enum Code: String, Codable, Hashable, Sendable, CaseIterable {
        /// The request is malformed or names something invalid (HTTP 400).
        case badRequest = "bad_request"
        /// The token is missing or wrong (HTTP 401).
        case unauthorized
        /// The node may not do this, e.g. write to a space it is not admitted to (HTTP 403).
        case forbidden
        /// No such space or object (HTTP 404).
        case notFound = "not_found"
        /// The path exists but not with this method (HTTP 405).
        case methodNotAllowed = "method_not_allowed"
        /// The request conflicts with the current state, e.g. the space exists (HTTP 409).
        case conflict
        /// The request body is over the route's limit (HTTP 413).
        case tooLarge = "too_large"
        /// The space is not ready yet (still bootstrapping) or the node is shutting down (HTTP 503).
        case unavailable
        /// Something failed inside the node; the message says what (HTTP 500).
        case `internal`

        /// The one table from codes to statuses; `code(forHTTPStatus:)` reads it backwards.
        var httpStatus: Int {
            switch self {
            case .badRequest: 400
            case .unauthorized: 401
            case .forbidden: 403
            case .notFound: 404
            case .methodNotAllowed: 405
            case .conflict: 409
            case .tooLarge: 413
            case .unavailable: 503
            case .internal: 500
            }
        }
    }

    public var code: Code
    public var message: String
    public var hint: String?

    public init(_ code: Code, _ message: String, hint: String? = nil) {
        self.code = code
        self.message = message
        self.hint = hint
    }

    public var description: String { hint.map { "\(message)\n  hint: \($0)" } ?? message }

    /// The code an HTTP status stands for, for replies without an error body
    /// (a proxy's, or a server that is not a Sheaf daemon).
    public static func code(forHTTPStatus status: Int) -> Code {
        Code.allCases.first { $0.httpStatus == status } ?? .internal
    }

    /// The HTTP status the code maps to.
    public var httpStatus: Int { code.httpStatus }
}
