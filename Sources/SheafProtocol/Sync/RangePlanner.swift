import SheafCrypto
import SheafFeeds

/// Anti-entropy bookkeeping for one space: what each neighbour said it
/// holds, and which ranges are being fetched from whom.
///
/// At most one request per feed is in flight, so the same entries are never
/// fetched twice at once; each neighbour serves at most `window` requests at
/// a time, so catching up spreads over everyone who holds the data.
struct RangePlanner {
    struct Outstanding: Hashable {
        var peer: PublicKey
        var request: FeedRangeRequest
        var generation: UInt64
        /// When it was sent: how long a busy peer has been waited for.
        var sentAt: NodeTime
    }

    private(set) var peerFrontiers: [PublicKey: Frontier] = [:]
    private(set) var outstanding: [PublicKey: Outstanding] = [:]
    private var inFlight: [PublicKey: Int] = [:]
    /// Entries asked of each peer and not yet answered.
    private var entriesInFlight: [PublicKey: UInt64] = [:]
    /// Per peer and feed: the peer said it cannot serve up to this seq.
    private var cannotServe: [PublicKey: [PublicKey: UInt64]] = [:]
    private var generation: UInt64 = 0
    /// Per peer, feeds whose last request to it timed out (until it is heard from again).
    private var timedOut: [PublicKey: Set<PublicKey>] = [:]

    /// A frontier from `peer`: it is reachable, so ask it again what it
    /// failed to answer before (unless it said it does not hold it).
    mutating func heard(_ frontier: Frontier, from peer: PublicKey) {
        peerFrontiers[peer] = frontier
        timedOut[peer] = nil
    }

    /// The request for `feed` went unanswered: ask someone else first.
    /// `repeated`: the peer had already let this feed's request lapse
    /// (it was asked again for want of anyone else).
    mutating func timedOut(_ feed: PublicKey) -> (item: Outstanding, repeated: Bool)? {
        guard let item = finish(feed) else { return nil }
        let repeated = !timedOut[item.peer, default: []].insert(feed).inserted
        return (item, repeated)
    }

    /// Picks the next requests: for every allowed feed some neighbour holds
    /// beyond our tip, ask the least-busy such neighbour for the next range.
    /// A neighbour has at most `window` requests, and (past its first)
    /// `entryWindow` entries, in flight: many small ranges go out at once,
    /// while large ones do not queue on its link past their timeouts.
    mutating func plan(stored: Frontier, allowed: (PublicKey) -> Bool, maxEntries: Int, window: Int,
                       entryWindow: Int = .max, now: NodeTime = .zero) -> [Outstanding] {
        var feeds = Set<PublicKey>()
        for frontier in peerFrontiers.values { feeds.formUnion(frontier.heads.keys) }
        var planned: [Outstanding] = []
        for feed in feeds.sorted() where outstanding[feed] == nil && allowed(feed) {
            let ours = stored.seq(of: feed)
            let holders = peerFrontiers.compactMap { peer, frontier -> (PublicKey, UInt64)? in
                let theirs = frontier.seq(of: feed)
                guard theirs > ours, (inFlight[peer] ?? 0) < window, (cannotServe[peer]?[feed] ?? 0) <= ours else { return nil }
                let asked = entriesInFlight[peer] ?? 0
                let count = min(theirs - ours, UInt64(max(1, maxEntries)))
                guard asked == 0 || asked + count <= UInt64(max(1, entryWindow)) else { return nil }
                return (peer, theirs)
            }
            // A peer that let this request lapse is asked again only when no
            // one else can serve it: on a lossy link with one neighbour, the
            // retry must not wait for its next frontier.
            let fresh = holders.filter { timedOut[$0.0]?.contains(feed) != true }
            let candidates = fresh.isEmpty ? holders : fresh
            guard let best = candidates.min(by: { a, b in
                let (x, y) = (inFlight[a.0] ?? 0, inFlight[b.0] ?? 0)
                return x != y ? x < y : (a.1 != b.1 ? a.1 > b.1 : a.0 < b.0)
            }) else { continue }
            generation += 1
            let request = FeedRangeRequest(feed: feed, after: ours, through: min(best.1, ours + UInt64(max(1, maxEntries))))
            let item = Outstanding(peer: best.0, request: request, generation: generation, sentAt: now)
            outstanding[feed] = item
            inFlight[best.0, default: 0] += 1
            entriesInFlight[best.0, default: 0] += request.through - request.after
            planned.append(item)
        }
        return planned
    }

    /// The request for `feed` ended (answered, refused, or timed out).
    @discardableResult
    mutating func finish(_ feed: PublicKey) -> Outstanding? {
        guard let item = outstanding.removeValue(forKey: feed) else { return nil }
        let count = (inFlight[item.peer] ?? 1) - 1
        inFlight[item.peer] = count > 0 ? count : nil
        let entries = (entriesInFlight[item.peer] ?? 0) - min(entriesInFlight[item.peer] ?? 0, item.request.through - item.request.after)
        entriesInFlight[item.peer] = entries > 0 ? entries : nil
        return item
    }

    /// `peer` cannot serve `feed` up to `through` (pruned or not held).
    mutating func unavailable(_ feed: PublicKey, through: UInt64, at peer: PublicKey) {
        cannotServe[peer, default: [:]][feed] = max(cannotServe[peer]?[feed] ?? 0, through)
    }

    /// Forgets a neighbour; its requests must be asked elsewhere.
    mutating func peerGone(_ peer: PublicKey) {
        peerFrontiers[peer] = nil
        cannotServe[peer] = nil
        timedOut[peer] = nil
        for (feed, item) in outstanding where item.peer == peer { finish(feed) }
    }
}
