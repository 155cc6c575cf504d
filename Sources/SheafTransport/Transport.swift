import Logging
import NIOCore
import NIOPosix
import SheafCrypto
import Synchronization

/// Encrypted, authenticated TCP sessions between Sheaf nodes: one per peer
/// key, carrying whole frames (docs/TRANSPORT.md).
///
/// All methods may be called from any task. `send`, `connect` and
/// `disconnect` never wait: they queue work for the connection's own tasks.
public final class Transport: Sendable {
    public let identity: KeyPair
    public let config: TransportConfig
    let logger: Logger
    weak let delegate: (any TransportDelegate)?
    let group: any EventLoopGroup

    private struct State {
        var registry = Registry()
        var listeners: [any Channel] = []
        /// Addresses dialled persistently (one redial loop each).
        var persistent: Set<String> = []
        var tasks: [UInt64: Task<Void, Never>] = [:]
    }

    private let state = Mutex(State())

    /// The delegate is held weakly: it usually owns the transport.
    public init(identity: KeyPair, config: TransportConfig = TransportConfig(), logger: Logger,
                delegate: any TransportDelegate) {
        self.identity = identity
        self.config = config
        self.logger = logger
        self.delegate = delegate
        group = MultiThreadedEventLoopGroup.singleton
    }

    /// Starts accepting connections; returns the bound address (`port` 0 picks a free port).
    public func listen(host: String, port: Int) async throws -> (host: String, port: Int) {
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.recvAllocator, value: Self.receiveAllocator)
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel, configuration: Self.channelConfiguration)
                }
            }
        let bound = (host: server.channel.localAddress?.ipAddress ?? host, port: server.channel.localAddress?.port ?? port)
        let accepted = state.withLock { s -> Bool in
            guard !s.registry.shuttingDown else { return false }
            s.listeners.append(server.channel)
            return true
        }
        guard accepted else {
            try? await server.channel.close()
            throw TransportError.shuttingDown
        }
        spawn { [self] in await acceptLoop(server, bound: "\(bound.host):\(bound.port)") }
        logger.info("listening", metadata: ["address": "\(bound.host):\(bound.port)"])
        return bound
    }

    /// Dials `address` ("host:port"). With `persistent`, keeps redialling with
    /// backoff while no session comes of it, and again after the session
    /// ends, until shutdown. `expectedPeer`: the key the node there must have.
    public func connect(to address: String, persistent: Bool, expectedPeer: PublicKey? = nil) {
        let start = state.withLock { s -> Bool in
            guard !s.registry.shuttingDown else { return false }
            if persistent { return s.persistent.insert(address).inserted }
            return true
        }
        guard start else { return }
        spawn { [self] in await dialLoop(address: address, persistent: persistent, expectedPeer: expectedPeer) }
    }

    /// Queues `frame` for `peer`. Dropped (and logged) when there is no session;
    /// a peer whose queue outgrows `maxQueuedBytesPerPeer` is disconnected.
    public func send(_ frame: [UInt8], to peer: PublicKey) {
        guard let connection = state.withLock({ $0.registry.session(with: peer) }) else {
            logger.debug("no session: frame dropped", metadata: ["peer": "\(peer)", "bytes": "\(frame.count)"])
            return
        }
        guard frame.count <= config.maxFrameBytes else {
            logger.error("frame over the limit not sent", metadata: ["peer": "\(peer)", "bytes": "\(frame.count)"])
            return
        }
        switch connection.outbox.enqueue(.frame(frame)) {
        case .queued, .closed:
            break
        case .overLimit:
            let reason = "send queue over \(config.maxQueuedBytesPerPeer) bytes: peer reads too slowly"
            logger.warning("disconnecting slow peer", metadata: ["peer": "\(peer)", "reason": "\(reason)"])
            connection.close(reason: reason)
        }
    }

    public func disconnect(_ peer: PublicKey, reason: String) {
        state.withLock { $0.registry.session(with: peer) }?.close(reason: reason)
    }

    public var connectedPeers: [PeerInfo] {
        get async {
            state.withLock { Array($0.registry.sessions.values) }.compactMap(\.info).sorted { $0.key < $1.key }
        }
    }

    /// Stops listening and dialling, lets queued frames drain for up to
    /// `shutdownGrace`, then closes every connection and waits for its tasks.
    public func shutdown() async {
        let (listeners, connections) = state.withLock { s -> ([any Channel], [Connection]) in
            s.registry.shuttingDown = true
            s.persistent.removeAll()
            return (s.listeners, Array(s.registry.connections.values))
        }
        for listener in listeners { try? await listener.close() }
        for connection in connections { connection.finish(reason: "shutting down") }
        let tasks = state.withLock { Array($0.tasks.values) }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { for task in tasks { await task.value } }
            group.addTask { [config] in try? await Task.sleep(for: config.shutdownGrace) }
            await group.next()
            group.cancelAll()
        }
        for connection in state.withLock({ Array($0.registry.connections.values) }) {
            connection.close(reason: "shutting down")
        }
        // Tasks started meanwhile (accepted just before the listener closed) end too.
        while let remaining = state.withLock({ $0.tasks.isEmpty ? nil : Array($0.tasks.values) }) {
            for task in remaining { await task.value }
        }
        logger.info("transport shut down")
    }

    // MARK: - Internals shared by the accept loop, dialer and connections

    /// Half-closure lets a finishing writer flush before the socket closes.
    static let channelConfiguration = NIOAsyncChannel<ByteBuffer, ByteBuffer>.Configuration(isOutboundHalfClosureEnabled: true)

    static let receiveAllocator = AdaptiveRecvByteBufferAllocator(minimum: 1024, initial: 64 << 10, maximum: 1 << 20)

    var isShuttingDown: Bool { state.withLock { $0.registry.shuttingDown } }

    /// Runs `body` as a tracked task, so that `shutdown` can wait for it.
    func spawn(_ body: @escaping @Sendable () async -> Void) {
        state.withLock { s in
            let id = s.registry.makeID()
            s.tasks[id] = Task { [self] in
                await body()
                _ = state.withLock { $0.tasks.removeValue(forKey: id) }
            }
        }
    }

    /// A new connection, if the cap leaves room for it.
    func reserve(outbound: Bool, address: String, channel: any Channel) -> Connection? {
        state.withLock { s in
            guard s.registry.hasRoom(cap: config.maxConnections) else { return nil }
            let connection = Connection(id: s.registry.makeID(), outbound: outbound, address: address, channel: channel,
                                        maxQueuedBytes: config.maxQueuedBytesPerPeer)
            s.registry.add(connection)
            return connection
        }
    }

    func hasRoom() -> Bool { state.withLock { $0.registry.hasRoom(cap: config.maxConnections) } }

    func admit(_ connection: Connection, peer: PublicKey, session: Hash) -> Registry.Admission {
        connection.established(peer: peer, session: session)
        return state.withLock { $0.registry.admit(connection, peer: peer, session: session, local: identity.publicKey) }
    }

    func release(_ connection: Connection) {
        state.withLock { $0.registry.remove(connection) }
    }

    func currentSession(with peer: PublicKey) -> Connection? {
        state.withLock { $0.registry.session(with: peer) }
    }

    func isPersistent(_ address: String) -> Bool { state.withLock { $0.persistent.contains(address) } }
}

/// Errors of the transport's own API (connection failures are reported to the delegate).
public enum TransportError: Error, Hashable, Sendable {
    case shuttingDown
    case invalidAddress(String)
}
