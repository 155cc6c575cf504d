/// Timing and memory bounds of Plumtree broadcast for one space.
public struct BroadcastConfig: Hashable, Sendable {
    /// How long after the first announcement of a missing item to wait for
    /// the eager tree to deliver it before grafting an announcer. Keep it
    /// well above the time an item takes to cross the tree (its diameter
    /// times the per-hop latency): where the two come close, slow deliveries
    /// turn into grafts, and while broadcasts overlap the tree keeps being
    /// rebuilt (see docs/BROADCAST.md).
    public var ihaveTimeout: Duration
    /// How long to wait on one grafted announcer before trying the next.
    public var graftTimeout: Duration
    /// Lazy announcements are batched per neighbour and flushed this often.
    public var announceInterval: Duration
    /// Announcements per `ihave` message (sent and accepted).
    public var maxAnnouncementsPerMessage: Int
    /// Ids remembered to recognise duplicates; the oldest are forgotten first.
    public var seenCapacity: Int
    /// Bytes of recent payloads kept to answer grafts from memory.
    public var payloadCacheBytes: Int
    /// Announcers remembered per missing item.
    public var maxAnnouncersPerItem: Int
    /// Missing items tracked at once; the oldest are dropped first and left
    /// to anti-entropy.
    public var maxMissingItems: Int

    public init(
        ihaveTimeout: Duration = .milliseconds(400),
        graftTimeout: Duration = .milliseconds(200),
        announceInterval: Duration = .milliseconds(50),
        maxAnnouncementsPerMessage: Int = 256,
        seenCapacity: Int = 65_536,
        payloadCacheBytes: Int = 8 << 20,
        maxAnnouncersPerItem: Int = 8,
        maxMissingItems: Int = 4_096
    ) {
        self.ihaveTimeout = ihaveTimeout
        self.graftTimeout = graftTimeout
        self.announceInterval = announceInterval
        self.maxAnnouncementsPerMessage = maxAnnouncementsPerMessage
        self.seenCapacity = seenCapacity
        self.payloadCacheBytes = payloadCacheBytes
        self.maxAnnouncersPerItem = maxAnnouncersPerItem
        self.maxMissingItems = maxMissingItems
    }
}
