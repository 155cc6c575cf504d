import SheafCodec
import SheafCrypto
import SheafFeeds
import Testing

/// Two consecutive batches of Alice's feed: seqs 1...6, then 7...11.
private struct TwoBatches {
    let first: VerifiedBatch
    let second: VerifiedBatch
    let firstEntries: [Entry]
    let secondEntries: [Entry]

    init() throws {
        var rng = SplitMix64(seed: 42)
        var writer = FeedWriter(keyPair: Fixtures.alice)
        first = try Fixtures.appendBatch(&writer, count: 6, payloadSizes: 0...40, using: &rng)
        second = try Fixtures.appendBatch(&writer, count: 5, payloadSizes: 0...40, using: &rng)
        firstEntries = try first.entries()
        secondEntries = try second.entries()
    }

    var feed: PublicKey { Fixtures.alice.publicKey }
    var genesis: FeedAnchor { .genesis(of: feed) }
    var mid: FeedAnchor { first.head.anchor }
}

@Suite("RangeVerifier")
struct RangeVerifierTests {
    // MARK: Valid ranges

    @Test("a range verifies from genesis through both APIs")
    func fromGenesis() throws {
        let f = try TwoBatches()
        let viaEntries = try RangeVerifier.verify(f.firstEntries, from: f.genesis, to: f.first.head, feed: f.feed)
        let viaEncoded = try RangeVerifier.verify(encodedRange: f.first.encodedRange(), from: f.genesis, feed: f.feed)
        for batch in [viaEntries, viaEncoded] {
            #expect(batch.anchor == f.genesis)
            #expect(batch.head == f.first.head)
            #expect(batch.count == 6)
            #expect(batch.seqs == 1...6)
            #expect(try batch.entries() == f.firstEntries)
            #expect((0..<6).allSatisfy { batch.body(at: $0) == f.first.body(at: $0) })
        }
        // Re-encoding what was verified gives the bytes that were received.
        #expect(viaEncoded.encodedRange() == f.first.encodedRange())
    }

    @Test("a later batch verifies from the earlier batch's head")
    func fromMidFeedAnchor() throws {
        let f = try TwoBatches()
        #expect(rangeError(f.secondEntries, from: f.mid, to: f.second.head, feed: f.feed) == nil)
        let batch = try RangeVerifier.verify(encodedRange: f.second.encodedRange(), from: f.mid, feed: f.feed)
        #expect(batch.seqs == 7...11)
        #expect(try batch.entries() == f.secondEntries)
        // Both batches together verify from genesis to the second head.
        #expect(rangeError(f.firstEntries + f.secondEntries, from: f.genesis, to: f.second.head, feed: f.feed) == nil)
    }

    @Test("a later batch does not verify from the wrong anchor")
    func wrongAnchor() throws {
        let f = try TwoBatches()
        // From genesis: seq 1 is expected and seq 7 arrives.
        #expect(rangeError(f.secondEntries, from: f.genesis, to: f.second.head, feed: f.feed) == .gap(expected: 1, found: 7))
        // Right seq, wrong hash: the chain does not attach.
        let forged = FeedAnchor(seq: 6, hash: f.firstEntries[4].hash)
        #expect(rangeError(f.secondEntries, from: forged, to: f.second.head, feed: f.feed) == .wrongPrevious(seq: 7))
        // Another feed's genesis.
        #expect(rangeError(f.firstEntries, from: .genesis(of: Fixtures.bob.publicKey), to: f.first.head, feed: f.feed)
            == .wrongPrevious(seq: 1))
        // An anchor one further on: entry 7 is now a duplicate of what we hold.
        let ahead = FeedAnchor(seq: 7, hash: f.secondEntries[0].hash)
        #expect(rangeError(f.secondEntries, from: ahead, to: f.second.head, feed: f.feed) == .duplicate(seq: 7))
    }

    // MARK: Each error has its own code

    @Test("a dropped entry is a gap")
    func gap() throws {
        let f = try TwoBatches()
        var entries = f.firstEntries
        entries.remove(at: 2)
        #expect(rangeError(entries, from: f.genesis, to: f.first.head, feed: f.feed) == .gap(expected: 3, found: 4))
        var noFirst = f.secondEntries
        noFirst.removeFirst()
        #expect(rangeError(noFirst, from: f.mid, to: f.second.head, feed: f.feed) == .gap(expected: 7, found: 8))
    }

    @Test("two swapped entries are out of order")
    func outOfOrder() throws {
        let f = try TwoBatches()
        var entries = f.firstEntries
        entries.swapAt(1, 4)
        #expect(rangeError(entries, from: f.genesis, to: f.first.head, feed: f.feed) == .outOfOrder(expected: 2, found: 5))
        var adjacent = f.secondEntries
        adjacent.swapAt(3, 4)
        #expect(rangeError(adjacent, from: f.mid, to: f.second.head, feed: f.feed) == .outOfOrder(expected: 10, found: 11))
    }

    @Test("a repeated entry is a duplicate")
    func duplicate() throws {
        let f = try TwoBatches()
        var entries = f.firstEntries
        entries.insert(entries[3], at: 4)
        #expect(rangeError(entries, from: f.genesis, to: f.first.head, feed: f.feed) == .duplicate(seq: 4))
        var atEnd = f.secondEntries
        atEnd.append(atEnd[0])
        #expect(rangeError(atEnd, from: f.mid, to: f.second.head, feed: f.feed) == .duplicate(seq: 7))
    }

    @Test("an entry that does not name its predecessor's hash breaks the chain")
    func wrongPrevious() throws {
        let f = try TwoBatches()
        var entries = f.firstEntries
        entries[3].previous = entries[1].hash
        #expect(rangeError(entries, from: f.genesis, to: f.first.head, feed: f.feed) == .wrongPrevious(seq: 4))
        // A changed payload changes the entry's hash: its successor no longer chains.
        var payload = f.firstEntries
        payload[2].payload.append(1)
        #expect(rangeError(payload, from: f.genesis, to: f.first.head, feed: f.feed) == .wrongPrevious(seq: 4))
    }

    @Test("an entry or head of another feed is the wrong feed")
    func wrongFeed() throws {
        let f = try TwoBatches()
        let alice = f.feed, bob = Fixtures.bob.publicKey
        var rng = SplitMix64(seed: 7)
        var bobWriter = FeedWriter(keyPair: Fixtures.bob)
        let bobBatch = try Fixtures.appendBatch(&bobWriter, count: 6, using: &rng)
        let bobEntries = try bobBatch.entries()

        // An entry of Bob's among Alice's.
        var mixed = f.firstEntries
        mixed[2] = bobEntries[2]
        #expect(feedError { try RangeVerifier.verify(mixed, from: f.genesis, to: f.first.head, feed: alice) }?.code
            == .wrongFeed(expected: alice, found: bob))
        // Alice's entries relabelled as Bob's.
        var relabelled = f.firstEntries
        relabelled[0].feed = bob
        #expect(feedError { try RangeVerifier.verify(relabelled, from: f.genesis, to: f.first.head, feed: alice) }?.code
            == .wrongFeed(expected: alice, found: bob))
        // Alice's entries under Bob's head.
        #expect(feedError { try RangeVerifier.verify(f.firstEntries, from: f.genesis, to: bobBatch.head, feed: alice) }?.code
            == .wrongFeed(expected: alice, found: bob))
        // Bob's range offered as Alice's.
        #expect(feedError { try RangeVerifier.verify(encodedRange: bobBatch.encodedRange(), from: f.genesis, feed: alice) }?.code
            == .wrongFeed(expected: alice, found: bob))
        // Bob's whole range and head, with Alice's key swapped into the head:
        // the signature no longer verifies.
        var bobAsAlice = bobBatch.head
        bobAsAlice.feed = alice
        #expect(rangeError(bobEntries.map { var e = $0; e.feed = alice; return e }, from: f.genesis, to: bobAsAlice, feed: alice)
            == .badSignature)
    }

    @Test("a head whose signature does not verify is a bad signature")
    func badSignature() throws {
        let f = try TwoBatches()
        var flippedR = f.first.head
        flippedR.signature = flipR(flippedR.signature)
        #expect(rangeError(f.firstEntries, from: f.genesis, to: flippedR, feed: f.feed) == .badSignature)

        // Flip the lowest bit of S: still below L, so canonical, but wrong.
        var flippedS = f.first.head
        var s = flippedS.signature.s.bytes
        s[0] ^= 1
        flippedS.signature = Signature(r: flippedS.signature.r, s: try #require(Bytes32(s)))
        #expect(flippedS.signature.hasCanonicalScalar)
        #expect(rangeError(f.firstEntries, from: f.genesis, to: flippedS, feed: f.feed) == .badSignature)

        // The signature of another head.
        var swapped = f.first.head
        swapped.signature = f.second.head.signature
        #expect(rangeError(f.firstEntries, from: f.genesis, to: swapped, feed: f.feed) == .badSignature)

        // A head signed by someone else for Alice's feed.
        let forged = SignedHead(feed: f.feed, seq: f.first.head.seq, hash: f.first.head.hash,
                                signature: SignedHead(signing: Fixtures.bob, seq: f.first.head.seq, hash: f.first.head.hash).signature)
        #expect(rangeError(f.firstEntries, from: f.genesis, to: forged, feed: f.feed) == .badSignature)
    }

    @Test("a malleated signature (S + L) is non-canonical")
    func nonCanonicalSignature() throws {
        let f = try TwoBatches()
        var head = f.first.head
        head.signature = malleate(head.signature)
        #expect(!head.signature.hasCanonicalScalar)
        #expect(rangeError(f.firstEntries, from: f.genesis, to: head, feed: f.feed) == .nonCanonicalSignature)
    }

    @Test("a range that does not end at its head is a head mismatch")
    func headMismatch() throws {
        let f = try TwoBatches()
        // Shorter than the head.
        #expect(rangeError(Array(f.firstEntries.dropLast()), from: f.genesis, to: f.first.head, feed: f.feed)
            == .headMismatch(seq: 6))
        // A validly signed head at the right seq for another entry.
        let other = SignedHead(signing: Fixtures.alice, seq: 6, hash: .zero)
        #expect(rangeError(f.firstEntries, from: f.genesis, to: other, feed: f.feed) == .headMismatch(seq: 6))
        // A validly signed head further on than the range.
        let further = SignedHead(signing: Fixtures.alice, seq: 7, hash: f.first.head.hash)
        #expect(rangeError(f.firstEntries, from: f.genesis, to: further, feed: f.feed) == .headMismatch(seq: 7))
        // The second batch's entries under the first batch's head.
        #expect(rangeError(f.secondEntries, from: f.mid, to: f.first.head, feed: f.feed) == .headMismatch(seq: 6))
    }

    @Test("a range without entries is empty")
    func emptyRange() throws {
        let f = try TwoBatches()
        #expect(rangeError([], from: f.mid, to: f.first.head, feed: f.feed) == .emptyRange)
        #expect(rangeError([], from: f.genesis, to: f.first.head, feed: f.feed) == .emptyRange)
    }

    @Test("Lamport times that do not rise are a regression")
    func lamportRegression() throws {
        let genesis = FeedAnchor.genesis(of: Fixtures.alice.publicKey)
        let (equal, equalHead) = Fixtures.handChain(Fixtures.alice, from: genesis, lamports: [1, 2, 2, 3])
        #expect(rangeError(equal, from: genesis, to: equalHead, feed: Fixtures.alice.publicKey) == .lamportRegression(seq: 3))
        let (lower, lowerHead) = Fixtures.handChain(Fixtures.alice, from: genesis, lamports: [5, 3])
        #expect(rangeError(lower, from: genesis, to: lowerHead, feed: Fixtures.alice.publicKey) == .lamportRegression(seq: 2))
        // The same chain with rising times is accepted: only the times were wrong.
        let (rising, risingHead) = Fixtures.handChain(Fixtures.alice, from: genesis, lamports: [1, 2, 7, 8])
        #expect(rangeError(rising, from: genesis, to: risingHead, feed: Fixtures.alice.publicKey) == nil)
    }

    // MARK: Malformed input

    @Test("an entry that does not encode canonically is malformed")
    func malformedEntry() throws {
        let genesis = FeedAnchor.genesis(of: Fixtures.alice.publicKey)
        var (entries, _) = Fixtures.handChain(Fixtures.alice, from: genesis, lamports: [1, 2])
        entries[1].dependencies = Fixtures.otherFeeds.prefix(2).sorted().reversed().map { Dependency(feed: $0, seq: 1) }
        let head = SignedHead(signing: Fixtures.alice, seq: 2, hash: entries[1].hash)
        guard case .malformed(let error)? = rangeError(entries, from: genesis, to: head, feed: Fixtures.alice.publicKey) else {
            Issue.record("unsorted dependencies were not reported as malformed")
            return
        }
        #expect(error.code == .notCanonical)
        #expect(error.field == "entry.dependencies")
    }

    @Test("an encoded range cut at any point is malformed (truncated)")
    func truncatedRange() throws {
        let f = try TwoBatches()
        let bytes = f.first.encodedRange()
        for length in 0..<bytes.count {
            let code = feedError { try RangeVerifier.verify(encodedRange: Array(bytes[..<length]), from: f.genesis, feed: f.feed) }?.code
            guard case .malformed(let error)? = code else {
                Issue.record("cut at \(length): \(String(describing: code))")
                continue
            }
            #expect(error.code == .truncated, "cut at \(length)")
        }
    }

    @Test("bytes after an encoded range are malformed (trailing)")
    func trailingRange() throws {
        let f = try TwoBatches()
        let bytes = f.first.encodedRange()
        let code = feedError { try RangeVerifier.verify(encodedRange: bytes + [0], from: f.genesis, feed: f.feed) }?.code
        guard case .malformed(let error)? = code else {
            Issue.record("expected malformed, got \(String(describing: code))")
            return
        }
        #expect(error.code == .trailingBytes)
        #expect(error.field == "range")
        #expect(error.offset == bytes.count)
    }

    @Test("a range with more entries than allowed is malformed (over limit)")
    func tooManyEntries() throws {
        let f = try TwoBatches()
        let bytes = f.first.encodedRange()
        #expect(feedError { try RangeVerifier.verify(encodedRange: bytes, from: f.genesis, feed: f.feed, maxEntries: 6) } == nil)
        let code = feedError { try RangeVerifier.verify(encodedRange: bytes, from: f.genesis, feed: f.feed, maxEntries: 5) }?.code
        guard case .malformed(let error)? = code else {
            Issue.record("expected malformed, got \(String(describing: code))")
            return
        }
        #expect(error.code == .overLimit)
        #expect(error.field == "range.count")
        #expect(error.offset == f.first.head.canonicalBytes.count)
    }

    @Test("a body length beyond the bytes sent is malformed, before anything is allocated")
    func hugeBodyLength() throws {
        let f = try TwoBatches()
        var writer = ByteWriter()
        f.first.head.encode(into: &writer)
        writer.writeVarint(1)
        writer.writeVarint(UInt64(FeedLimits.maxEntryBodyBytes))  // at the limit, but absent
        writer.writeRaw([UInt8](repeating: 0, count: 40))
        let code = feedError { try RangeVerifier.verify(encodedRange: writer.bytes, from: f.genesis, feed: f.feed) }?.code
        guard case .malformed(let error)? = code else {
            Issue.record("expected malformed, got \(String(describing: code))")
            return
        }
        #expect(error.code == .truncated)
        #expect(error.field == "range.body.length")
    }
}
