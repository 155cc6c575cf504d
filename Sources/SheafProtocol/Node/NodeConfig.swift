/// Which snapshots a node may install when it joins a space.
public enum TrustPolicy: Hashable, Sendable, CustomStringConvertible {
    /// A manifest signed by the space's genesis key or by an admitted writer.
    case member
    /// `k` distinct members attest the same state root at the same frontier
    /// (the manifest's signer counts as one).
    case quorum(Int)
    /// No snapshots: fetch every feed from the start and replay it.
    case replay

    public var description: String {
        switch self {
        case .member: "member"
        case .quorum(let k): "quorum(\(k))"
        case .replay: "replay"
        }
    }

    /// Parses `member`, `replay`, `quorum(k)` or `quorum:k`.
    public init?(_ text: String) {
        switch text {
        case "member": self = .member
        case "replay": self = .replay
        default:
            let digits = text.drop { !$0.isNumber }.prefix { $0.isNumber }
            guard text.hasPrefix("quorum"), let k = Int(digits), k >= 1 else { return nil }
            self = .quorum(k)
        }
    }
}

/// Tunables of the protocol node. Defaults suit a LAN or the simulator's
/// 50 ms links; every timer is a multiple of the expected round trip.
public struct NodeConfig: Sendable {
    public var overlay = OverlayConfig()
    public var broadcast = BroadcastConfig()
    public var limits = WireLimits.default
    public var scoring = ScoringConfig()
    /// How often a node compares frontiers with one random neighbour.
    public var antiEntropyInterval: Duration = .seconds(1)
    /// One anti-entropy round in this many (on average) also compares
    /// frontiers with a random passive-view peer.
    public var passiveExchangeEvery = 4
    /// After entries arrive by anti-entropy, neighbours hear the new frontier
    /// this much later (batching what arrives meanwhile).
    public var frontierPushDelay: Duration = .milliseconds(100)
    /// How long a request may stay unanswered; a range request gets
    /// `rangeTimeoutPerEntry` more per entry asked for (big answers queue
    /// behind each other on the sender's link).
    public var requestTimeout: Duration = .milliseconds(500)
    public var rangeTimeoutPerEntry: Duration = .microseconds(100)
    /// A request past its timeout whose peer is still answering others (its
    /// answers queue behind others, or this node works through a backlog of them)
    /// is waited for a while longer rather than asked again elsewhere, up to
    /// this long in all: retrying would add duplicates to the very backlog
    /// that made it late.
    public var maxBusyWait: Duration = .seconds(30)
    /// How often the overlay shuffles and refills its active view.
    public var overlayTickInterval: Duration = .seconds(2)
    /// Most entries asked for in one range request.
    public var maxRangeEntries = 8_192
    /// Range requests in flight to one neighbour at once.
    public var rangeWindow = 16
    /// Entries in flight from one neighbour at once (past its first
    /// request): four full ranges. Small ranges (many feeds of a few entries
    /// each, after a partition) fill `rangeWindow`; large ones stop here, so
    /// answers do not queue on the sender's link past their timeouts.
    public var rangeWindowEntries = 4 * 8_192
    /// Chunk requests in flight to one neighbour at once (snapshot chunks are
    /// a few KB: 512 fill a 10 MB/s link with a 100 ms round trip), and per
    /// request message.
    public var chunkWindow = 512
    public var chunksPerRequest = 64
    /// How long a requested chunk may take before it is asked of someone
    /// else; how long a snapshot stream may pause before its chunks are.
    public var chunkTimeout: Duration = .seconds(5)
    /// A node streams a whole snapshot to one peer at most this often; a
    /// `requestSnapshot` sooner is answered like `requestOffers`.
    public var streamCooldown: Duration = .seconds(60)
    /// Messages queued for a peer whose session or channel is not ready yet.
    public var maxQueuedPerPeer = 1_024
    /// Whether nodes holding history re-derive the state roots of snapshots
    /// they are offered, and attest or denounce them.
    public var auditSnapshots = true
    /// The address this node tells peers to reach it at.
    public var listenEndpoint = ""

    public init() {}
}
