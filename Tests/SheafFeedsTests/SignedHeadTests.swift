import SheafCodec
import SheafCrypto
import SheafFeeds
import Testing

@Suite("SignedHead")
struct SignedHeadTests {
    static let head = SignedHead(signing: Fixtures.alice, seq: 300, hash: Hash.of([7], domain: FeedDomains.entry))

    @Test("the signature matches the documented known answer")
    func knownAnswer() throws {
        let keyPair = try #require(KeyPair(seed: hexBytes(KnownAnswers.seed)))
        let hash = Hash(raw: try #require(Bytes32(hexBytes(KnownAnswers.secondHash))))
        let head = SignedHead(signing: keyPair, seq: 2, hash: hash)
        #expect(head.signature.bytes == hexBytes(KnownAnswers.headSignature))
        #expect(SignedHead.signedBody(feed: keyPair.publicKey, seq: 2, hash: hash)
            == keyPair.publicKey.raw.bytes + [2, 0, 0, 0, 0, 0, 0, 0] + hash.raw.bytes)
    }

    @Test("a head verifies, and fails once any signed field changes")
    func verification() throws {
        let head = Self.head
        #expect(feedError { try head.verify() } == nil)
        #expect(head.anchor == FeedAnchor(seq: 300, hash: head.hash))

        var otherSeq = head
        otherSeq.seq = 301
        #expect(feedError { try otherSeq.verify() }?.code == .badSignature)
        var otherHash = head
        otherHash.hash = .zero
        #expect(feedError { try otherHash.verify() }?.code == .badSignature)
        var otherFeed = head
        otherFeed.feed = Fixtures.bob.publicKey
        #expect(feedError { try otherFeed.verify() }?.code == .badSignature)
        var flipped = head
        flipped.signature = flipR(head.signature, bit: 77)
        #expect(feedError { try flipped.verify() }?.code == .badSignature)
        var malleated = head
        malleated.signature = malleate(head.signature)
        #expect(feedError { try malleated.verify() }?.code == .nonCanonicalSignature)
        // The same body signed for another purpose is not a head signature.
        var otherDomain = head
        otherDomain.signature = Fixtures.alice.sign(SignedHead.signedBody(feed: head.feed, seq: head.seq, hash: head.hash),
                                                    domain: SignatureDomain("not-a-head"))
        #expect(feedError { try otherDomain.verify() }?.code == .badSignature)
    }

    @Test("the canonical encoding round-trips")
    func roundTrip() throws {
        let bytes = Self.head.canonicalBytes
        #expect(bytes.count == 32 + 2 + 32 + 64)
        #expect(bytes == Self.head.feed.raw.bytes + [0xAC, 0x02] + Self.head.hash.raw.bytes + Self.head.signature.bytes)
        #expect(try SignedHead(canonicalBytes: bytes) == Self.head)
    }

    @Test("seq 0 is an invalid value")
    func seqZero() throws {
        var head = Self.head
        head.seq = 0
        let error = try #require(decodingError { try SignedHead(canonicalBytes: head.canonicalBytes) })
        #expect(error.code == .invalidValue)
        #expect(error.field == "head.seq")
        #expect(error.offset == 32)
    }

    @Test("rejects truncated input at every cut point, and trailing bytes")
    func truncation() throws {
        let bytes = Self.head.canonicalBytes
        for length in 0..<bytes.count {
            let error = decodingError { try SignedHead(canonicalBytes: Array(bytes[..<length])) }
            #expect(error?.code == .truncated, "cut at \(length)")
        }
        let error = try #require(decodingError { try SignedHead(canonicalBytes: bytes + [0]) })
        #expect(error.code == .trailingBytes)
        #expect(error.offset == bytes.count)
    }
}
