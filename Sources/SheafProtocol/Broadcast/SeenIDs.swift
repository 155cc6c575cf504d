/// The ids this node has received, so that a second copy is recognised as a
/// duplicate. Bounded: when full, the oldest id is forgotten, and a copy of
/// it arriving later counts as new again (the replica ignores entries it
/// already holds, so that costs a little bandwidth, never correctness).
struct SeenIDs: Sendable {
    let capacity: Int
    private var members: Set<BroadcastID> = []
    private var order = FIFO<BroadcastID>()

    init(capacity: Int) { self.capacity = max(1, capacity) }

    var count: Int { members.count }

    func contains(_ id: BroadcastID) -> Bool { members.contains(id) }

    /// Remembers `id`; returns the id forgotten to make room for it, if any.
    mutating func insert(_ id: BroadcastID) -> BroadcastID? {
        guard members.insert(id).inserted else { return nil }
        order.push(id)
        guard members.count > capacity, let oldest = order.popFirst() else { return nil }
        members.remove(oldest)
        return oldest
    }
}
