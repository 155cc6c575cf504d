import Logging
import SheafControl
import SheafCrypto
import SheafFeeds
import SheafFiles
import SheafModels
import SheafNode
import SheafProtocol
import SheafMetrics
import SheafReplica
import SheafSnapshots
import SheafTransport

/// One node at run time: owns the protocol core (through `NodeHost`) and
/// its replicas, and turns the core's effects into I/O: frames onto the
/// encrypted transport, timers onto tasks, events into logs and metrics.
///
/// Every use of the host runs in `exclusive`, one at a time and to the end,
/// because the host awaits its replicas in the middle of handling an input:
/// without it, a frame arriving during an ingest would interleave with it.
/// A connection reads (and decrypts) at most one frame ahead of the one
/// being handled, so a busy node slows its senders instead of buffering
/// without bound.
public actor PeerRuntime: TransportDelegate {
    public nonisolated let identity: KeyPair
    public nonisolated let data: DataDirectory
    public nonisolated let config: DaemonConfig
    public nonisolated let metrics: PeerMetrics
    let logger: Logger
    let host: NodeHost<ObjectStore>
    var transport: Transport?
    let clock = ContinuousClock()
    let started: ContinuousClock.Instant
    var listenAddress = ""
    var spaces: [DiscoveryKey: SpaceEntry] = [:]
    /// Where each connected peer was reached (or came from).
    var endpoints: [PublicKey: String] = [:]
    /// Addresses the core asked to dial, to report failures back to it.
    var dialing: [String: PeerAddress] = [:]
    var joinAddresses: Set<String> = []
    var timers: [UInt64: (timer: NodeTimer, task: Task<Void, Never>)] = [:]
    var nextToken: UInt64 = 1
    var housekeeping: Task<Void, Never>?
    var busy = false
    var waiters: [CheckedContinuation<Void, Never>] = []
    var stopping = false
    /// The host's counters when the metrics last took them.
    var countedStats = HostStats()

    struct SpaceEntry {
        var record: SpaceRecord
        let replica: Replica<ObjectStore>
        var bootstrap: BootstrapTracker?
        /// The state root and object count at a stored entry count: status
        /// polls must not rebuild the root when nothing changed.
        var summary: (entries: UInt64, root: String, objects: Int)?
        /// A summary being built, so a poll arriving meanwhile waits for it
        /// instead of building the same one again.
        var summarizing: (entries: UInt64, task: Task<(root: String, objects: Int), Error>)?
    }

    public init(data: DataDirectory, config: DaemonConfig, logger: Logger, metrics: PeerMetrics = PeerMetrics()) throws(DaemonError) {
        try config.validate()
        identity = try data.loadIdentity()
        self.data = data
        self.config = config
        self.logger = logger
        self.metrics = metrics
        var nodeConfig = NodeConfig()
        nodeConfig.listenEndpoint = config.advertise ?? config.listen
        host = NodeHost(identity: identity, config: nodeConfig, seed: UInt64.random(in: .min ... .max))
        started = clock.now
    }

    var now: NodeTime { NodeTime(nanoseconds: (clock.now - started).nanoseconds) }

    // MARK: Life cycle

    /// Listens, opens every stored space, and dials the `join` peers.
    public func start() async throws(DaemonError) {
        guard let listen = HostPort(config.listen) else { throw DaemonError("listen address \"\(config.listen)\" is not host:port") }
        var transportConfig = TransportConfig()
        transportConfig.maxConnections = config.maxConnections
        let transport = Transport(identity: identity, config: transportConfig, logger: logger, delegate: self)
        self.transport = transport
        do {
            let bound = try await transport.listen(host: listen.host, port: listen.port)
            listenAddress = HostPort(host: bound.host, port: bound.port).description
        } catch {
            throw DaemonError("cannot listen on \(config.listen): \(error)", hint: "pick a free port with --listen HOST:PORT (port 0 picks one)")
        }
        // With port 0 the real port is known only now: that is what peers are told.
        if config.advertise == nil, listen.port == 0 { host.setListenEndpoint(listenAddress) }
        logger.info("listening", metadata: ["address": "\(listenAddress)", "node": "\(identity.publicKey.hex)"])
        // Audits finish later; their outcome is fed in like a frame.
        host.reportLater = { [weak self] inputs in
            for input in inputs { await self?.feed(input) }
        }
        host.auditWhenIdle = { [weak self] key in await self?.waitUntilIdle(key) }
        // Only ever called from inside `withHost`, on this actor.
        host.drainOutbox = { [weak self] in await self?.flush() }
        await withHost { host.start() }
        for space in try data.storedSpaces() {
            do { try await openStored(space) } catch {
                logger.error("cannot open space", metadata: ["space": "\(space.hex)", "error": "\(error)"])
            }
        }
        for address in config.join {
            joinAddresses.insert(address)
            transport.connect(to: address, persistent: true)
        }
        housekeeping = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                guard let self else { return }
                await self.tick()
            }
        }
    }

    /// Stops timers, remembers peers, closes every space and connection.
    public func shutdown() async {
        guard !stopping else { return }
        stopping = true
        housekeeping?.cancel()
        for (_, entry) in timers { entry.task.cancel() }
        timers = [:]
        // Closing sends the overlay's leave messages; the transport flushes them below.
        await withHost {
            for key in spaces.keys.sorted() {
                guard var entry = spaces[key] else { continue }
                entry.record.remember(host.core.knownPeers(of: key))
                try? entry.record.write(data.spaceRecordFile(entry.replica.space))
                await host.close(key)
                await entry.replica.close()
            }
            spaces = [:]
        }
        await transport?.shutdown()
        logger.info("stopped")
    }

    // MARK: Serializing the host

    /// Runs `body` with the host to itself; waits for any other user first.
    func exclusive<T, E: Error>(_ body: () async throws(E) -> T) async throws(E) -> T {
        while busy { await withCheckedContinuation { waiters.append($0) } }
        busy = true
        defer {
            busy = false
            if !waiters.isEmpty { waiters.removeFirst().resume() }
        }
        return try await body()
    }

    /// Runs `body` with the host to itself at the current time, then
    /// carries out the network effects it left.
    func withHost<T, E: Error>(_ body: () async throws(E) -> T) async throws(E) -> T {
        try await exclusive { () async throws(E) -> T in
            host.now = now
            defer { flush() }
            return try await body()
        }
    }

    /// Feeds one input to the host and carries out its network effects.
    func feed(_ input: NodeInput) async {
        guard !stopping else { return }
        await withHost { await host.handle(input) }
        if case .received = input { summarizeCaughtUp() }
    }

    /// A space whose catch-up just ended has its root summarised at once, so
    /// the first status after it answers without rebuilding it.
    private func summarizeCaughtUp() {
        for (key, entry) in spaces where entry.bootstrap?.phase == .catchingUp {
            let stored = followBootstrap(key)
            guard spaces[key]?.bootstrap?.phase == .live else { continue }
            let replica = entry.replica
            Task { _ = try? await self.summary(of: key, replica: replica, entries: stored.entryCount) }
        }
    }

    /// Carries out what the host left for the network. Call inside `exclusive`.
    func flush() {
        for output in host.takeOutbox() {
            switch output {
            case .send(let peer, let frame):
                transport?.send(frame, to: peer)
            case .connect(let address):
                guard !address.endpoint.isEmpty else {
                    Task { await self.feed(.connectFailed(address)) }
                    continue
                }
                dialing[address.endpoint] = address
                transport?.connect(to: address.endpoint, persistent: false)
            case .disconnect(let peer, let reason):
                logger.info("disconnecting", metadata: ["peer": "\(peer.hex.prefix(16))", "reason": "\(reason)"])
                transport?.disconnect(peer, reason: reason)
            case .schedule(let timer, let delay):
                schedule(timer, after: delay)
            case .event(let event):
                observe(event)
            default:
                continue
            }
        }
    }

    private func schedule(_ timer: NodeTimer, after delay: Duration) {
        guard !stopping else { return }
        let token = nextToken
        nextToken += 1
        let task = Task { [weak self] in
            try? await Task.sleep(for: delay)
            guard !Task.isCancelled else { return }
            await self?.fire(token)
        }
        timers[token] = (timer, task)
    }

    private func fire(_ token: UInt64) async {
        guard let entry = timers.removeValue(forKey: token) else { return }
        await feed(.timerFired(entry.timer))
    }

    /// Once a second: offer snapshots the replicas took by policy, follow
    /// bootstraps, bring the metrics up to date.
    private func tick() async {
        guard !stopping else { return }
        await withHost {
            for key in spaces.keys.sorted() { await host.refreshSnapshots(in: key) }
        }
        for key in spaces.keys { followBootstrap(key) }
        updateMetrics()
    }

    /// Tells a joining space's tracker what the core stores and has seen
    /// offered; returns the stored frontier.
    @discardableResult
    func followBootstrap(_ key: DiscoveryKey) -> Frontier {
        let stored = host.storedFrontier(of: key) ?? Frontier()
        spaces[key]?.bootstrap?.update(stored: stored.entryCount, known: host.core.knownEntries(of: key), at: now)
        return stored
    }

    /// Takes the host's counters since the last call into the metrics.
    func updateMetrics() {
        metrics.record(host.stats, since: countedStats)
        countedStats = host.stats
        metrics.connections(host.core.connectedPeers.count)
        metrics.neighbours(spaces.keys.reduce(0) { $0 + host.core.neighbours(of: $1).count })
    }

    // MARK: Transport events

    public func transportConnected(peer: PublicKey, session: Hash, outbound: Bool, address: String) async {
        endpoints[peer] = address
        dialing[address] = nil
        logger.info("connected", metadata: ["peer": "\(peer.hex.prefix(16))", "address": "\(address)", "outbound": "\(outbound)"])
        await feed(.connected(node: peer, session: session, outbound: outbound))
        // A --join peer: every space may join through it.
        if outbound, joinAddresses.contains(address) { await feed(.contactsAdded([PeerAddress(node: peer, endpoint: address)])) }
    }

    public func transportDisconnected(peer: PublicKey, reason: String) async {
        endpoints[peer] = nil
        logger.info("disconnected", metadata: ["peer": "\(peer.hex.prefix(16))", "reason": "\(reason)"])
        await feed(.disconnected(node: peer))
    }

    public func transportConnectFailed(address: String, reason: String) async {
        logger.debug("connect failed", metadata: ["address": "\(address)", "reason": "\(reason)"])
        guard let peer = dialing.removeValue(forKey: address) else { return }
        await feed(.connectFailed(peer))
    }

    /// Snapshot chunks are checked as they arrive, while the node handles
    /// earlier frames; the core's own check then finds the result.
    nonisolated public func transportArriving(frame: [UInt8], from peer: PublicKey) {
        guard let chunk = WireCodec.snapshotChunk(in: frame) else { return }
        SnapshotReader.precheck(chunk.compressed, id: chunk.id)
    }

    public func transportReceived(frame: [UInt8], from peer: PublicKey) async {
        await feed(.received(from: peer, frame: frame))
    }
}
