import SheafCrypto
import SheafFeeds

/// Holds verified entries until they can be delivered in causal order:
/// after their feed predecessor and after every dependency.
///
/// Bounded: at most `limit` entries wait at once; beyond that `insert`
/// refuses, and the caller fetches them again later (backpressure), so a
/// peer cannot make a node buffer without bound.
struct CausalBuffer: Sendable {
    let limit: Int
    private(set) var count = 0
    /// Waiting entries per feed, in seq order (contiguous from delivered + 1).
    private var waiting: [PublicKey: [Entry]] = [:]
    private var heads: [PublicKey: Int] = [:]
    /// Feeds whose next entry waits for a given feed.
    private var blockedOn: [PublicKey: Set<PublicKey>] = [:]
    private var ready: [PublicKey] = []

    init(limit: Int) { self.limit = limit }

    enum InsertError: Error { case full, notContiguous }

    /// Queues entries of one feed that continue what is delivered or waiting.
    mutating func insert(_ entries: [Entry], delivered: UInt64) throws(InsertError) {
        guard let first = entries.first else { return }
        guard count + entries.count <= limit else { throw .full }
        let feed = first.feed
        var queue = waiting[feed] ?? []
        let head = heads[feed] ?? 0
        let expected = (queue.count > head ? queue[queue.count - 1].seq : delivered) + 1
        // Entries already delivered or queued are skipped; a gap is refused.
        let fresh = entries.drop { $0.seq < expected }
        guard let next = fresh.first else { return }
        guard next.seq == expected else { throw .notContiguous }
        if head > 0 && head == queue.count { queue.removeAll(keepingCapacity: true); heads[feed] = 0 }
        queue.append(contentsOf: fresh)
        count += fresh.count
        waiting[feed] = queue
        ready.append(feed)
    }

    /// The next deliverable entry, or nil when everything left waits.
    mutating func next(isDelivered: (Dependency) -> Bool) -> Entry? {
        while let feed = ready.popLast() {
            guard var queue = waiting[feed] else { continue }
            let head = heads[feed] ?? 0
            guard head < queue.count else { continue }
            let entry = queue[head]
            if let missing = entry.dependencies.first(where: { !isDelivered($0) }) {
                blockedOn[missing.feed, default: []].insert(feed)
                continue
            }
            if head + 1 == queue.count {
                queue.removeAll(keepingCapacity: true)
                waiting[feed] = queue.isEmpty ? nil : queue
                heads[feed] = 0
            } else {
                heads[feed] = head + 1
                if head + 1 >= 4096 {
                    queue.removeFirst(head + 1)
                    waiting[feed] = queue
                    heads[feed] = 0
                }
                ready.append(feed)
            }
            count -= 1
            // Whoever waited for this feed may now proceed.
            if let unblocked = blockedOn.removeValue(forKey: feed) { ready.append(contentsOf: unblocked) }
            return entry
        }
        return nil
    }

    /// Notes that an entry of `feed` was delivered without passing through
    /// the buffer, so entries waiting for that feed are looked at again.
    mutating func wake(_ feed: PublicKey) {
        if let unblocked = blockedOn.removeValue(forKey: feed) { ready.append(contentsOf: unblocked) }
    }

    /// Highest seq waiting for `feed`, if any.
    func lastWaiting(_ feed: PublicKey) -> UInt64? {
        guard let queue = waiting[feed], let head = heads[feed], head < queue.count else {
            return waiting[feed]?.last?.seq
        }
        return queue.last?.seq
    }
}
