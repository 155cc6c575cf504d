import SheafCodec
import SheafCrypto

/// What a local writer wants to append; the writer fills in seq, previous
/// hash, Lamport time and signature.
public struct EntryDraft: Sendable {
    public var payload: [UInt8]
    public var dependencies: [Dependency]
    /// The largest Lamport time the writer has observed (e.g. of the
    /// dependencies); the new entry's Lamport time will exceed it.
    public var observedLamport: UInt64

    public init(payload: [UInt8], dependencies: [Dependency] = [], observedLamport: UInt64 = 0) {
        self.payload = payload
        self.dependencies = dependencies
        self.observedLamport = observedLamport
    }
}

/// The single writer of one feed: turns drafts into chained entries and signs
/// one head per batch. Pure and synchronous; persisting the batch is the
/// log's job.
public struct FeedWriter: Sendable {
    public let keyPair: KeyPair
    /// The last entry written (seq 0 and the feed root before the first).
    public private(set) var tip: FeedAnchor
    /// The last entry's Lamport time.
    public private(set) var lamport: UInt64

    public var feed: PublicKey { keyPair.publicKey }

    /// A writer for a new feed, or one resuming after `tip` (from its log).
    public init(keyPair: KeyPair, resumingAfter tip: FeedAnchor? = nil, lamport: UInt64 = 0) {
        self.keyPair = keyPair
        self.tip = tip ?? .genesis(of: keyPair.publicKey)
        self.lamport = lamport
    }

    /// Appends `drafts` as one batch signed at its last entry.
    ///
    /// Dependencies are normalised: sorted, one per feed (the highest seq),
    /// and any on the writer's own feed dropped (the chain implies them).
    public mutating func append(_ drafts: [EntryDraft], timestamp: UInt64) throws(FeedError) -> VerifiedBatch {
        guard !drafts.isEmpty else { throw FeedError(.emptyRange) }
        for draft in drafts {
            if draft.payload.count > FeedLimits.maxPayloadBytes {
                throw FeedError(.payloadTooLarge(size: draft.payload.count, limit: FeedLimits.maxPayloadBytes))
            }
        }
        let anchor = tip
        guard tip.seq < UInt64.max - UInt64(drafts.count) else { throw FeedError(.headMismatch(seq: tip.seq)) }
        var writer = ByteWriter(capacity: drafts.reduce(0) { $0 + $1.payload.count + 56 })
        var ranges = [Range<Int>]()
        ranges.reserveCapacity(drafts.count)
        var seq = tip.seq
        var previous = tip.hash
        var lamport = self.lamport
        for draft in drafts {
            let deps = Self.normalise(draft.dependencies, ownFeed: feed)
            guard deps.count <= FeedLimits.maxDependencies else {
                throw FeedError(.tooManyDependencies(count: deps.count, limit: FeedLimits.maxDependencies))
            }
            seq += 1
            // Observed times come from peers' entries, which may carry 2^64 - 1:
            // nothing can rise above that, so refuse instead of overflowing.
            let base = max(lamport, draft.observedLamport)
            guard base < UInt64.max else { throw FeedError(.lamportRegression(seq: seq)) }
            lamport = base + 1
            let entry = Entry(feed: feed, seq: seq, previous: previous, lamport: lamport,
                              dependencies: deps, timestamp: timestamp, payload: draft.payload)
            let start = writer.count
            entry.encodeBody(into: &writer)
            let range = start..<writer.count
            ranges.append(range)
            previous = writer.withUnsafeBytes { Hash.of(UnsafeRawBufferPointer(rebasing: $0[range]), domain: FeedDomains.entry) }
        }
        let head = SignedHead(signing: keyPair, seq: seq, hash: previous)
        tip = head.anchor
        self.lamport = lamport
        return VerifiedBatch(anchor: anchor, head: head, buffer: writer.bytes, bodyRanges: ranges)
    }

    /// A fresh signature over the current tip, e.g. after recovery kept
    /// entries whose batch head was torn.
    public func signTip() -> SignedHead? {
        tip.seq == 0 ? nil : SignedHead(signing: keyPair, seq: tip.seq, hash: tip.hash)
    }

    static func normalise(_ deps: [Dependency], ownFeed: PublicKey) -> [Dependency] {
        var highest = [PublicKey: UInt64]()
        for dep in deps where dep.feed != ownFeed && dep.seq > 0 {
            highest[dep.feed] = max(highest[dep.feed] ?? 0, dep.seq)
        }
        return highest.map { Dependency(feed: $0.key, seq: $0.value) }.sorted()
    }
}
