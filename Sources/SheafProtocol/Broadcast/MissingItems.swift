/// An item this node has heard announced but not received: who announced
/// it, whom it is waiting on, and when its `missing` timer is due.
struct MissingItem<Peer: Hashable & Sendable>: Sendable {
    struct Announcer: Hashable, Sendable {
        var peer: Peer
        var round: UInt16
    }

    /// Every neighbour that announced the item, in arrival order: all of them
    /// hold it. Those before `nextGraft` have been grafted already.
    private(set) var announcers: [Announcer]
    private(set) var nextGraft = 0
    /// The neighbour last grafted, until the item arrives or it times out.
    var awaiting: Peer?
    /// When the pending timer is due; an earlier firing is a stale one.
    var deadline: NodeTime
    /// Tells this entry apart from an earlier one for the same id.
    let serial: UInt64

    init(first: Announcer, deadline: NodeTime, serial: UInt64) {
        announcers = [first]
        self.deadline = deadline
        self.serial = serial
    }

    /// The round the first announcer would have pushed the item with.
    var round: UInt16 { announcers.first?.round ?? 0 }

    var holders: Set<Peer> { Set(announcers.map(\.peer)) }

    mutating func add(_ announcer: Announcer, limit: Int) {
        guard announcers.count < limit, !announcers.contains(where: { $0.peer == announcer.peer }) else { return }
        announcers.append(announcer)
    }

    /// The next announcer to graft, if any is left.
    mutating func takeNext() -> Announcer? {
        guard nextGraft < announcers.count else { return nil }
        defer { nextGraft += 1 }
        return announcers[nextGraft]
    }

    var hasAnnouncersLeft: Bool { nextGraft < announcers.count }

    /// Forgets `peer` as an announcer; false if it was not one.
    @discardableResult
    mutating func remove(_ peer: Peer) -> Bool {
        guard let index = announcers.firstIndex(where: { $0.peer == peer }) else { return false }
        announcers.remove(at: index)
        if index < nextGraft { nextGraft -= 1 }
        if awaiting == peer { awaiting = nil }
        return true
    }
}

/// The items announced but not yet received. Bounded: at most `capacity`
/// items (the oldest is dropped first; anti-entropy still finds it) and
/// `announcerLimit` announcers per item.
struct MissingItems<Peer: Hashable & Sendable>: Sendable {
    let capacity: Int
    let announcerLimit: Int
    private var items: [BroadcastID: MissingItem<Peer>] = [:]
    /// Insertion order; entries removed early stay here until skipped.
    private var order = FIFO<(id: BroadcastID, serial: UInt64)>()
    private var nextSerial: UInt64 = 0

    init(capacity: Int, announcerLimit: Int) {
        self.capacity = max(1, capacity)
        self.announcerLimit = max(1, announcerLimit)
    }

    var count: Int { items.count }

    subscript(id: BroadcastID) -> MissingItem<Peer>? {
        get { items[id] }
        set {
            if let newValue { items[id] = newValue } else { _ = remove(id) }
        }
    }

    /// Ids in the order they were first announced.
    var ids: [BroadcastID] {
        order.elements.compactMap { items[$0.id]?.serial == $0.serial ? $0.id : nil }
    }

    /// Notes that `peer` announced `id`; returns true if the id is newly
    /// missing, so the caller schedules its timer for `deadline`.
    mutating func note(_ id: BroadcastID, from peer: Peer, round: UInt16, deadline: NodeTime) -> Bool {
        let announcer = MissingItem.Announcer(peer: peer, round: round)
        if items[id] != nil {
            items[id]?.add(announcer, limit: announcerLimit)
            return false
        }
        if items.count >= capacity { dropOldest() }
        items[id] = MissingItem(first: announcer, deadline: deadline, serial: nextSerial)
        order.push((id, nextSerial))
        nextSerial += 1
        return true
    }

    mutating func remove(_ id: BroadcastID) -> MissingItem<Peer>? {
        guard let item = items.removeValue(forKey: id) else { return nil }
        // Skipped entries are dropped lazily; compact when they dominate.
        if order.count > 2 * items.count + 64 {
            let live = items
            order.retain { live[$0.id]?.serial == $0.serial }
        }
        return item
    }

    private mutating func dropOldest() {
        while let oldest = order.popFirst() {
            if items[oldest.id]?.serial == oldest.serial {
                items[oldest.id] = nil
                return
            }
        }
    }
}
