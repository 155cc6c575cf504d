import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// The control API's HTTP/1.1 server, on loopback only: one child task per
/// connection, requests on a connection one at a time (keep-alive).
///
/// `run` serves until `shutdown()` or cancellation. `shutdown()` is the
/// graceful way: it stops accepting, closes idle connections and lets
/// requests in flight finish before `run` returns. Cancelling `run` does the
/// same but also cancels the node calls in flight.
public final class ControlServer: Sendable {
    let service: ControlService
    let limits: ControlServerLimits
    let logger: Logger
    private let group: any EventLoopGroup
    private let state = Mutex(Registry())

    public init(
        control: any PeerControl, token: String, logger: Logger, limits: ControlServerLimits = .init(),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.service = ControlService(control: control, token: token)
        self.limits = limits
        self.logger = logger
        self.group = group
    }

    /// Binds `host:port` (port 0 picks a free one), hands the bound port to
    /// `onBound` (where the daemon writes control.json), then serves.
    /// Refuses any host outside the loopback range.
    public func run(
        host: String = "127.0.0.1", port: Int, onBound: @Sendable (Int) async throws(ControlError) -> Void = { _ in }
    ) async throws(ControlError) {
        guard Self.isLoopback(host) else {
            throw ControlError(
                .badRequest, "the control API listens on loopback only, not \(host)",
                hint: "use 127.0.0.1; reach it from elsewhere through an SSH tunnel")
        }
        let listener: NIOAsyncChannel<NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, Never>
        do {
            listener = try await bind(host: host, port: port)
        } catch {
            throw ControlError(
                .unavailable, "cannot listen on \(host):\(port): \(error)", hint: "is another daemon using that port? pick another one")
        }
        let channel = listener.channel
        guard state.withLock({ $0.listening(channel) }) else {
            try? await channel.close()
            return
        }
        do {
            try await onBound(channel.localAddress?.port ?? port)
        } catch {
            try? await channel.close()
            throw error
        }
        logger.info("control API listening", metadata: ["address": "\(host):\(channel.localAddress?.port ?? port)"])
        await withTaskCancellationHandler {
            await accept(listener)
        } onCancel: {
            self.shutdown()
        }
        logger.info("control API stopped")
    }

    /// Connections open now (kept-alive ones included).
    public var openConnections: Int { state.withLock { $0.connections.count } }

    /// Stops accepting, closes idle connections; busy ones close after their reply.
    public func shutdown() {
        let (listener, idle) = state.withLock { $0.shutDown() }
        listener?.close(promise: nil)
        for channel in idle { channel.close(promise: nil) }
    }

    private func bind(host: String, port: Int) async throws
        -> NIOAsyncChannel<NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, Never>
    {
        let limits = self.limits
        return try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 128)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.configureHTTPServerPipeline(withPipeliningAssistance: true, withErrorHandling: true)
                    try pipeline.addHandler(ConnectionTimeouts(requestTimeout: limits.requestTimeout, idleTimeout: limits.idleTimeout))
                    return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(wrappingChannelSynchronously: channel)
                }
            }
    }

    private func accept(_ listener: NIOAsyncChannel<NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, Never>) async {
        await withDiscardingTaskGroup { group in
            do {
                try await listener.executeThenClose { inbound in
                    for try await connection in inbound {
                        guard let id = state.withLock({ $0.admit(connection.channel, max: limits.maxConnections) }) else {
                            logger.warning("control API: too many connections, refusing one", metadata: ["max": "\(limits.maxConnections)"])
                            connection.channel.close(promise: nil)
                            continue
                        }
                        group.addTask {
                            await ServerConnection(id: id, server: self).serve(connection)
                            self.state.withLock { $0.remove(id) }
                        }
                    }
                }
            } catch {
                if !state.withLock({ $0.shuttingDown }) { logger.error("control API stopped accepting: \(error)") }
            }
        }
    }

    static func isLoopback(_ host: String) -> Bool {
        if host == "::1" { return true }
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets[0] == "127" && octets.allSatisfy { UInt8($0) != nil }
    }

    // What the connections tell the server, so shutdown knows whom to close now.
    func requestStarted(_ id: Int) { _ = state.withLock { $0.setBusy(id, true) } }

    /// Marks the connection idle; true if it should close (the server is shutting down).
    func requestFinished(_ id: Int) -> Bool { state.withLock { $0.setBusy(id, false) } }
}

/// The listener and the open connections, for shutdown.
private struct Registry {
    var listener: (any Channel)?
    var connections: [Int: (channel: any Channel, busy: Bool)] = [:]
    var nextID = 0
    var shuttingDown = false

    mutating func listening(_ channel: any Channel) -> Bool {
        guard !shuttingDown else { return false }
        listener = channel
        return true
    }

    mutating func admit(_ channel: any Channel, max: Int) -> Int? {
        guard !shuttingDown, connections.count < max else { return nil }
        nextID += 1
        connections[nextID] = (channel, false)
        return nextID
    }

    mutating func remove(_ id: Int) { connections[id] = nil }

    mutating func setBusy(_ id: Int, _ busy: Bool) -> Bool {
        connections[id]?.busy = busy
        return shuttingDown
    }

    mutating func shutDown() -> (listener: (any Channel)?, idle: [any Channel]) {
        shuttingDown = true
        defer { listener = nil }
        return (listener, connections.values.filter { !$0.busy }.map(\.channel))
    }
}
