import SheafCodec
import SheafCrypto
import SheafFeeds
import Testing

/// Alice writes three entries, then two different batches from the same tip:
/// two validly signed heads at seq 5 with different hashes.
private struct Fork {
    let a: SignedHead
    let b: SignedHead

    init(seed: UInt64 = 1) throws {
        var rng = SplitMix64(seed: seed)
        var writer = FeedWriter(keyPair: Fixtures.alice)
        _ = try Fixtures.appendBatch(&writer, count: 3, using: &rng)
        var twin = writer  // same key, same tip
        a = try writer.append([EntryDraft(payload: [1]), EntryDraft(payload: [2])], timestamp: 10).head
        b = try twin.append([EntryDraft(payload: [1]), EntryDraft(payload: [3])], timestamp: 10).head
    }
}

@Suite("ForkProof")
struct ForkProofTests {
    @Test("two heads at one seq with different hashes prove a fork")
    func proof() throws {
        let fork = try Fork()
        #expect(fork.a.seq == 5 && fork.b.seq == 5)
        #expect(fork.a.hash != fork.b.hash)
        let proof = try ForkProof(fork.a, fork.b)
        #expect(proof.feed == Fixtures.alice.publicKey)
        #expect(proof.seq == 5)
        #expect(proof.first.hash < proof.second.hash)
        #expect(Set([proof.first, proof.second]) == Set([fork.a, fork.b]))
        #expect(feedError { try proof.verify() } == nil)
    }

    @Test("the proof is the same whichever head comes first")
    func canonicalOrder() throws {
        for seed in UInt64(1)...10 {
            let fork = try Fork(seed: seed)
            let ab = try ForkProof(fork.a, fork.b)
            let ba = try ForkProof(fork.b, fork.a)
            #expect(ab == ba)
            #expect(ab.canonicalBytes == ba.canonicalBytes)
            #expect(ab.first.hash < ab.second.hash)
        }
    }

    @Test("the encoding round-trips and matches the documented layout")
    func encoding() throws {
        let proof = try ForkProof(try Fork().a, try Fork().b)
        let bytes = proof.canonicalBytes
        #expect(bytes == proof.feed.raw.bytes + [5]
            + proof.first.hash.raw.bytes + proof.first.signature.bytes
            + proof.second.hash.raw.bytes + proof.second.signature.bytes)
        let decoded = try ForkProof(canonicalBytes: bytes)
        #expect(decoded == proof)
        #expect(feedError { try decoded.verify() } == nil)
    }

    @Test("decoding refuses hashes out of order or equal")
    func decodeRejectsOrder() throws {
        let proof = try ForkProof(try Fork().a, try Fork().b)
        func encode(_ x: SignedHead, _ y: SignedHead) -> [UInt8] {
            var w = ByteWriter()
            x.feed.encode(into: &w)
            w.writeVarint(x.seq)
            x.hash.encode(into: &w)
            x.signature.encode(into: &w)
            y.hash.encode(into: &w)
            y.signature.encode(into: &w)
            return w.bytes
        }
        let secondHashOffset = 32 + 1 + 32 + 64
        let reversed = try #require(decodingError { try ForkProof(canonicalBytes: encode(proof.second, proof.first)) })
        #expect(reversed.code == .notCanonical)
        #expect(reversed.field == "fork.second.hash")
        #expect(reversed.offset == secondHashOffset)

        let same = try #require(decodingError { try ForkProof(canonicalBytes: encode(proof.first, proof.first)) })
        #expect(same.code == .notCanonical)
        #expect(same.offset == secondHashOffset)
    }

    @Test("decoding refuses seq 0, cuts and trailing bytes")
    func decodeRejectsMalformed() throws {
        let proof = try ForkProof(try Fork().a, try Fork().b)
        var bytes = proof.canonicalBytes
        for length in 0..<bytes.count {
            let error = decodingError { try ForkProof(canonicalBytes: Array(bytes[..<length])) }
            #expect(error?.code == .truncated, "cut at \(length)")
        }
        let trailing = try #require(decodingError { try ForkProof(canonicalBytes: bytes + [0]) })
        #expect(trailing.code == .trailingBytes)
        #expect(trailing.offset == bytes.count)

        bytes[32] = 0  // seq 5 -> 0
        let zero = try #require(decodingError { try ForkProof(canonicalBytes: bytes) })
        #expect(zero.code == .invalidValue)
        #expect(zero.field == "fork.seq")
        #expect(zero.offset == 32)
    }

    @Test("verify() fails once a decoded signature is tampered with")
    func tamperedSignature() throws {
        let proof = try ForkProof(try Fork().a, try Fork().b)
        let bytes = proof.canonicalBytes
        // First signature's R, second signature's S (lowest bit: stays canonical).
        let firstSig = 32 + 1 + 32, secondS = firstSig + 64 + 32 + 32
        for (index, expected) in [(firstSig + 3, FeedError.Code.badSignature), (secondS, .badSignature)] {
            var tampered = bytes
            tampered[index] ^= 0x01
            let decoded = try ForkProof(canonicalBytes: tampered)  // the shape is still fine
            #expect(feedError { try decoded.verify() }?.code == expected, "byte \(index)")
        }
        var malleated = bytes
        let sPlusL = malleate(proof.first.signature).s.bytes
        malleated.replaceSubrange((firstSig + 32)..<(firstSig + 64), with: sPlusL)
        #expect(feedError { try ForkProof(canonicalBytes: malleated).verify() }?.code == .nonCanonicalSignature)
    }

    @Test("heads that do not prove a fork are refused")
    func notAFork() throws {
        let fork = try Fork()
        func isNotAFork(_ code: FeedError.Code?) -> Bool {
            if case .notAFork? = code { return true }
            return false
        }
        // The same head twice.
        #expect(isNotAFork(feedError { try ForkProof(fork.a, fork.a) }?.code))
        // Different seqs.
        let later = SignedHead(signing: Fixtures.alice, seq: 6, hash: .zero)
        #expect(isNotAFork(feedError { try ForkProof(fork.a, later) }?.code))
        // Different feeds.
        let bobs = SignedHead(signing: Fixtures.bob, seq: 5, hash: .zero)
        #expect(isNotAFork(feedError { try ForkProof(fork.a, bobs) }?.code))
        // A head whose signature does not verify proves nothing.
        var forged = fork.b
        forged.signature = flipR(forged.signature)
        #expect(feedError { try ForkProof(fork.a, forged) }?.code == .badSignature)
        #expect(feedError { try ForkProof(forged, fork.a) }?.code == .badSignature)
        var malleated = fork.b
        malleated.signature = malleate(malleated.signature)
        #expect(feedError { try ForkProof(fork.a, malleated) }?.code == .nonCanonicalSignature)
    }
}
