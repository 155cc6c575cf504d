import SheafCodec
import SheafCrypto
import Testing

@Suite("BLAKE2b-256 hashing")
struct HashTests {
    private static let domainA = HashDomain("test/a")
    private static let domainB = HashDomain("test/b")

    // Known answers computed with CPython's independent BLAKE2b
    // (hashlib.blake2b(data, digest_size=32, person=b"sheaf/entry/v1")).
    @Test("known answers for a personalised domain", arguments: [
        ("", "9cb921e6c0b5205748b75185e12b771097e4dacecf8d44455693aed75f939d20"),
        ("abc", "07fcd15a3cd0947b787ef96ed2bf971e7771a5b06c4d0797a3be15aad78a1204"),
    ])
    func knownAnswers(input: String, expected: String) {
        let domain = HashDomain("sheaf/entry/v1")
        let hash = Hash.of(Array(input.utf8), domain: domain)
        #expect(hash.raw.bytes == hexBytes(expected))
        #expect(hash.hex == expected)
    }

    @Test("the domain label fills BLAKE2b's 16-byte personalisation, zero-padded")
    func domainPersonalisation() {
        let domain = HashDomain("sheaf/entry/v1")
        #expect(domain.personal == Array("sheaf/entry/v1".utf8) + [0, 0])
        #expect(domain.label == "sheaf/entry/v1")
        #expect(HashDomain("0123456789abcdef").personal == Array("0123456789abcdef".utf8))
    }

    @Test("the same input in different domains gives different digests")
    func domainSeparation() {
        var rng = SplitMix64(seed: 1)
        for length in [0, 1, 31, 32, 64, 127, 128, 129, 1000] {
            let input = rng.bytes(length)
            let a = Hash.of(input, domain: Self.domainA)
            let b = Hash.of(input, domain: Self.domainB)
            #expect(a != b, "length \(length)")
            // A prefix of a label is another domain too.
            #expect(Hash.of(input, domain: HashDomain("test/")) != a)
        }
    }

    @Test("hashing is deterministic")
    func deterministic() {
        var rng = SplitMix64(seed: 2)
        let input = rng.bytes(500)
        let first = Hash.of(input, domain: Self.domainA)
        #expect(Hash.of(input, domain: Self.domainA) == first)
        #expect(Hash.of(Array(input), domain: HashDomain("test/a")) == first)
        #expect(input.withUnsafeBytes { Hash.of($0, domain: Self.domainA) } == first)
        // A non-contiguous collection hashes the same bytes.
        #expect(Hash.of(input.lazy.map { $0 }, domain: Self.domainA) == first)
        #expect(Hash.of(input[100...], domain: Self.domainA) == Hash.of(Array(input[100...]), domain: Self.domainA))
    }

    @Test("the digest depends on every byte")
    func dependsOnEveryByte() {
        var rng = SplitMix64(seed: 3)
        let input = rng.bytes(300)  // spans three BLAKE2b blocks
        let original = Hash.of(input, domain: Self.domainA)
        var seen: Set<Hash> = [original]
        for i in input.indices {
            var changed = input
            changed[i] ^= 0x01
            let hash = Hash.of(changed, domain: Self.domainA)
            #expect(hash != original, "byte \(i)")
            seen.insert(hash)
        }
        #expect(seen.count == input.count + 1)
        // Length matters too: appending a zero byte changes the digest.
        #expect(Hash.of(input + [0], domain: Self.domainA) != original)
        #expect(Hash.of(input.dropLast(), domain: Self.domainA) != original)
    }

    @Test("streaming over random splits equals one-shot")
    func streamingEqualsOneShot() {
        var rng = SplitMix64(seed: 4)
        for _ in 0..<400 {
            let length = Int.random(in: 0...700, using: &rng)
            let input = rng.bytes(length)
            let cuts = (0..<Int.random(in: 0...6, using: &rng)).map { _ in Int.random(in: 0...length, using: &rng) }
            let points = ([0, length] + cuts).sorted()
            let hasher = Hasher(domain: Self.domainB)
            for (lo, hi) in zip(points, points.dropFirst()) {
                if Bool.random(using: &rng) {
                    hasher.update(input[lo..<hi])
                } else {
                    input.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[lo..<hi])) }
                }
            }
            #expect(hasher.finalize() == Hash.of(input, domain: Self.domainB), "length \(length), cuts \(points)")
        }
    }

    @Test("a streaming hasher keeps its domain")
    func streamingDomain() {
        let input = Array("hello".utf8)
        let a = Hasher(domain: Self.domainA)
        a.update(input)
        let b = Hasher(domain: Self.domainB)
        b.update(input)
        let (ha, hb) = (a.finalize(), b.finalize())
        #expect(ha == Hash.of(input, domain: Self.domainA))
        #expect(hb == Hash.of(input, domain: Self.domainB))
        #expect(ha != hb)
        let empty = Hasher(domain: Self.domainA)
        #expect(empty.finalize() == Hash.of([UInt8](), domain: Self.domainA))
    }

    @Test("a copied hasher digests the prefix while the original goes on")
    func copyReadsARunningDigest() {
        var rng = SplitMix64(seed: 6)
        let head = rng.bytes(300)
        let tail = rng.bytes(77)
        let hasher = Hasher(domain: Self.domainA)
        hasher.update(head)
        let snapshot = hasher.copy()
        hasher.update(tail)
        #expect(snapshot.finalize() == Hash.of(head, domain: Self.domainA))
        #expect(hasher.finalize() == Hash.of(head + tail, domain: Self.domainA))
    }

    @Test("hashes encode as their 32 bytes and order like them")
    func encoding() throws {
        var rng = SplitMix64(seed: 5)
        for _ in 0..<50 {
            let a = Hash.of(rng.bytes(8), domain: Self.domainA)
            let b = Hash.of(rng.bytes(8), domain: Self.domainA)
            #expect(a.canonicalBytes == a.raw.bytes)
            #expect(try Hash(canonicalBytes: a.canonicalBytes) == a)
            #expect((a < b) == a.raw.bytes.lexicographicallyPrecedes(b.raw.bytes))
        }
        #expect(Hash.zero.raw == .zero)
    }
}
