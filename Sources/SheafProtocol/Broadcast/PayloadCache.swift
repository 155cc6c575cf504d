/// How an item first reached this node: what tree maintenance needs to judge
/// later copies, and the round to pass it on with.
struct FirstCopy<Peer: Hashable & Sendable>: Hashable, Sendable {
    /// The neighbour it came from; nil if published here.
    var from: Peer?
    /// The round this node sends it with.
    var round: UInt16
}

/// Recent items: their payloads, to answer grafts without a storage read,
/// and how they came. Bounded by bytes; the oldest go first. Grafts and
/// duplicates come within a second or two of an item's broadcast, so
/// recency is all that matters.
struct PayloadCache<Peer: Hashable & Sendable>: Sendable {
    struct Item: Hashable, Sendable {
        var payload: BroadcastPayload
        var first: FirstCopy<Peer>
    }

    /// Bookkeeping charged per item on top of its range bytes.
    static var overheadBytes: Int { 64 }

    let capacityBytes: Int
    private(set) var bytes = 0
    private var items: [BroadcastID: Item] = [:]
    private var order = FIFO<BroadcastID>()

    init(capacityBytes: Int) { self.capacityBytes = max(0, capacityBytes) }

    var count: Int { items.count }

    subscript(id: BroadcastID) -> Item? { items[id] }

    /// Caches `item` unless it alone is larger than the whole cache.
    mutating func insert(_ id: BroadcastID, _ item: Item) {
        let cost = Self.cost(item)
        guard cost <= capacityBytes, items[id] == nil else { return }
        items[id] = item
        order.push(id)
        bytes += cost
        while bytes > capacityBytes, let oldest = order.popFirst() {
            if let gone = items.removeValue(forKey: oldest) { bytes -= Self.cost(gone) }
        }
    }

    private static func cost(_ item: Item) -> Int { item.payload.range.count + overheadBytes }
}
