import NIOCore

/// Bounds that keep one client from tying up the daemon: body sizes by
/// route (checked against Content-Length before reading, and while reading
/// chunked bodies), how long a request may take to arrive, how long an idle
/// kept-alive connection stays open, and how many connections at once.
public struct ControlServerLimits: Sendable {
    /// `POST /v1/spaces/{space}/objects`: bulk loads.
    public var batchBodyBytes = 64 << 20
    /// `PUT …/objects/{id}`: up to 64 fields of 64 KiB, hex-encoded.
    public var objectBodyBytes = 16 << 20
    /// Every other request, and any request without a valid token.
    public var smallBodyBytes = 64 << 10
    /// From a request's head to its last body byte.
    public var requestTimeout: TimeAmount = .seconds(30)
    /// A kept-alive connection with no request in flight.
    public var idleTimeout: TimeAmount = .seconds(60)
    public var maxConnections = 64

    public init() {}

    public func bodyLimit(for route: ControlRoute) -> Int {
        switch route {
        case .putBatch: batchBodyBytes
        case .putObject: objectBodyBytes
        default: smallBodyBytes
        }
    }
}
