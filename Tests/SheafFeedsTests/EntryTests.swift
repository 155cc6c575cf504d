import PropertyBased
import SheafCodec
import SheafCrypto
import SheafFeeds
import Testing

@Suite("Entry encoding")
struct EntryTests {
    /// A random, well-formed entry: fields of every magnitude, sorted deps.
    static func randomEntry(seed: UInt64) -> Entry {
        var rng = SplitMix64(seed: seed)
        func magnitude(_ range: ClosedRange<UInt64>) -> UInt64 {
            max(range.lowerBound, UInt64.random(in: range, using: &rng) >> UInt64.random(in: 0...63, using: &rng))
        }
        let feed = Fixtures.otherFeeds.randomElement(using: &rng)!
        let depFeeds = Fixtures.dependencyFeeds(Int.random(in: 0...5, using: &rng), seed: rng.next()).sorted()
        return Entry(feed: feed, seq: magnitude(1...UInt64.max),
                     previous: Hash(raw: Bytes32(rng.bytes(32))!),
                     lamport: magnitude(1...UInt64.max),
                     dependencies: depFeeds.map { Dependency(feed: $0, seq: magnitude(1...UInt64.max)) },
                     timestamp: magnitude(0...UInt64.max),
                     payload: rng.bytes(Int.random(in: 0...300, using: &rng)))
    }

    static let sample = Entry(
        feed: Fixtures.alice.publicKey, seq: 5, previous: Hash.of([1, 2, 3], domain: FeedDomains.entry), lamport: 9,
        dependencies: Fixtures.otherFeeds.prefix(3).sorted().enumerated().map { Dependency(feed: $1, seq: UInt64($0) + 200) },
        timestamp: 1_700_000_000_000, payload: Array("payload".utf8))

    /// Offset of the first dependency key in a body whose seq, lamport and
    /// timestamp are those of `entry`.
    static func dependencyStart(_ entry: Entry) -> Int {
        ByteWriter.varintSize(entry.seq) + 32 + ByteWriter.varintSize(entry.lamport)
            + ByteWriter.varintSize(entry.timestamp) + ByteWriter.varintSize(UInt64(entry.dependencies.count))
    }

    @Test("the body layout matches the documented known answer")
    func knownAnswer() throws {
        let feed = try #require(KeyPair(seed: hexBytes(KnownAnswers.seed))).publicKey
        let depFeed = try #require(PublicKey(hex: "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"))
        #expect(Entry.root(of: feed).hex == KnownAnswers.feedRoot)
        let entry = Entry(feed: feed, seq: 1, previous: Entry.root(of: feed), lamport: 1,
                          dependencies: [Dependency(feed: depFeed, seq: 300)],
                          timestamp: 1_700_000_000_000, payload: Array("hello".utf8))
        #expect(entry.body == hexBytes(KnownAnswers.firstBody))
        #expect(entry.hash.hex == KnownAnswers.firstHash)
        #expect(entry.canonicalBytes == feed.raw.bytes + entry.body)
    }

    @Test("body and standalone encodings round-trip")
    func roundTrip() async {
        await propertyCheck(count: 300, input: Gen.uint64()) { seed throws in
            let entry = Self.randomEntry(seed: seed)
            let body = entry.body
            #expect(try Entry(feed: entry.feed, body: body) == entry)
            #expect(entry.hash == Hash.of(body, domain: FeedDomains.entry))
            let standalone = entry.canonicalBytes
            #expect(standalone == entry.feed.raw.bytes + body)
            #expect(try Entry(canonicalBytes: standalone) == entry)
        }
    }

    @Test("the hash covers every field")
    func hashCoversFields() {
        let base = Self.sample
        var variants = [Entry]()
        var e = base; e.seq += 1; variants.append(e)
        e = base; e.previous = .zero; variants.append(e)
        e = base; e.lamport += 1; variants.append(e)
        e = base; e.timestamp += 1; variants.append(e)
        e = base; e.dependencies.removeLast(); variants.append(e)
        e = base; e.dependencies[0].seq += 1; variants.append(e)
        e = base; e.payload.append(0); variants.append(e)
        e = base; e.payload[0] ^= 1; variants.append(e)
        let hashes = Set(variants.map(\.hash) + [base.hash])
        #expect(hashes.count == variants.count + 1)
        // The feed is not in the body: it is bound through `previous` instead.
        e = base; e.feed = Fixtures.bob.publicKey
        #expect(e.hash == base.hash)
    }

    @Test("seq 0 is an invalid value")
    func seqZero() throws {
        var entry = Self.sample
        entry.seq = 0
        let error = try #require(decodingError { try Entry(feed: entry.feed, body: entry.body) })
        #expect(error.code == .invalidValue)
        #expect(error.field == "entry.seq")
        #expect(error.offset == 0)
        // In a standalone entry the offset counts the 32-byte key.
        let standalone = try #require(decodingError { try Entry(canonicalBytes: entry.canonicalBytes) })
        #expect(standalone.code == .invalidValue)
        #expect(standalone.offset == 32)
    }

    @Test("Lamport time 0 is an invalid value")
    func lamportZero() throws {
        var entry = Self.sample
        entry.lamport = 0
        let error = try #require(decodingError { try Entry(feed: entry.feed, body: entry.body) })
        #expect(error.code == .invalidValue)
        #expect(error.field == "entry.lamport")
        #expect(error.offset == 33)
    }

    @Test("unsorted or repeated dependency feeds are not canonical")
    func unsortedDependencies() throws {
        var swapped = Self.sample
        swapped.dependencies.swapAt(0, 1)
        let error = try #require(decodingError { try Entry(feed: swapped.feed, body: swapped.body) })
        #expect(error.code == .notCanonical)
        #expect(error.field == "entry.dependencies")
        let secondKey = Self.dependencyStart(swapped) + 32 + ByteWriter.varintSize(swapped.dependencies[0].seq)
        #expect(error.offset == secondKey)

        var repeated = Self.sample
        repeated.dependencies[1].feed = repeated.dependencies[0].feed
        let dup = try #require(decodingError { try Entry(feed: repeated.feed, body: repeated.body) })
        #expect(dup.code == .notCanonical)
        #expect(dup.offset == secondKey)
    }

    @Test("a dependency at seq 0 is an invalid value")
    func dependencySeqZero() throws {
        var entry = Self.sample
        entry.dependencies[0].seq = 0
        let error = try #require(decodingError { try Entry(feed: entry.feed, body: entry.body) })
        #expect(error.code == .invalidValue)
        #expect(error.field == "entry.dependency.seq")
        #expect(error.offset == Self.dependencyStart(entry) + 32)
    }

    @Test("bytes after the payload are trailing bytes")
    func trailing() throws {
        let body = Self.sample.body
        let error = try #require(decodingError { try Entry(feed: Self.sample.feed, body: body + [0]) })
        #expect(error.code == .trailingBytes)
        #expect(error.field == "entry")
        #expect(error.offset == body.count)
        let standalone = Self.sample.canonicalBytes
        let error2 = try #require(decodingError { try Entry(canonicalBytes: standalone + [0, 0]) })
        #expect(error2.code == .trailingBytes)
        #expect(error2.offset == standalone.count)
    }

    @Test("more than the dependency limit, or a payload over its limit, is over limit")
    func limits() throws {
        var many = Self.sample
        many.dependencies = Fixtures.dependencyFeeds(FeedLimits.maxDependencies + 1, seed: 9).sorted().map { Dependency(feed: $0, seq: 1) }
        let depError = try #require(decodingError { try Entry(feed: many.feed, body: many.body) })
        #expect(depError.code == .overLimit)
        #expect(depError.field == "entry.dependencies")
        #expect(depError.offset == Self.dependencyStart(many) - 1)

        var atLimit = many
        atLimit.dependencies.removeLast()
        #expect(try Entry(feed: atLimit.feed, body: atLimit.body) == atLimit)

        var big = Self.sample
        big.payload = [UInt8](repeating: 1, count: FeedLimits.maxPayloadBytes + 1)
        let payloadError = try #require(decodingError { try Entry(feed: big.feed, body: big.body) })
        #expect(payloadError.code == .overLimit)
        #expect(payloadError.field == "entry.payload")
        big.payload.removeLast()
        #expect(try Entry(feed: big.feed, body: big.body) == big)
    }

    @Test("a non-canonical varint in the body is rejected")
    func nonCanonicalVarint() throws {
        // seq 5 written as the overlong [0x85, 0x00].
        let body = Self.sample.body
        let overlong = [0x85, 0x00] + body.dropFirst()
        let error = try #require(decodingError { try Entry(feed: Self.sample.feed, body: Array(overlong)) })
        #expect(error.code == .nonCanonicalVarint)
        #expect(error.field == "entry.seq")
        #expect(error.offset == 0)
    }

    @Test("rejects truncated input at every cut point")
    func truncatedAtEveryCut() throws {
        for entry in [Self.sample, Self.randomEntry(seed: 77), Self.randomEntry(seed: 78)] {
            let standalone = entry.canonicalBytes
            for length in 0..<standalone.count {
                let error = decodingError { try Entry(canonicalBytes: Array(standalone[..<length])) }
                #expect(error?.code == .truncated, "standalone cut at \(length)")
            }
            let body = entry.body
            for length in 0..<body.count {
                let error = decodingError { try Entry(feed: entry.feed, body: Array(body[..<length])) }
                #expect(error?.code == .truncated, "body cut at \(length)")
            }
        }
    }
}
