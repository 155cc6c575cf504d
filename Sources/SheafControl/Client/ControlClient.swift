import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// The control API from the other side: one kept-alive HTTP/1.1 connection,
/// requests in turn (a bulk load sends batch after batch on it), opened on
/// first use and again after the daemon closes it. Conforms to
/// `PeerControl`, so code written against the node runs against a daemon.
public actor ControlClient: PeerControl {
    public nonisolated let host: String
    public nonisolated let port: Int
    private let token: String
    private let group: any EventLoopGroup
    private let requestTimeout: TimeAmount
    private let limits: ControlServerLimits
    private var channel: (any Channel)?
    private var lastUsed = NIODeadline.now()
    private var busy = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    /// Largest reply accepted (a 10,000-object page of large objects fits).
    public static let maxReplyBytes = 256 << 20
    /// Reconnect rather than reuse a connection idle this long: the server
    /// may be closing it, and a POST must not be lost in that race.
    static let reuseWindow: TimeAmount = .seconds(20)

    public init(
        host: String = "127.0.0.1", port: Int, token: String, requestTimeout: TimeAmount = .seconds(300),
        limits: ControlServerLimits = .init(), group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.host = host
        self.port = port
        self.token = token
        self.requestTimeout = requestTimeout
        self.limits = limits
        self.group = group
    }

    public init(endpoint: ControlEndpoint, requestTimeout: TimeAmount = .seconds(300)) {
        self.init(host: endpoint.host, port: endpoint.port, token: endpoint.token, requestTimeout: requestTimeout)
    }

    /// The client for the daemon running on `dataDirectory` (via control.json).
    public init(dataDirectory: String) throws(ControlError) {
        self.init(endpoint: try ControlEndpoint.read(from: dataDirectory))
    }

    public func close() async {
        let open = channel
        channel = nil
        try? await open?.close()
    }

    // MARK: Requests

    /// Sends a route with a JSON body and returns the 2xx reply; any other
    /// status becomes the `ControlError` its body carries.
    public func send(_ route: ControlRoute, body: (any Encodable & Sendable)? = nil) async throws(ControlError) -> ControlReply {
        let data = try body.map { value throws(ControlError) in try ControlJSON.encode(value) } ?? Data()
        let limit = limits.bodyLimit(for: route)
        guard data.count <= limit else {
            throw ControlError(
                .tooLarge, "the request body is \(data.count) bytes, over this route's limit of \(limit)",
                hint: "split it into smaller batches")
        }
        await acquire()
        defer { release() }
        let parts = try await exchange(route, body: data)
        let reply = ControlReply(
            status: Int(parts.head.status.code), contentType: parts.head.headers.first(name: "content-type"),
            body: Data(parts.body.readableBytesView))
        guard (200..<300).contains(reply.status) else { throw ControlReply.error(status: reply.status, body: reply.body) }
        return reply
    }

    public func call<T: Decodable>(_ route: ControlRoute, body: (any Encodable & Sendable)? = nil, as type: T.Type) async throws(ControlError) -> T {
        try await send(route, body: body).decode(type)
    }

    /// `GET /metrics`.
    public func metrics() async throws(ControlError) -> String { try await send(.metrics).text }

    /// `GET /v1/health`: whether a daemon answers at all.
    public func health() async throws(ControlError) -> HealthStatus { try await call(.health, as: HealthStatus.self) }

    // MARK: Connection

    /// One exchange; once more on a new connection if a reused one turns out
    /// closed before any reply came and the request is safe to repeat.
    private func exchange(_ route: ControlRoute, body: Data) async throws(ControlError) -> ClientReplyParts {
        let reused = channel?.isActive == true && lastUsed + Self.reuseWindow > .now()
        do {
            return try await attempt(route, body: body, reuse: reused)
        } catch ClientFailure.closed(answered: false) where reused && route.isIdempotent {
            do {
                return try await attempt(route, body: body, reuse: false)
            } catch {
                throw describe(error)
            }
        } catch {
            throw describe(error)
        }
    }

    private func attempt(_ route: ControlRoute, body: Data, reuse: Bool) async throws -> ClientReplyParts {
        if !reuse { await close() }
        let channel = try await connection()
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: "\(host):\(port)")
        headers.add(name: "Authorization", value: "Bearer \(token)")
        headers.add(name: "Accept", value: "application/json")
        headers.add(name: "Content-Length", value: String(body.count))
        if !body.isEmpty { headers.add(name: "Content-Type", value: "application/json") }
        let head = HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: route.method.rawValue), uri: route.target, headers: headers)
        let promise = channel.eventLoop.makePromise(of: ClientReplyParts.self)
        let timeout = channel.eventLoop.scheduleTask(in: requestTimeout) {
            promise.fail(ClientFailure.timedOut)
            channel.close(promise: nil)
        }
        defer { timeout.cancel() }
        channel.writeAndFlush(ClientExchange(head: head, body: ByteBuffer(bytes: body), reply: promise)).whenFailure { error in
            promise.fail(error)
        }
        let parts = try await promise.futureResult.get()
        lastUsed = .now()
        if !parts.head.isKeepAlive { await close() }
        return parts
    }

    private func connection() async throws -> any Channel {
        if let channel, channel.isActive { return channel }
        let maxReply = Self.maxReplyBytes
        let opened = try await ClientBootstrap(group: group)
            .connectTimeout(.seconds(5))
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(ClientExchangeHandler(maxReplyBytes: maxReply))
                }
            }
            .connect(host: host, port: port)
            .get()
        channel = opened
        return opened
    }

    private func describe(_ error: any Error) -> ControlError {
        let address = "\(host):\(port)"
        switch error {
        case let error as ControlError:
            return error
        case ClientFailure.timedOut:
            return ControlError(
                .unavailable, "the daemon at \(address) did not answer within \(requestTimeout.nanoseconds / 1_000_000_000) s",
                hint: "it may be busy with a large batch or snapshot; check its log and try again")
        case ClientFailure.closed:
            return ControlError(
                .unavailable, "the daemon at \(address) closed the connection before answering",
                hint: "it may be shutting down or have crashed; check its log")
        case ClientFailure.replyTooLarge(let limit):
            return ControlError(.internal, "the daemon's reply is larger than \(limit) bytes", hint: "ask for smaller pages (--limit)")
        default:
            return ControlError(
                .unavailable, "no daemon answers at \(address) (\(error))",
                hint: "start it with `peer run --data DIR --listen HOST:PORT`, or check --data")
        }
    }

    /// Requests take turns on the one connection.
    private func acquire() async {
        guard busy else {
            busy = true
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    private func release() {
        if waiters.isEmpty {
            busy = false
        } else {
            waiters.removeFirst().resume()
        }
    }
}
