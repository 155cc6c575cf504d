import PropertyBased
import SheafCodec
import SheafCrypto
import SheafFeeds
import Testing

/// Feeds in ascending key order, so tests can name "the first" and "the second".
private let feeds: [PublicKey] = Fixtures.otherFeeds.sorted()

/// A stand-in hash for entry `seq` of feed `index`: one value per (feed, seq),
/// as in a world without forks.
private func entryHash(_ index: Int, _ seq: UInt64, fork: UInt8 = 0) -> Hash {
    var w = ByteWriter()
    w.writeUInt8(UInt8(index))
    w.writeUInt64(seq)
    w.writeUInt8(fork)
    return Hash.of(w.bytes, domain: FeedDomains.entry)
}

/// A frontier holding `seqs[i]` of feed i (0 = nothing of it).
private func frontier(_ seqs: [UInt64]) -> Frontier {
    var heads = [PublicKey: FeedAnchor]()
    for (i, seq) in seqs.enumerated() { heads[feeds[i]] = FeedAnchor(seq: seq, hash: entryHash(i, seq)) }
    return Frontier(heads)
}

/// The conflict `a.merging(b)` throws, or nil when it merges.
private func conflictOnMerge(_ a: Frontier, _ b: Frontier) -> FrontierConflict? {
    do {
        _ = try a.merging(b)
        return nil
    } catch {
        return error
    }
}

@Suite("Frontier")
struct FrontierTests {
    @Test("seqs of zero are left out; queries read the heads")
    func basics() {
        let f = frontier([3, 0, 5])
        #expect(f.heads.count == 2)
        #expect(f.feeds == [feeds[0], feeds[2]])
        #expect(f.seq(of: feeds[0]) == 3)
        #expect(f.seq(of: feeds[1]) == 0)
        #expect(f[feeds[1]] == nil)
        #expect(f[feeds[2]] == FeedAnchor(seq: 5, hash: entryHash(2, 5)))
        #expect(f.entryCount == 8)
        #expect(f.contains(feed: feeds[0], seq: 3))
        #expect(!f.contains(feed: feeds[0], seq: 4))
        #expect(!f.contains(feed: feeds[1], seq: 1))
        #expect(Frontier().isEmpty)
        #expect(frontier([0, 0]).isEmpty)
    }

    @Test("entryCount saturates instead of overflowing on a decoded frontier")
    func entryCountSaturates() throws {
        var w = ByteWriter()
        w.writeVarint(3)
        for feed in feeds.prefix(3) {
            feed.encode(into: &w)
            w.writeVarint(UInt64.max)
            Hash.zero.encode(into: &w)
        }
        let huge = try Frontier(canonicalBytes: w.bytes)
        #expect(huge.entryCount == UInt64.max)
        #expect(frontier([UInt64.max - 10, 10]).entryCount == UInt64.max)
        #expect(frontier([UInt64.max - 10, 11]).entryCount == UInt64.max)
        #expect(frontier([1 << 62, 1 << 62, 5]).entryCount == UInt64(1) << 63 + 5)
    }

    @Test("compare: equal, before, after, concurrent, with missing feeds", arguments: [
        ([], [], FrontierOrder.equal),
        ([1, 2], [1, 2], .equal),
        ([1], [], .after),
        ([], [1], .before),
        ([1, 2], [1, 3], .before),
        ([2, 2], [1, 2], .after),
        ([1, 1], [1], .after),            // more feeds
        ([1], [1, 1], .before),           // fewer feeds
        ([2, 1], [1, 2], .concurrent),
        ([1, 0], [0, 1], .concurrent),    // disjoint feeds
        ([5, 0, 1], [4, 3, 1], .concurrent),
    ] as [([UInt64], [UInt64], FrontierOrder)])
    func compare(a: [UInt64], b: [UInt64], expected: FrontierOrder) {
        #expect(frontier(a).compare(frontier(b)) == expected)
        let mirrored: FrontierOrder = switch expected {
        case .before: .after
        case .after: .before
        default: expected
        }
        #expect(frontier(b).compare(frontier(a)) == mirrored)
    }

    @Test("compare looks at seqs only; conflicts reports differing hashes")
    func compareIgnoresHashes() {
        let a = frontier([2, 3])
        var b = Frontier()
        b.advance(feeds[0], to: FeedAnchor(seq: 2, hash: entryHash(0, 2, fork: 1)))
        b.advance(feeds[1], to: FeedAnchor(seq: 3, hash: entryHash(1, 3)))
        #expect(a.compare(b) == .equal)
        #expect(a.conflicts(with: b).map(\.feed) == [feeds[0]])
        #expect(a.conflicts(with: b).map(\.seq) == [2])
        #expect(a.conflicts(with: a).isEmpty)
    }

    @Test("merging takes the per-feed maximum")
    func merging() throws {
        let a = frontier([3, 0, 7, 1])
        let b = frontier([5, 2, 7, 0])
        let merged = try a.merging(b)
        #expect(merged == frontier([5, 2, 7, 1]))
        #expect(try b.merging(a) == merged)
        #expect(merged.compare(a) == .after)
        #expect(merged.compare(b) == .after)
    }

    @Test("merging refuses two hashes at the same seq")
    func mergeConflict() throws {
        let a = frontier([3, 4])
        var b = frontier([1, 0])
        b.advance(feeds[1], to: FeedAnchor(seq: 4, hash: entryHash(1, 4, fork: 1)))
        for (x, y) in [(a, b), (b, a)] {
            let conflict = try #require(conflictOnMerge(x, y))
            #expect(conflict.feed == feeds[1])
            #expect(conflict.seq == 4)
        }
        // Different hashes at different seqs are not a conflict: the higher wins.
        var c = frontier([0, 0])
        c.advance(feeds[1], to: FeedAnchor(seq: 5, hash: entryHash(1, 5, fork: 1)))
        #expect(try a.merging(c)[feeds[1]] == FeedAnchor(seq: 5, hash: entryHash(1, 5, fork: 1)))
    }

    @Test("missing(toReach:) lists exactly the ranges to fetch, in feed order")
    func missing() {
        let mine = frontier([3, 5, 0, 2])
        let theirs = frontier([7, 2, 4, 2])
        let requests = mine.missing(toReach: theirs)
        #expect(requests == [
            FeedRangeRequest(feed: feeds[0], after: 3, through: 7),
            FeedRangeRequest(feed: feeds[2], after: 0, through: 4),
        ])
        #expect(requests.map(\.count) == [4, 4])
        #expect(theirs.missing(toReach: mine) == [FeedRangeRequest(feed: feeds[1], after: 2, through: 5)])
        #expect(mine.missing(toReach: mine).isEmpty)
        #expect(Frontier().missing(toReach: Frontier()).isEmpty)
    }

    @Test("advance never goes backwards")
    func advance() {
        var f = Frontier()
        f.advance(feeds[0], to: FeedAnchor(seq: 0, hash: .zero))
        #expect(f.isEmpty)
        f.advance(feeds[0], to: FeedAnchor(seq: 5, hash: entryHash(0, 5)))
        f.advance(feeds[0], to: FeedAnchor(seq: 3, hash: entryHash(0, 3)))
        #expect(f[feeds[0]] == FeedAnchor(seq: 5, hash: entryHash(0, 5)))
        // Same seq, other hash: not an advance either.
        f.advance(feeds[0], to: FeedAnchor(seq: 5, hash: .zero))
        #expect(f[feeds[0]] == FeedAnchor(seq: 5, hash: entryHash(0, 5)))
        f.advance(feeds[0], to: FeedAnchor(seq: 6, hash: entryHash(0, 6)))
        #expect(f.seq(of: feeds[0]) == 6)
    }

    // MARK: Encoding

    @Test("the encoding round-trips, sorted by key")
    func encoding() throws {
        let f = frontier([3, 0, 300, 1])
        let bytes = f.canonicalBytes
        var expected: [UInt8] = [3]
        expected += feeds[0].raw.bytes + [3] + entryHash(0, 3).raw.bytes
        expected += feeds[2].raw.bytes + [0xAC, 0x02] + entryHash(2, 300).raw.bytes
        expected += feeds[3].raw.bytes + [1] + entryHash(3, 1).raw.bytes
        #expect(bytes == expected)
        #expect(try Frontier(canonicalBytes: bytes) == f)
        #expect(Frontier().canonicalBytes == [0])
        #expect(try Frontier(canonicalBytes: [0]) == Frontier())
    }

    @Test("the encoding does not depend on insertion order")
    func insertionOrder() {
        var rng = SplitMix64(seed: 5)
        let anchors = feeds.indices.map { FeedAnchor(seq: UInt64($0) + 1, hash: entryHash($0, UInt64($0) + 1)) }
        let reference = frontier(anchors.map(\.seq)).canonicalBytes
        for _ in 0..<20 {
            var f = Frontier()
            for i in feeds.indices.shuffled(using: &rng) { f.advance(feeds[i], to: anchors[i]) }
            #expect(f.canonicalBytes == reference)
        }
    }

    private static func element(_ feed: PublicKey, seq: UInt64) -> [UInt8] {
        var w = ByteWriter()
        feed.encode(into: &w)
        w.writeVarint(seq)
        Hash.zero.encode(into: &w)
        return w.bytes
    }

    @Test("decoding refuses unsorted or repeated feeds")
    func decodeRejectsOrder() throws {
        let unsorted = [2] + Self.element(feeds[1], seq: 1) + Self.element(feeds[0], seq: 1)
        let error = try #require(decodingError { try Frontier(canonicalBytes: unsorted) })
        #expect(error.code == .notCanonical)
        #expect(error.field == "frontier.feed")
        #expect(error.offset == 1 + 65)

        let repeated = [2] + Self.element(feeds[0], seq: 1) + Self.element(feeds[0], seq: 2)
        let dup = try #require(decodingError { try Frontier(canonicalBytes: repeated) })
        #expect(dup.code == .notCanonical)
        #expect(dup.offset == 1 + 65)
    }

    @Test("decoding refuses seq 0")
    func decodeRejectsZero() throws {
        let bytes = [1] + Self.element(feeds[0], seq: 0)
        let error = try #require(decodingError { try Frontier(canonicalBytes: bytes) })
        #expect(error.code == .invalidValue)
        #expect(error.field == "frontier.seq")
        #expect(error.offset == 33)
    }

    @Test("decoding refuses counts over the limit or beyond the bytes sent")
    func decodeRejectsCounts() throws {
        var over = ByteWriter()
        over.writeVarint(UInt64(FeedLimits.maxFrontierFeeds) + 1)
        over.writeRaw(Self.element(feeds[0], seq: 1))
        let limit = try #require(decodingError { try Frontier(canonicalBytes: over.bytes) })
        #expect(limit.code == .overLimit)
        #expect(limit.field == "frontier.count")
        #expect(limit.offset == 0)

        let short = [3] + Self.element(feeds[0], seq: 1) + Self.element(feeds[1], seq: 1)
        let cannotFit = try #require(decodingError { try Frontier(canonicalBytes: short) })
        #expect(cannotFit.code == .truncated)
        #expect(cannotFit.field == "frontier.count")
    }

    @Test("decoding refuses cuts and trailing bytes")
    func decodeRejectsCutsAndTrailing() throws {
        let bytes = frontier([1, 200, 3, 0, 5]).canonicalBytes
        for length in 0..<bytes.count {
            let error = decodingError { try Frontier(canonicalBytes: Array(bytes[..<length])) }
            #expect(error?.code == .truncated, "cut at \(length)")
        }
        let trailing = try #require(decodingError { try Frontier(canonicalBytes: bytes + [0]) })
        #expect(trailing.code == .trailingBytes)
        #expect(trailing.field == "Frontier")
        #expect(trailing.offset == bytes.count)
    }

    // MARK: Properties

    private static let frontiers = Gen.uint64(in: 0...6).array(of: feeds.count).map(frontier)

    @Test("merge is commutative, associative and idempotent, and covers both sides")
    func mergeLaws() async {
        await propertyCheck(count: 500, input: Self.frontiers, Self.frontiers, Self.frontiers) { a, b, c throws in
            let ab = try a.merging(b)
            #expect(ab == (try b.merging(a)))
            #expect((try ab.merging(c)) == (try a.merging(try b.merging(c))))
            #expect((try a.merging(a)) == a)
            #expect([.after, .equal].contains(ab.compare(a)))
            #expect([.after, .equal].contains(ab.compare(b)))
            for feed in feeds { #expect(ab.seq(of: feed) == max(a.seq(of: feed), b.seq(of: feed))) }
            // Fetching what is missing gets exactly to the merge.
            var reached = a
            for request in a.missing(toReach: b) {
                #expect(request.after == a.seq(of: request.feed))
                #expect(request.through == b.seq(of: request.feed))
                reached.advance(request.feed, to: b[request.feed]!)
            }
            #expect(reached == ab)
        }
    }

    @Test("compare is consistent in both directions and with merging")
    func compareLaws() async {
        await propertyCheck(count: 500, input: Self.frontiers, Self.frontiers) { a, b throws in
            let forward = a.compare(b)
            let backward = b.compare(a)
            switch forward {
            case .equal: #expect(backward == .equal); #expect(a == b)
            case .before: #expect(backward == .after); #expect(try a.merging(b) == b)
            case .after: #expect(backward == .before); #expect(try a.merging(b) == a)
            case .concurrent:
                #expect(backward == .concurrent)
                let merged = try a.merging(b)
                #expect(merged != a && merged != b)
            }
            #expect(try Frontier(canonicalBytes: a.canonicalBytes) == a)
        }
    }

    @Test("merging throws exactly when some feed has two hashes at one seq")
    func conflictLaw() async {
        await propertyCheck(count: 300, input: Self.frontiers, Gen.int(in: 0..<feeds.count), Gen.uint64(in: 1...6)) {
            a, index, seq throws in
            var forked = a
            // Another entry at `seq`: a fork when `a` holds exactly that seq.
            var heads = forked.heads
            heads[feeds[index]] = FeedAnchor(seq: seq, hash: entryHash(index, seq, fork: 1))
            forked = Frontier(heads)
            let conflict = conflictOnMerge(a, forked)
            if a.seq(of: feeds[index]) == seq {
                #expect(conflict?.feed == feeds[index])
                #expect(conflict?.seq == seq)
                #expect(a.conflicts(with: forked).map(\.feed) == [feeds[index]])
            } else {
                #expect(conflict == nil)
                #expect(a.conflicts(with: forked).isEmpty)
            }
        }
    }
}
