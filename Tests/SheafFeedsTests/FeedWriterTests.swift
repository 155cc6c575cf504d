import SheafCodec
import SheafCrypto
import SheafFeeds
import Testing

@Suite("FeedWriter")
struct FeedWriterTests {
    @Test("entries chain from the feed root, one seq after another")
    func chain() throws {
        var rng = SplitMix64(seed: 1)
        var writer = FeedWriter(keyPair: Fixtures.alice)
        let feed = Fixtures.alice.publicKey
        #expect(writer.feed == feed)
        #expect(writer.tip == .genesis(of: feed))
        #expect(writer.tip.seq == 0)
        #expect(writer.tip.hash == Entry.root(of: feed))

        let batch = try Fixtures.appendBatch(&writer, count: 7, using: &rng)
        let entries = try batch.entries()
        #expect(entries.count == 7)
        #expect(batch.count == 7)
        #expect(batch.feed == feed)
        #expect(batch.anchor == .genesis(of: feed))
        #expect(batch.seqs == 1...7)
        #expect(entries.map(\.seq) == Array(1...7))
        #expect(entries.allSatisfy { $0.feed == feed })
        #expect(entries[0].previous == Entry.root(of: feed))
        for i in 1..<entries.count {
            #expect(entries[i].previous == entries[i - 1].hash, "entry \(i + 1)")
        }
        for (i, entry) in entries.enumerated() {
            #expect(Array(batch.body(at: i)) == entry.body)
        }
        // The root is bound to the key: other feeds start elsewhere.
        #expect(Entry.root(of: Fixtures.bob.publicKey) != Entry.root(of: feed))
    }

    @Test("the signed head names the last entry and verifies")
    func signedHead() throws {
        var rng = SplitMix64(seed: 2)
        var writer = FeedWriter(keyPair: Fixtures.alice)
        #expect(writer.signTip() == nil)
        let batch = try Fixtures.appendBatch(&writer, count: 4, using: &rng)
        let last = try #require(try batch.entries().last)
        #expect(batch.head.feed == Fixtures.alice.publicKey)
        #expect(batch.head.seq == 4)
        #expect(batch.head.hash == last.hash)
        #expect(feedError { try batch.head.verify() } == nil)
        #expect(writer.tip == batch.head.anchor)
        // Re-signing the tip gives the same (deterministic) head.
        let resigned = try #require(writer.signTip())
        #expect(resigned == batch.head)
    }

    @Test("the tip advances across batches and the chain continues")
    func tipAdvances() throws {
        var rng = SplitMix64(seed: 3)
        var writer = FeedWriter(keyPair: Fixtures.alice)
        var anchor = writer.tip
        var previousHead: SignedHead?
        for size in [1, 5, 2, 9] {
            let batch = try Fixtures.appendBatch(&writer, count: size, using: &rng)
            #expect(batch.anchor == anchor)
            #expect(batch.seqs == (anchor.seq + 1)...(anchor.seq + UInt64(size)))
            let entries = try batch.entries()
            #expect(entries.first?.previous == anchor.hash)
            if let previousHead { #expect(batch.head.seq == previousHead.seq + UInt64(size)) }
            #expect(writer.tip == batch.head.anchor)
            // Each batch verifies on its own from the previous batch's head.
            #expect(feedError { try RangeVerifier.verify(entries, from: anchor, to: batch.head, feed: writer.feed) } == nil)
            anchor = batch.head.anchor
            previousHead = batch.head
        }
        #expect(writer.tip.seq == 17)
    }

    @Test("Lamport times rise strictly and exceed what was observed")
    func lamport() throws {
        var writer = FeedWriter(keyPair: Fixtures.alice)
        let observed: [UInt64] = [0, 50, 10, 0, 200, 200, 3]
        let drafts = observed.map { EntryDraft(payload: [1], observedLamport: $0) }
        let entries = try writer.append(drafts, timestamp: 1).entries()
        var last: UInt64 = 0
        for (entry, seen) in zip(entries, observed) {
            #expect(entry.lamport > last, "seq \(entry.seq)")
            #expect(entry.lamport > seen, "seq \(entry.seq)")
            last = entry.lamport
        }
        #expect(writer.lamport == last)

        // The next batch continues above the last one even when it observes nothing.
        let next = try writer.append([EntryDraft(payload: [])], timestamp: 2).entries()
        #expect(next[0].lamport > last)
        #expect(writer.lamport == next[0].lamport)
    }

    @Test("an observed Lamport time of 2^64 - 1 is refused, not overflowed")
    func lamportExhaustion() throws {
        // A peer's entry may carry the largest Lamport time: it verifies.
        let bob = Fixtures.bob.publicKey
        let genesis = FeedAnchor.genesis(of: bob)
        let (entries, head) = Fixtures.handChain(Fixtures.bob, from: genesis, lamports: [UInt64.max])
        let received = try RangeVerifier.verify(entries, from: genesis, to: head, feed: bob)
        let observed = try received.entries()[0].lamport
        #expect(observed == UInt64.max)

        // A writer that observed it cannot rise above it: an error, not a trap.
        var writer = FeedWriter(keyPair: Fixtures.alice)
        let draft = EntryDraft(payload: [], dependencies: [Dependency(feed: bob, seq: 1)], observedLamport: observed)
        #expect(feedError { try writer.append([draft], timestamp: 1) }?.code == .lamportRegression(seq: 1))
        #expect(writer.tip == .genesis(of: writer.feed))
        #expect(writer.lamport == 0)

        // One below the maximum fits once; after that the feed's clock is spent.
        let last = try writer.append([EntryDraft(payload: [], observedLamport: UInt64.max - 1)], timestamp: 2)
        #expect(try last.entries()[0].lamport == UInt64.max)
        #expect(feedError { try writer.append([EntryDraft(payload: [])], timestamp: 3) }?.code == .lamportRegression(seq: 2))
        #expect(writer.tip == last.head.anchor)
    }

    @Test("a resumed writer continues the chain and the clock")
    func resume() throws {
        var rng = SplitMix64(seed: 4)
        var writer = FeedWriter(keyPair: Fixtures.alice)
        let first = try Fixtures.appendBatch(&writer, count: 3, using: &rng)

        var resumed = FeedWriter(keyPair: Fixtures.alice, resumingAfter: first.head.anchor, lamport: writer.lamport)
        #expect(resumed.tip == writer.tip)
        let second = try resumed.append([EntryDraft(payload: [9])], timestamp: 5)
        let entry = try #require(try second.entries().first)
        #expect(entry.seq == 4)
        #expect(entry.previous == first.head.hash)
        #expect(entry.lamport > writer.lamport)
        #expect(feedError { try RangeVerifier.verify(encodedRange: second.encodedRange(), from: first.head.anchor,
                                                     feed: Fixtures.alice.publicKey) } == nil)
    }

    @Test("dependencies are sorted, one per feed at its highest seq, own feed dropped")
    func dependenciesNormalised() throws {
        var writer = FeedWriter(keyPair: Fixtures.alice)
        let own = writer.feed
        let (a, b, c) = (Fixtures.otherFeeds[0], Fixtures.otherFeeds[1], Fixtures.otherFeeds[2])
        let given = [
            Dependency(feed: b, seq: 3), Dependency(feed: a, seq: 5), Dependency(feed: b, seq: 7),
            Dependency(feed: own, seq: 9), Dependency(feed: a, seq: 2), Dependency(feed: c, seq: 1),
            Dependency(feed: own, seq: 1), Dependency(feed: c, seq: 1),
        ]
        let entry = try #require(try writer.append([EntryDraft(payload: [], dependencies: given)], timestamp: 1).entries().first)

        // Expected, computed independently: highest seq per other feed, by key bytes.
        var highest = [[UInt8]: UInt64]()
        for dep in given where dep.feed != own { highest[dep.feed.raw.bytes] = max(highest[dep.feed.raw.bytes] ?? 0, dep.seq) }
        let expected = highest.sorted { $0.key.lexicographicallyPrecedes($1.key) }
        #expect(entry.dependencies.map(\.feed.raw.bytes) == expected.map(\.key))
        #expect(entry.dependencies.map(\.seq) == expected.map(\.value))
        #expect(entry.dependencies.count == 3)
        #expect(!entry.dependencies.contains { $0.feed == own })
    }

    @Test("normalisation happens before the dependency limit is applied")
    func dependencyLimit() throws {
        let feeds = Fixtures.dependencyFeeds(FeedLimits.maxDependencies + 1, seed: 5)
        var writer = FeedWriter(keyPair: Fixtures.alice)

        // Exactly the limit is fine, and verifies.
        let atLimit = feeds.prefix(FeedLimits.maxDependencies).map { Dependency(feed: $0, seq: 1) }
        let batch = try writer.append([EntryDraft(payload: [], dependencies: atLimit)], timestamp: 1)
        #expect(try batch.entries()[0].dependencies.count == FeedLimits.maxDependencies)
        #expect(feedError { try RangeVerifier.verify(encodedRange: batch.encodedRange(), from: batch.anchor, feed: writer.feed) } == nil)

        // 64 distinct feeds plus duplicates and the own feed still normalise to 64.
        let padded = atLimit + atLimit.map { Dependency(feed: $0.feed, seq: 2) } + [Dependency(feed: writer.feed, seq: 1)]
        #expect(throws: Never.self) { try writer.append([EntryDraft(payload: [], dependencies: padded)], timestamp: 2) }

        // One more distinct feed is too many; the writer does not move.
        let tip = writer.tip, lamport = writer.lamport
        let tooMany = feeds.map { Dependency(feed: $0, seq: 1) }
        let error = feedError { try writer.append([EntryDraft(payload: [1]), EntryDraft(payload: [], dependencies: tooMany)], timestamp: 3) }
        #expect(error?.code == .tooManyDependencies(count: FeedLimits.maxDependencies + 1, limit: FeedLimits.maxDependencies))
        #expect(writer.tip == tip)
        #expect(writer.lamport == lamport)
    }

    @Test("a payload over the limit is refused and the writer does not move")
    func payloadLimit() throws {
        var writer = FeedWriter(keyPair: Fixtures.alice)
        let max = FeedLimits.maxPayloadBytes
        let error = feedError {
            try writer.append([EntryDraft(payload: [1]), EntryDraft(payload: [UInt8](repeating: 0, count: max + 1))], timestamp: 1)
        }
        #expect(error?.code == .payloadTooLarge(size: max + 1, limit: max))
        #expect(writer.tip == .genesis(of: writer.feed))
        #expect(writer.lamport == 0)

        // Exactly the limit is accepted, verified, and starts at seq 1.
        let batch = try writer.append([EntryDraft(payload: [UInt8](repeating: 7, count: max))], timestamp: 1)
        #expect(batch.head.seq == 1)
        #expect(feedError { try RangeVerifier.verify(encodedRange: batch.encodedRange(), from: batch.anchor, feed: writer.feed) } == nil)
    }

    @Test("an empty batch is refused")
    func emptyBatch() {
        var writer = FeedWriter(keyPair: Fixtures.alice)
        #expect(feedError { try writer.append([], timestamp: 1) }?.code == .emptyRange)
        #expect(writer.tip.seq == 0)
    }

    @Test("every entry carries the batch timestamp and its own payload")
    func fieldsCarried() throws {
        var rng = SplitMix64(seed: 6)
        var writer = FeedWriter(keyPair: Fixtures.bob)
        let drafts = Fixtures.drafts(count: 10, ownFeed: writer.feed, using: &rng)
        let entries = try writer.append(drafts, timestamp: 123_456_789).entries()
        #expect(entries.map(\.payload) == drafts.map(\.payload))
        #expect(entries.allSatisfy { $0.timestamp == 123_456_789 })
    }

    @Test("a writer's output matches the documented layout byte for byte")
    func knownAnswer() throws {
        // Computed independently (Python: hashlib.blake2b and the `cryptography`
        // package's Ed25519) from docs/FORMATS.md, for the RFC 8032 test-1 key.
        let keyPair = try #require(KeyPair(seed: hexBytes("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")))
        let depFeed = try #require(PublicKey(hex: "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"))
        var writer = FeedWriter(keyPair: keyPair)
        let batch = try writer.append([
            EntryDraft(payload: Array("hello".utf8), dependencies: [Dependency(feed: depFeed, seq: 300)]),
            EntryDraft(payload: []),
        ], timestamp: 1_700_000_000_000)
        #expect(batch.encodedRange() == hexBytes(KnownAnswers.range))
        #expect(batch.head.hash.hex == KnownAnswers.secondHash)
    }
}

/// Known-answer vectors for the feed formats; see `FeedWriterTests.knownAnswer`.
enum KnownAnswers {
    static let seed = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
    static let feedRoot = "746988528c9832df41fa95286cf7b45dffc93e70170a7e6fdae100b546b3658a"
    /// seq 1, previous = root, lamport 1, timestamp 1_700_000_000_000,
    /// one dependency (RFC 8032 test-2 key, seq 300), payload "hello".
    static let firstBody = "01746988528c9832df41fa95286cf7b45dffc93e70170a7e6fdae100b546b3658a0180d095ffbc3101"
        + "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660cac020568656c6c6f"
    static let firstHash = "b95665ffdf52e04dd0862caba305db1a295f219633d3ae3fc630ace94fde297d"
    /// seq 2, lamport 2, same timestamp, no dependencies, empty payload.
    static let secondHash = "c63bd3c9b7529e0e9659518d6bd7f710abb80d3c7f769ed727d8b94fa914cc9b"
    /// Signature of the head at seq 2.
    static let headSignature = "0af68911856be2db14d4676a59cbf73d76b3995ad9f76b6e4b7bed85906e4846"
        + "db9ca3aebe73039346ca98438d8f73b067e33c30a9a8a4525ae064faa4eab90a"
    /// The encoded range of both entries under that head.
    static let range = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a02"
        + "c63bd3c9b7529e0e9659518d6bd7f710abb80d3c7f769ed727d8b94fa914cc9b"
        + headSignature
        + "0251" + firstBody
        + "2a02b95665ffdf52e04dd0862caba305db1a295f219633d3ae3fc630ace94fde297d0280d095ffbc310000"
}
