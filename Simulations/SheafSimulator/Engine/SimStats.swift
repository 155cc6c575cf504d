import SheafProtocol

/// Traffic and work of one node (or, summed, of the whole network).
/// Dropped and duplicated messages count against their sender.
public struct SimNodeStats: Hashable, Sendable {
    /// Messages that went onto a connection, and their payload bytes.
    public var messagesSent = 0
    public var bytesSent = 0
    /// Messages delivered to the host (duplicates included), and their bytes.
    public var messagesReceived = 0
    public var bytesReceived = 0
    /// Lost to the link's loss probability.
    public var droppedByLoss = 0
    /// Blocked by a partition, at sending or on arrival.
    public var droppedByPartition = 0
    /// Sent to a peer with no open connection.
    public var droppedNoConnection = 0
    /// Arrived after the receiver's end had closed (crash, disconnect).
    public var droppedClosed = 0
    public var duplicated = 0
    /// Held back by the reordering fault.
    public var reordered = 0
    /// Events handed to this node's host.
    public var eventsProcessed = 0

    public init() {}

    static func + (a: SimNodeStats, b: SimNodeStats) -> SimNodeStats {
        var sum = a
        sum.messagesSent += b.messagesSent
        sum.bytesSent += b.bytesSent
        sum.messagesReceived += b.messagesReceived
        sum.bytesReceived += b.bytesReceived
        sum.droppedByLoss += b.droppedByLoss
        sum.droppedByPartition += b.droppedByPartition
        sum.droppedNoConnection += b.droppedNoConnection
        sum.droppedClosed += b.droppedClosed
        sum.duplicated += b.duplicated
        sum.reordered += b.reordered
        sum.eventsProcessed += b.eventsProcessed
        return sum
    }
}

/// A run's statistics: per node, summed, and how fast it went.
public struct SimStats: Sendable {
    public var nodes: [SimNodeStats]
    public var total: SimNodeStats
    /// Every event taken off the queue, including inert ones (stale timers).
    public var eventsProcessed: Int
    /// Virtual time covered.
    public var simSeconds: Double
    /// Real time spent inside `run`.
    public var wallSeconds: Double
    /// Processor time (all threads) spent inside `run`: unlike the wall
    /// time, it barely moves when other processes load the machine.
    public var cpuSeconds: Double = 0

    /// Virtual seconds per real second.
    public var speedup: Double { wallSeconds > 0 ? simSeconds / wallSeconds : 0 }
}

/// One point of a per-node time series recorded through `SimIO.record`.
public struct SimSample: Hashable, Sendable {
    public var time: NodeTime
    public var value: Double

    public init(time: NodeTime, value: Double) {
        self.time = time
        self.value = value
    }
}
