/// The body of a broadcast item: an `EncodedRange` of the item's feed
/// continuing after seq `after`.
public struct BroadcastPayload: Hashable, Sendable {
    public var after: UInt64
    public var range: [UInt8]

    public init(after: UInt64, range: [UInt8]) {
        self.after = after
        self.range = range
    }
}

/// Timers a `Broadcast` asks its driver for. The driver fires each schedule
/// once, at or after its delay, with the time of firing. It may also replace
/// a pending schedule of the same value instead: the machine keeps its own
/// deadlines and ignores a firing that comes before one.
public enum BroadcastTimer: Hashable, Sendable {
    /// Checks on an announced item that has not arrived.
    case missing(BroadcastID)
    /// Flushes the queued lazy announcements.
    case announce
}

/// What a `Broadcast` asks its driver to do, in order.
public enum BroadcastOutput<Peer: Hashable & Sendable>: Hashable, Sendable {
    case send(Peer, BroadcastMessage)
    /// A new verified item: the driver applies it. `from` is the neighbour
    /// that pushed it.
    case deliver(BroadcastID, BroadcastPayload, round: UInt16, from: Peer?)
    case schedule(BroadcastTimer, after: Duration)
    /// A neighbour grafted an item that is no longer cached: the driver reads
    /// it from storage and sends it to `to` as `gossip` (round 0 will do; the
    /// round is advisory).
    case serveFromStore(BroadcastID, to: Peer)
}

/// Plumtree epidemic broadcast trees (Leitão, Pereira and Rodrigues, 2007)
/// for one space at one node, as a pure state machine.
///
/// Neighbours are eager (new items are pushed to them at once) or lazy (they
/// get batched `ihave` announcements). A duplicate arriving over an eager
/// link prunes it, so the eager links shrink to a spanning tree and each
/// node receives each item about once. An item announced but not delivered
/// within `ihaveTimeout` is fetched with a `graft`, which also makes that
/// link eager again: the tree repairs itself where it broke.
///
/// The driver verifies every gossip payload before reporting it, so nothing
/// unverified is relayed or delivered. Time comes in with every event.
public struct Broadcast<Peer: Hashable & Comparable & Sendable>: Sendable {
    public typealias Output = BroadcastOutput<Peer>

    public let config: BroadcastConfig
    public private(set) var eager: Set<Peer> = []
    public private(set) var lazy: Set<Peer> = []

    private var seen: SeenIDs
    /// Items that arrived but could not be verified yet (the entries before
    /// them are missing), until `held` or a verifiable copy. A subset of `seen`.
    private var unverified: [BroadcastID: FirstCopy<Peer>] = [:]
    private var cache: PayloadCache<Peer>
    private var missing: MissingItems<Peer>
    private var announcements: AnnouncementQueue<Peer>
    /// When the pending `announce` timer is due, if one is.
    private var announceDue: NodeTime?
    /// The latest time an event carried: `neighborDown` carries none.
    private var clock = NodeTime.zero

    public init(config: BroadcastConfig = .init()) {
        self.config = config
        seen = SeenIDs(capacity: config.seenCapacity)
        cache = PayloadCache(capacityBytes: config.payloadCacheBytes)
        missing = MissingItems(capacity: config.maxMissingItems, announcerLimit: config.maxAnnouncersPerItem)
        announcements = AnnouncementQueue(batchLimit: config.maxAnnouncementsPerMessage)
    }

    public var neighbors: Set<Peer> { eager.union(lazy) }

    // MARK: Neighbours

    /// A new neighbour starts eager: until a duplicate says otherwise, it may
    /// be the only path to part of the network.
    public mutating func neighborUp(_ peer: Peer) {
        guard !isNeighbor(peer) else { return }
        eager.insert(peer)
    }

    /// Forgets `peer`. Items whose graft was waiting on it graft their next
    /// announcer at once instead of after the graft timeout.
    public mutating func neighborDown(_ peer: Peer) -> [Output] {
        guard isNeighbor(peer) else { return [] }
        eager.remove(peer)
        lazy.remove(peer)
        announcements.drop(peer)
        var out: [Output] = []
        for id in missing.ids {
            guard var item = missing[id] else { continue }
            // `awaiting` is always one of the announcers: read it before they go.
            let wasAwaited = item.awaiting == peer
            guard item.remove(peer) else { continue }
            missing[id] = item
            if wasAwaited {
                graftNext(id, now: clock, into: &out)
            } else if item.awaiting == nil, !item.hasAnnouncersLeft {
                missing[id] = nil
            }
        }
        return out
    }

    // MARK: Items

    /// A batch appended locally: pushed with round 0. It is not delivered
    /// back; the driver has applied it already.
    public mutating func publish(_ id: BroadcastID, _ payload: BroadcastPayload, now: NodeTime) -> [Output] {
        advance(to: now)
        guard !seen.contains(id) else { return [] }
        let announced = missing.remove(id)
        remember(id)
        var out: [Output] = []
        relay(id, payload, FirstCopy(from: nil, round: 0), holders: announced?.holders ?? [], now: now, into: &out)
        return out
    }

    /// A gossip message whose payload the driver verified, or could not
    /// verify for lack of the entries before it (`verified: false`). An
    /// unverified item is neither delivered nor relayed, but counts as
    /// received for the tree; the driver fetches the gap by anti-entropy and
    /// calls `held` (or a verifiable copy arrives and is delivered then).
    public mutating func gossipArrived(
        _ id: BroadcastID, round: UInt16, payload: BroadcastPayload, from peer: Peer, verified: Bool, now: NodeTime
    ) -> [Output] {
        advance(to: now)
        var out: [Output] = []
        guard !seen.contains(id) else {
            pruneDuplicate(id, from: peer, into: &out)
            if verified, let first = unverified.removeValue(forKey: id) {
                out.append(.deliver(id, payload, round: round, from: peer))
                cache.insert(id, .init(payload: payload, first: first))
                // Late for the tree: announce it only, so no eager link is pruned for it.
                let skip = Set([first.from, peer].compactMap { $0 })
                announce(id, round: first.round, to: neighbors.subtracting(skip), now: now, into: &out)
            }
            return out
        }
        let announced = missing.remove(id)
        remember(id)
        let first = FirstCopy(from: peer, round: round.nextRound)
        if verified {
            out.append(.deliver(id, payload, round: round, from: peer))
            relay(id, payload, first, holders: announced?.holders ?? [], now: now, into: &out)
        } else {
            unverified[id] = first
        }
        if lazy.contains(peer) {
            // It still pushes to us: our prune is in flight, or was lost in a
            // race with a graft. Say it again, so the link is lazy at both ends.
            out.append(.send(peer, .prune))
        }
        return out
    }

    /// `ihave`, `graft` and `prune` from a neighbour. Gossip must come through
    /// `gossipArrived` once verified, and is ignored here; so is anything from
    /// a peer that is not a neighbour.
    public mutating func receive(_ message: BroadcastMessage, from peer: Peer, now: NodeTime) -> [Output] {
        advance(to: now)
        guard isNeighbor(peer) else { return [] }
        var out: [Output] = []
        switch message {
        case .gossip:
            break
        case .ihave(let list):
            for announcement in list.prefix(announcements.batchLimit) where !seen.contains(announcement.id) {
                let deadline = now + config.ihaveTimeout
                if missing.note(announcement.id, from: peer, round: announcement.round, deadline: deadline) {
                    out.append(.schedule(.missing(announcement.id), after: config.ihaveTimeout))
                }
            }
        case .graft(let id, _):
            makeEager(peer)
            if let item = cache[id] {
                let (payload, round) = (item.payload, item.first.round)
                out.append(.send(peer, .gossip(id: id, round: round, after: payload.after, range: payload.range)))
            } else if seen.contains(id), unverified[id] == nil {
                out.append(.serveFromStore(id, to: peer))
            }
        case .prune:
            makeLazy(peer)
        }
        return out
    }

    /// The item was obtained some other way (anti-entropy). Its graft timer
    /// is cancelled, and if this broadcast knew of it (announced, or arrived
    /// unverified) it is announced to the neighbours not known to hold it:
    /// they may be waiting for it. Catch-up of older history is not announced.
    public mutating func held(_ id: BroadcastID, now: NodeTime) -> [Output] {
        advance(to: now)
        var out: [Output] = []
        if let first = unverified.removeValue(forKey: id) {
            let skip = Set([first.from].compactMap { $0 })
            announce(id, round: first.round, to: neighbors.subtracting(skip), now: now, into: &out)
        } else if !seen.contains(id) {
            let announced = missing.remove(id)
            remember(id)
            if let announced {
                let round = announced.round.nextRound
                announce(id, round: round, to: neighbors.subtracting(announced.holders), now: now, into: &out)
            }
        }
        return out
    }

    public mutating func timerFired(_ timer: BroadcastTimer, now: NodeTime) -> [Output] {
        advance(to: now)
        var out: [Output] = []
        switch timer {
        case .missing(let id):
            guard let item = missing[id], now >= item.deadline else { break }
            graftNext(id, now: now, into: &out)
        case .announce:
            guard let due = announceDue, now >= due else { break }
            announceDue = nil
            for (peer, batch) in announcements.takeAll() {
                out.append(.send(peer, .ihave(batch)))
            }
        }
        return out
    }

    // MARK: Internals

    private func isNeighbor(_ peer: Peer) -> Bool { eager.contains(peer) || lazy.contains(peer) }

    private mutating func makeEager(_ peer: Peer) {
        lazy.remove(peer)
        eager.insert(peer)
    }

    private mutating func makeLazy(_ peer: Peer) {
        eager.remove(peer)
        lazy.insert(peer)
    }

    private mutating func advance(to now: NodeTime) { clock = max(clock, now) }

    private mutating func remember(_ id: BroadcastID) {
        if let forgotten = seen.insert(id) { unverified[forgotten] = nil }
    }

    /// A second copy came over this link: the trees overlap here, so both
    /// ends make it lazy. Except when the first copy came over a link pruned
    /// since (its sender had not heard yet): this link is then the one the
    /// tree keeps, and pruning it as well would cut this node off.
    private mutating func pruneDuplicate(_ id: BroadcastID, from peer: Peer, into out: inout [Output]) {
        guard isNeighbor(peer) else { return }
        if eager.contains(peer), let sender = (cache[id]?.first ?? unverified[id])?.from, sender != peer,
            lazy.contains(sender)
        {
            return
        }
        makeLazy(peer)
        out.append(.send(peer, .prune))
    }

    /// Caches a new item, pushes it to the eager neighbours and queues its
    /// announcement for the lazy ones (skipping those known to hold it).
    private mutating func relay(
        _ id: BroadcastID, _ payload: BroadcastPayload, _ first: FirstCopy<Peer>, holders: Set<Peer>,
        now: NodeTime, into out: inout [Output]
    ) {
        cache.insert(id, .init(payload: payload, first: first))
        for peer in eager.sorted() where peer != first.from {
            out.append(.send(peer, .gossip(id: id, round: first.round, after: payload.after, range: payload.range)))
        }
        var skip = holders
        if let sender = first.from { skip.insert(sender) }
        announce(id, round: first.round, to: lazy.subtracting(skip), now: now, into: &out)
    }

    private mutating func announce(
        _ id: BroadcastID, round: UInt16, to peers: Set<Peer>, now: NodeTime, into out: inout [Output]
    ) {
        let announcement = Announcement(id: id, round: round)
        for peer in peers.sorted() {
            if let batch = announcements.add(announcement, for: peer) {
                out.append(.send(peer, .ihave(batch)))
            }
        }
        if announceDue == nil, !announcements.isEmpty {
            announceDue = now + config.announceInterval
            out.append(.schedule(.announce, after: config.announceInterval))
        }
    }

    /// Grafts the next announcer of a missing item, or gives the item up to
    /// anti-entropy when no announcer is left.
    private mutating func graftNext(_ id: BroadcastID, now: NodeTime, into out: inout [Output]) {
        guard var item = missing[id] else { return }
        while let next = item.takeNext() {
            guard isNeighbor(next.peer) else { continue }
            makeEager(next.peer)
            item.awaiting = next.peer
            item.deadline = now + config.graftTimeout
            missing[id] = item
            out.append(.send(next.peer, .graft(id: id, round: next.round)))
            out.append(.schedule(.missing(id), after: config.graftTimeout))
            return
        }
        missing[id] = nil
    }
}

// MARK: Introspection for tests and metrics

extension Broadcast {
    var seenCount: Int { seen.count }
    var cachedPayloadBytes: Int { cache.bytes }
    var cachedPayloadCount: Int { cache.count }
    var missingCount: Int { missing.count }
    var unverifiedCount: Int { unverified.count }
    var queuedAnnouncementCount: Int { announcements.count }
    func announcers(of id: BroadcastID) -> [Peer] { missing[id]?.announcers.map(\.peer) ?? [] }
}

extension UInt16 {
    /// The round one hop further; saturates, since rounds come off the wire.
    fileprivate var nextRound: UInt16 { self == .max ? .max : self + 1 }
}
