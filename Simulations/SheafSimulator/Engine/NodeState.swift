/// One end of an open connection, as the node at that end sees it.
struct LinkEnd {
    let connection: UInt64
    /// The latest first-byte arrival time of an in-order message sent from
    /// this end: later messages never overtake it.
    var lastHead: UInt64 = 0
}

/// Everything the engine keeps about one node.
struct NodeState {
    let host: any SimHost
    var alive = true
    /// Bumped by every crash and restart; events carry the epoch they were
    /// made in and are dropped if it has changed.
    var epoch: UInt32 = 0
    /// Open connections by peer index.
    var links: [Int: LinkEnd] = [:]
    /// Peers this node is trying to connect to.
    var pendingConnects: Set<Int> = []
    /// Bytes per second.
    var uplinkRate: UInt64
    var downlinkRate: UInt64
    /// When each link finishes what is queued on it.
    var uplinkFree: UInt64 = 0
    var downlinkFree: UInt64 = 0
    /// Timers of a token fire only if their generation is still current.
    var timerGenerations: [UInt64: UInt32] = [:]
    var stats = SimNodeStats()
    var metrics: [String: [SimSample]] = [:]

    init(host: any SimHost, rate: UInt64) {
        self.host = host
        uplinkRate = rate
        downlinkRate = rate
    }
}
