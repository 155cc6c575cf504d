/// Lazy announcements waiting for the next flush, per neighbour: batching
/// them turns one `ihave` per item into one per interval. A neighbour's
/// queue never exceeds one message: a full batch is handed back at once.
struct AnnouncementQueue<Peer: Hashable & Comparable & Sendable>: Sendable {
    let batchLimit: Int
    private var pending: [Peer: [Announcement]] = [:]

    init(batchLimit: Int) { self.batchLimit = max(1, batchLimit) }

    var isEmpty: Bool { pending.isEmpty }
    var count: Int { pending.values.reduce(0) { $0 + $1.count } }

    /// Queues `announcement` for `peer`; returns a full batch to send now.
    mutating func add(_ announcement: Announcement, for peer: Peer) -> [Announcement]? {
        pending[peer, default: []].append(announcement)
        guard let batch = pending[peer], batch.count >= batchLimit else { return nil }
        pending[peer] = nil
        return batch
    }

    mutating func drop(_ peer: Peer) { pending[peer] = nil }

    /// Every queued batch, in peer order, emptying the queue.
    mutating func takeAll() -> [(peer: Peer, batch: [Announcement])] {
        defer { pending = [:] }
        return pending.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }
}
