import SheafProtocol
import SheafRandom

/// A host's handle on the simulation, bound to one node and one
/// incarnation of it: after a crash, a handle from before does nothing
/// (sends are dropped; timers, connects and metrics ignored), so stale
/// callbacks cannot act for the restarted node.
@MainActor public struct SimIO {
    private unowned let simulation: Simulation
    private let index: Int
    private let epoch: UInt32

    init(simulation: Simulation, node: Int, epoch: UInt32) {
        self.simulation = simulation
        index = node
        self.epoch = epoch
    }

    public var node: SimNodeID { SimNodeID(index) }
    public var now: NodeTime { simulation.now }

    /// Whether this handle still speaks for a running node.
    public var isCurrent: Bool {
        simulation.nodes[index].alive && simulation.nodes[index].epoch == epoch
    }

    /// Sends `bytes` on the connection to `peer`. Returns false, and counts
    /// a drop, if there is no open connection.
    @discardableResult
    public func send(to peer: SimNodeID, _ bytes: [UInt8]) -> Bool {
        guard isCurrent else { return false }
        guard simulation.nodes.indices.contains(peer.index) else {
            simulation.nodes[index].stats.droppedNoConnection += 1
            return false
        }
        return simulation.send(from: index, to: peer.index, bytes: bytes)
    }

    /// Opens a connection; `connected` or `connectFailed` follows.
    public func connect(to peer: SimNodeID) {
        guard isCurrent, simulation.nodes.indices.contains(peer.index) else { return }
        simulation.connect(from: index, to: peer.index)
    }

    /// Closes the connection to `peer` (or abandons connecting to it). This
    /// node gets no callback; the peer gets `disconnected` after the
    /// messages sent before.
    public func disconnect(from peer: SimNodeID) {
        guard isCurrent, simulation.nodes.indices.contains(peer.index) else { return }
        simulation.disconnect(from: index, peer: peer.index)
    }

    /// The peers this node has an open connection to.
    public var connectedPeers: [SimNodeID] { simulation.connections(of: node) }

    /// Calls `timerFired(token)` after `delay`. Timers do not survive a crash.
    public func schedule(after delay: Duration, token: UInt64) {
        guard isCurrent else { return }
        let generation = simulation.nodes[index].timerGenerations[token] ?? 0
        simulation.schedule(.timer(node: index, epoch: epoch, token: token, generation: generation),
                            at: simulation.now.nanoseconds &+ delay.nanoseconds)
    }

    /// Cancels every pending timer with `token`.
    public func cancelTimers(token: UInt64) {
        guard isCurrent else { return }
        simulation.nodes[index].timerGenerations[token, default: 0] &+= 1
    }

    /// Draws from the simulation's one generator, so the host's choices are
    /// part of what the seed reproduces.
    public func random<T, E: Error>(_ body: (inout SplitMix64) throws(E) -> T) throws(E) -> T {
        try body(&simulation.rng)
    }

    /// Appends a sample at the current time to this node's series `metric`.
    public func record(metric: String, value: Double) {
        guard isCurrent else { return }
        let time = simulation.now
        simulation.nodes[index].metrics[metric, default: []].append(SimSample(time: time, value: value))
        simulation.trace.record(time.nanoseconds, .metric, node: index, peer: metric.utf8.count, value: value.bitPattern)
        simulation.trace.append(Array(metric.utf8))
    }
}
