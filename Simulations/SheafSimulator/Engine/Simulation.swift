import Glibc
import SheafCrypto
import SheafProtocol
import SheafRandom

/// How a run ended.
public enum SimRunStatus: Hashable, Sendable {
    /// The requested virtual time was reached.
    case reachedTime
    /// No events were left.
    case quiet
    /// The `stopWhen` condition held.
    case stopped
    /// `maxEvents` were processed: the run is probably a livelock.
    case eventLimit
}

/// A deterministic discrete-event network: hosts exchange opaque byte
/// messages over connections with latency, bandwidth, loss, duplication,
/// reordering, partitions and crashes, all driven by one virtual clock and
/// one seeded generator. The same seed and hosts reproduce a run exactly,
/// which `traceHash` certifies.
@MainActor public final class Simulation {
    public struct Configuration: Sendable {
        public var seed: UInt64
        /// The profile of every directed link without an override.
        public var link: LinkProfile
        /// Each node's uplink and downlink, in bytes per second.
        public var bandwidth: Int
        /// Bytes every message costs on the links beyond its payload (headers).
        public var messageOverhead: Int
        /// How long a failed `connect` takes to report.
        public var connectTimeout: Duration
        /// How long a crash takes to be noticed by the peers; nil means
        /// twice a latency sample of the link.
        public var failureDetectionDelay: Duration?
        /// Runaway guard over the simulation's lifetime.
        public var maxEvents: Int

        public init(
            seed: UInt64,
            link: LinkProfile = LinkProfile(),
            bandwidth: Int = 10_000_000,
            messageOverhead: Int = 40,
            connectTimeout: Duration = .seconds(1),
            failureDetectionDelay: Duration? = nil,
            maxEvents: Int = 100_000_000
        ) {
            self.seed = seed
            self.link = link
            self.bandwidth = bandwidth
            self.messageOverhead = messageOverhead
            self.connectTimeout = connectTimeout
            self.failureDetectionDelay = failureDetectionDelay
            self.maxEvents = maxEvents
        }
    }

    public let configuration: Configuration
    /// The virtual clock.
    public internal(set) var now = NodeTime.zero
    /// The one generator behind every random choice of the run.
    var rng: SplitMix64
    var nodes: [NodeState] = []
    var queue = EventQueue<SimEvent>()
    var partitions = PartitionTable()
    var linkOverrides: [DirectedPair: LinkProfile] = [:]
    let trace = TraceRecorder()
    var eventsProcessed = 0
    private var wallSeconds = 0.0
    private var cpuSeconds = 0.0
    private var running = false
    private var nextConnection: UInt64 = 1

    public init(_ configuration: Configuration) {
        precondition(configuration.bandwidth > 0, "bandwidth must be positive")
        self.configuration = configuration
        rng = SplitMix64(seed: configuration.seed)
    }

    public convenience init(seed: UInt64) { self.init(Configuration(seed: seed)) }

    // MARK: Nodes and links

    /// Adds a node; its host's `start` runs at `startAt` (default: now).
    @discardableResult
    public func addNode(_ host: some SimHost, startAt: NodeTime? = nil) -> SimNodeID {
        let index = nodes.count
        nodes.append(NodeState(host: host, rate: UInt64(configuration.bandwidth)))
        schedule(.start(node: index, epoch: 0), at: max(startAt ?? now, now).nanoseconds)
        return SimNodeID(index)
    }

    public var nodeIDs: [SimNodeID] { nodes.indices.map(SimNodeID.init) }

    public func isAlive(_ node: SimNodeID) -> Bool {
        nodes.indices.contains(node.index) && nodes[node.index].alive
    }

    /// The peers `node` has an open connection to, as it sees them.
    public func connections(of node: SimNodeID) -> [SimNodeID] {
        guard nodes.indices.contains(node.index) else { return [] }
        return nodes[node.index].links.keys.sorted().map(SimNodeID.init)
    }

    public func isConnected(_ a: SimNodeID, _ b: SimNodeID) -> Bool {
        nodes.indices.contains(a.index) && nodes[a.index].links[b.index] != nil
    }

    /// Overrides the profile of the link from `from` to `to` only.
    public func setLink(from: SimNodeID, to: SimNodeID, _ profile: LinkProfile) {
        linkOverrides[DirectedPair(from: from.index, to: to.index)] = profile
    }

    /// Overrides both directions between `a` and `b`.
    public func setLink(between a: SimNodeID, and b: SimNodeID, _ profile: LinkProfile) {
        setLink(from: a, to: b, profile)
        setLink(from: b, to: a, profile)
    }

    /// Gives one node its own uplink and downlink rates (bytes per second).
    public func setBandwidth(_ node: SimNodeID, uplink: Int, downlink: Int) {
        precondition(uplink > 0 && downlink > 0, "bandwidth must be positive")
        guard nodes.indices.contains(node.index) else { return }
        nodes[node.index].uplinkRate = UInt64(uplink)
        nodes[node.index].downlinkRate = UInt64(downlink)
    }

    func profile(from: Int, to: Int) -> LinkProfile {
        linkOverrides.isEmpty ? configuration.link : linkOverrides[DirectedPair(from: from, to: to)] ?? configuration.link
    }

    func makeConnectionID() -> UInt64 {
        defer { nextConnection += 1 }
        return nextConnection
    }

    // MARK: Scheduling

    /// Runs `fault` at virtual time `time` (now, if that has passed).
    public func at(_ time: NodeTime, _ fault: SimFault) {
        schedule(.fault(fault), at: max(time, now).nanoseconds)
    }

    /// Runs `action` at virtual time `time` (now, if that has passed), as
    /// one event of the loop.
    public func at(_ time: NodeTime, perform action: @escaping @MainActor (Simulation) async -> Void) {
        schedule(.action(action), at: max(time, now).nanoseconds)
    }

    func schedule(_ event: SimEvent, at time: UInt64) {
        queue.push(event, at: time)
    }

    func io(_ node: Int) -> SimIO {
        SimIO(simulation: self, node: node, epoch: nodes[node].epoch)
    }

    /// Draws from the simulation's one generator (for scenario set-up and actions).
    public func random<T>(_ body: (inout SplitMix64) -> T) -> T { body(&rng) }

    /// A handle to act as `node` now (for scenario actions such as local writes).
    public func io(for node: SimNodeID) -> SimIO { io(node.index) }

    // MARK: Running

    /// Processes events up to and including `end`, then sets the clock to
    /// `end`. Returns early if `stopWhen` holds (checked before every
    /// event) or the event limit is reached.
    @discardableResult
    public func run(until end: NodeTime, stopWhen: (() -> Bool)? = nil) async -> SimRunStatus {
        let status = await loop(until: end.nanoseconds, stopWhen: stopWhen)
        switch status {
        case .quiet, .reachedTime:
            now = max(now, end)
            return .reachedTime
        case .stopped, .eventLimit:
            return status
        }
    }

    /// Processes events until none are left (`.quiet`, the clock stays at
    /// the last event) or the next one lies beyond `maxTime` (`.reachedTime`).
    @discardableResult
    public func runUntilQuiet(maxTime: NodeTime) async -> SimRunStatus {
        let status = await loop(until: maxTime.nanoseconds, stopWhen: nil)
        if status == .reachedTime { now = max(now, maxTime) }
        return status
    }

    private func loop(until end: UInt64, stopWhen: (() -> Bool)?) async -> SimRunStatus {
        precondition(!running, "Simulation.run is not reentrant")
        running = true
        let started = ContinuousClock.now
        let cpuStarted = Self.processCPUSeconds()
        defer {
            running = false
            wallSeconds += (ContinuousClock.now - started).seconds
            cpuSeconds += Self.processCPUSeconds() - cpuStarted
        }
        return await withTaskExecutorPreference(MainQueueExecutor.shared) {
            while true {
                if let stopWhen, stopWhen() { return .stopped }
                guard let time = queue.nextTime else { return .quiet }
                guard time <= end else { return .reachedTime }
                guard eventsProcessed < configuration.maxEvents else { return .eventLimit }
                guard let entry = queue.pop() else { return .quiet }
                now = NodeTime(nanoseconds: entry.time)
                eventsProcessed += 1
                // The common events go straight to their host from here: each
                // async layer between costs an executor check on the way in
                // and out, and arrivals (a third of all events) reach no host.
                switch entry.payload {
                case .arrive(let packet):
                    arrive(packet)
                case .deliver(let packet) where !packet.isClose:
                    if passes(packet) { await receiver(of: packet).received(packet.bytes, from: SimNodeID(packet.from), io(packet.to)) }
                case .timer(let node, let epoch, let token, let generation):
                    if let host = timerHost(node, epoch: epoch, token: token, generation: generation) { await host.timerFired(token, io(node)) }
                case let event:
                    await process(event)
                }
            }
        }
    }

    /// The host a timer fires on, if it is still armed (and records it).
    private func timerHost(_ node: Int, epoch: UInt32, token: UInt64, generation: UInt32) -> (any SimHost)? {
        guard nodes[node].alive, nodes[node].epoch == epoch, nodes[node].timerGenerations[token] ?? 0 == generation else { return nil }
        trace.record(now.nanoseconds, .timer, node: node, value: token)
        nodes[node].stats.eventsProcessed += 1
        return nodes[node].host
    }

    private func process(_ event: SimEvent) async {
        let time = now.nanoseconds
        switch event {
        case .start(let node, let epoch):
            guard nodes[node].alive, nodes[node].epoch == epoch else { return }
            trace.record(time, .start, node: node)
            nodes[node].stats.eventsProcessed += 1
            await nodes[node].host.start(io(node))
        case .timer(let node, let epoch, let token, let generation):
            if let host = timerHost(node, epoch: epoch, token: token, generation: generation) { await host.timerFired(token, io(node)) }
        case .arrive(let packet):
            arrive(packet)
        case .deliver(let packet):
            await deliver(packet)
        case .handshake(let from, let to, let epoch, let deadline):
            await completeHandshake(from: from, to: to, epoch: epoch, deadline: deadline)
        case .connectFailed(let from, let to, let epoch):
            guard nodes[from].alive, nodes[from].epoch == epoch,
                  nodes[from].pendingConnects.remove(to) != nil else { return }
            trace.record(time, .connectFailed, node: from, peer: to)
            nodes[from].stats.eventsProcessed += 1
            await nodes[from].host.connectFailed(to: SimNodeID(to), io(from))
        case .peerLost(let node, let peer, let connection):
            await closeEnd(of: node, toward: peer, connection: connection)
        case .fault(let fault):
            await apply(fault)
        case .action(let action):
            trace.record(time, .action, node: -1)
            await action(self)
        }
    }

    // MARK: Results

    /// The hash of every event processed so far. Equal seeds and hosts give
    /// equal hashes; any difference in behaviour changes it.
    public var traceHash: Hash { trace.digest }

    public var stats: SimStats {
        let perNode = nodes.map(\.stats)
        return SimStats(
            nodes: perNode,
            total: perNode.reduce(SimNodeStats(), +),
            eventsProcessed: eventsProcessed,
            simSeconds: now.seconds,
            wallSeconds: wallSeconds,
            cpuSeconds: cpuSeconds)
    }

    /// Processor time this process has used, all threads.
    static func processCPUSeconds() -> Double {
        var spec = timespec()
        guard clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &spec) == 0 else { return 0 }
        return Double(spec.tv_sec) + Double(spec.tv_nsec) * 1e-9
    }

    /// Events waiting in the queue.
    public var pendingEvents: Int { queue.count }

    /// One node's samples of `metric`, in recording order.
    public func samples(_ metric: String, of node: SimNodeID) -> [SimSample] {
        guard nodes.indices.contains(node.index) else { return [] }
        return nodes[node.index].metrics[metric] ?? []
    }
}

/// A link direction, for per-pair overrides.
struct DirectedPair: Hashable {
    let from: Int
    let to: Int
}
