import Foundation

/// A 2xx reply: the raw body (what `--json` prints) and its decoding.
public struct ControlReply: Sendable {
    public var status: Int
    public var contentType: String?
    public var body: Data

    public init(status: Int, contentType: String?, body: Data) {
        self.status = status
        self.contentType = contentType
        self.body = body
    }

    public var text: String { String(decoding: body, as: UTF8.self) }

    public func decode<T: Decodable>(_ type: T.Type) throws(ControlError) -> T {
        do {
            return try ControlJSON.decode(type, from: body, what: "the daemon's reply")
        } catch {
            // A reply the client cannot read is a version mismatch, not the user's mistake.
            throw ControlError(.internal, error.message, hint: "are the CLI and the daemon the same version?")
        }
    }

    /// The error a non-2xx reply carries: its envelope if it has one, else the status.
    static func error(status: Int, body: Data) -> ControlError {
        if let envelope = try? JSONDecoder().decode(ErrorBody.self, from: body) { return envelope.error }
        let text = String(decoding: body.prefix(200), as: UTF8.self)
        return ControlError(
            ControlError.code(forHTTPStatus: status), "HTTP \(status) without an error body: \(text)",
            hint: "is a Sheaf daemon listening on that port?")
    }
}
