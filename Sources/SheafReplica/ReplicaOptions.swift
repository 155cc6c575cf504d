import SheafFiles

/// How a replica stores and snapshots its space.
public struct ReplicaOptions: Sendable {
    /// `.fsync` (default): an append returns once durable.
    public var durability: Durability
    /// Take a snapshot after this many delivered entries (nil: never by count).
    public var snapshotEveryEntries: Int?
    /// Take a snapshot this often while entries arrive (nil: never by time).
    public var snapshotInterval: Duration?
    /// Snapshots kept on disk; older ones and their unshared chunks are deleted.
    public var snapshotsKept: Int
    /// Prune feed entries that every kept snapshot covers.
    public var compactCoveredEntries: Bool
    /// Most entries that may wait for missing dependencies.
    public var maxWaitingEntries: Int
    /// Feed log segment size.
    public var segmentBytes: Int
    /// Wall-clock milliseconds for entry timestamps and snapshot manifests.
    /// The simulator injects its virtual clock here so that runs reproduce.
    public var clock: @Sendable () -> UInt64

    public init(durability: Durability = .fsync, snapshotEveryEntries: Int? = 10_000, snapshotInterval: Duration? = nil,
                snapshotsKept: Int = 2, compactCoveredEntries: Bool = false, maxWaitingEntries: Int = 1 << 20,
                segmentBytes: Int = 16 << 20, clock: @escaping @Sendable () -> UInt64 = Clock.milliseconds) {
        self.durability = durability
        self.snapshotEveryEntries = snapshotEveryEntries
        self.snapshotInterval = snapshotInterval
        self.snapshotsKept = max(1, snapshotsKept)
        self.compactCoveredEntries = compactCoveredEntries
        self.maxWaitingEntries = max(1, maxWaitingEntries)
        self.segmentBytes = segmentBytes
        self.clock = clock
    }
}

/// How a replica came up: which snapshot it loaded (or why none), and how
/// much it replayed.
public struct StartupReport: Sendable, CustomStringConvertible {
    public enum Source: Sendable, Equatable {
        case empty
        case snapshot(id: String, entries: UInt64)
        case fullReplay
    }

    public var source: Source = .empty
    /// Snapshots tried and rejected, newest first, with the reason.
    public var rejected: [(id: String, reason: String)] = []
    /// Entries replayed from the feed logs after the snapshot.
    public var replayed: Int = 0
    /// Torn tails the feed logs cut on open.
    public var recoveries: [String] = []
    /// Time spent loading (and verifying) the snapshot, and replaying after it.
    public var loadDuration: Duration = .zero
    public var replayDuration: Duration = .zero

    public var description: String {
        var parts: [String] = []
        switch source {
        case .empty: parts.append("new space")
        case .snapshot(let id, let entries): parts.append("loaded snapshot \(id.prefix(16)) (\(entries) entries)")
        case .fullReplay: parts.append("no usable snapshot: replayed every feed")
        }
        parts.append("replayed \(replayed) entries")
        parts.append("load \(loadDuration), replay \(replayDuration)")
        for (id, reason) in rejected { parts.append("skipped snapshot \(id.prefix(16)): \(reason)") }
        parts.append(contentsOf: recoveries)
        return parts.joined(separator: "; ")
    }
}
