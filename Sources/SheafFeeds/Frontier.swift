import SheafCodec
import SheafCrypto

/// How two frontiers relate in the partial order by per-feed seq.
public enum FrontierOrder: Hashable, Sendable {
    /// Same seq for every feed.
    case equal
    /// Every feed at or below the other's, at least one strictly below.
    case before
    /// Every feed at or above the other's, at least one strictly above.
    case after
    /// Each is ahead of the other somewhere.
    case concurrent
}

/// Entries one node needs from another: seqs `after + 1 ... through` of `feed`.
public struct FeedRangeRequest: Hashable, Sendable {
    public var feed: PublicKey
    /// The last seq already held (0 for none): the anchor to verify from.
    public var after: UInt64
    public var through: UInt64

    public init(feed: PublicKey, after: UInt64, through: UInt64) {
        self.feed = feed
        self.after = after
        self.through = through
    }

    public var count: UInt64 { through - after }
}

/// Two frontiers claim different entries at the same seq of a feed: one of
/// them holds a fork, which only signed heads can prove.
public struct FrontierConflict: Error, Hashable, Sendable {
    public let feed: PublicKey
    public let seq: UInt64
}

/// Exactly which entries a state contains: for each feed, the last seq
/// included and that entry's hash.
///
/// The hash pins the chain, so a frontier is also an anchor from which the
/// entries after it can be verified.
public struct Frontier: Hashable, Sendable {
    public private(set) var heads: [PublicKey: FeedAnchor]

    public init() { heads = [:] }

    public init(_ heads: [PublicKey: FeedAnchor]) {
        self.heads = heads.filter { $0.value.seq > 0 }
    }

    public subscript(feed: PublicKey) -> FeedAnchor? { heads[feed] }

    /// The seq held for `feed`, 0 when none.
    public func seq(of feed: PublicKey) -> UInt64 { heads[feed]?.seq ?? 0 }

    /// Feeds in canonical (key byte) order.
    public var feeds: [PublicKey] { heads.keys.sorted() }

    public var isEmpty: Bool { heads.isEmpty }

    /// Total entries covered, saturating at 2^64 - 1 (a decoded frontier may
    /// name seqs whose sum does not fit).
    public var entryCount: UInt64 {
        heads.values.reduce(0) { total, anchor in
            let (sum, overflow) = total.addingReportingOverflow(anchor.seq)
            return overflow ? .max : sum
        }
    }

    /// Whether entry `seq` of `feed` is included.
    public func contains(feed: PublicKey, seq: UInt64) -> Bool { seq <= self.seq(of: feed) }

    /// Moves `feed` forward to `anchor`; never backwards.
    public mutating func advance(_ feed: PublicKey, to anchor: FeedAnchor) {
        guard anchor.seq > seq(of: feed) else { return }
        heads[feed] = anchor
    }

    public func compare(_ other: Frontier) -> FrontierOrder {
        var ahead = false
        var behind = false
        for feed in Set(heads.keys).union(other.heads.keys) {
            let mine = seq(of: feed)
            let theirs = other.seq(of: feed)
            if mine > theirs { ahead = true }
            if mine < theirs { behind = true }
            if ahead && behind { return .concurrent }
        }
        switch (ahead, behind) {
        case (false, false): return .equal
        case (true, false): return .after
        case (false, true): return .before
        case (true, true): return .concurrent
        }
    }

    /// Feeds where both frontiers stop at the same seq with different hashes.
    public func conflicts(with other: Frontier) -> [FrontierConflict] {
        heads.compactMap { feed, mine in
            guard let theirs = other.heads[feed], theirs.seq == mine.seq, theirs.hash != mine.hash else { return nil }
            return FrontierConflict(feed: feed, seq: mine.seq)
        }.sorted { $0.feed < $1.feed }
    }

    /// The per-feed maximum. Throws when both name the same seq of a feed with
    /// different hashes: no single state contains both.
    public func merging(_ other: Frontier) throws(FrontierConflict) -> Frontier {
        if let conflict = conflicts(with: other).first { throw conflict }
        var result = self
        for (feed, anchor) in other.heads { result.advance(feed, to: anchor) }
        return result
    }

    /// What this node must fetch to reach `other`, in feed order.
    public func missing(toReach other: Frontier) -> [FeedRangeRequest] {
        other.heads.compactMap { feed, theirs in
            let mine = seq(of: feed)
            return theirs.seq > mine ? FeedRangeRequest(feed: feed, after: mine, through: theirs.seq) : nil
        }.sorted { $0.feed < $1.feed }
    }
}

/// Layout: `varint count ‖ count × (feed 32 ‖ varint seq ‖ hash 32)`, feeds
/// strictly ascending, seq ≥ 1.
extension Frontier: CanonicalCodable {
    public func encode(into writer: inout ByteWriter) {
        writer.writeVarint(UInt64(heads.count))
        for feed in feeds {
            guard let anchor = heads[feed] else { continue }
            feed.encode(into: &writer)
            writer.writeVarint(anchor.seq)
            anchor.hash.encode(into: &writer)
        }
    }

    public init(from reader: inout ByteReader) throws(DecodingError) {
        let count = try reader.readCount("frontier.count", limit: FeedLimits.maxFrontierFeeds, minElementSize: 65)
        var heads = [PublicKey: FeedAnchor](minimumCapacity: count)
        var last: PublicKey?
        for _ in 0..<count {
            let offset = reader.offset
            let feed = try PublicKey(from: &reader)
            if let last, !(last < feed) {
                throw DecodingError(.notCanonical, at: offset, field: "frontier.feed", detail: "feeds must be strictly ascending")
            }
            last = feed
            let seq = try reader.readVarint("frontier.seq", in: 1...UInt64.max)
            let hash = try Hash(from: &reader)
            heads[feed] = FeedAnchor(seq: seq, hash: hash)
        }
        self.heads = heads
    }
}
