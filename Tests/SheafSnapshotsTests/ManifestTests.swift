import SheafCodec
import SheafCollections
import SheafCrypto
import SheafFeeds
import SheafSnapshots
import Testing

enum ManifestFixtures {
    /// A manifest over `count` byte records (`recordsPerChunk` 4), with a
    /// two-feed frontier and a little metadata.
    static func snapshot(count: Int, seed: UInt64 = 3, metadata: [UInt8] = [1, 2, 3]) throws -> Snapshot<[UInt8]> {
        var rng = SplitMix64(seed: seed)
        let map = Sample.map(Sample.records(count: count, seed: seed, valueBytes: 2...6))
        var chunks = MemoryChunks()
        let built = try Bytes.builder(recordsPerChunk: 4).build(map, metadata: metadata, into: &chunks)
        let manifest = makeManifest(built, model: "test.bytes", version: 1, frontier: Keys.frontier(feeds: 2, using: &rng))
        return Snapshot(records: map, built: built, manifest: manifest, chunks: chunks)
    }

    static func decodeError(_ bytes: [UInt8]) -> SnapshotError? { snapshotError { () throws(SnapshotError) in try SnapshotManifest(decoding: bytes) } }
}

@Suite("Snapshot manifests")
struct ManifestTests {
    @Test("encode → decode round trip, canonical bytes, id and signature")
    func roundTrip() throws {
        let snapshot = try ManifestFixtures.snapshot(count: 60)
        let manifest = snapshot.manifest
        let bytes = manifest.encoded
        let decoded = try SnapshotManifest(decoding: bytes)
        #expect(decoded == manifest)
        #expect(decoded.encoded == bytes)
        #expect(decoded.id == manifest.id && manifest.id == Hash.of(bytes, domain: SnapshotDomains.manifestID))
        try decoded.verifySignature()
        #expect(decoded.signer == Keys.signer.publicKey)
        #expect(bytes.starts(with: Array("sheafsnp".utf8)))
        #expect(Array(bytes.suffix(64)) == manifest.signature.bytes)
        #expect(Array(bytes.dropLast(64)) == manifest.signedBody)
        #expect(Keys.signer.publicKey.isValid(manifest.signature, over: manifest.signedBody, domain: SnapshotDomains.manifest))
        // The signature is domain separated: it is no attestation signature.
        #expect(!Keys.signer.publicKey.isValid(manifest.signature, over: manifest.signedBody, domain: SnapshotDomains.attestation))

        var later = manifest
        later.createdAt += 1
        #expect(later.id != manifest.id)
        #expect(snapshotError { () throws(SnapshotError) in try later.verifySignature() }?.code == .badSignature)
        var impostor = manifest
        impostor.signer = Keys.other.publicKey
        #expect(snapshotError { () throws(SnapshotError) in try impostor.verifySignature() }?.code == .badSignature)
        try resigned(impostor, by: Keys.other).verifySignature()
    }

    @Test("every flipped bit of a small manifest is a decode error or a signature failure")
    func everyBitFlip() throws {
        let manifest = try ManifestFixtures.snapshot(count: 3).manifest
        #expect(manifest.index.count == 1)
        let bytes = manifest.encoded
        var outcomes = [String: Int]()
        for bit in 0..<(bytes.count * 8) {
            var mutated = bytes
            mutated[bit / 8] ^= 1 << UInt8(bit % 8)
            do throws(SnapshotError) {
                let decoded = try SnapshotManifest(decoding: mutated)
                // What decodes is canonical: it re-encodes to the same bytes...
                #expect(decoded.encoded == mutated, "bit \(bit)")
                #expect(decoded != manifest)
                // ...and the signature no longer covers it.
                let failure = snapshotError { () throws(SnapshotError) in try decoded.verifySignature() }
                #expect(failure?.code == .badSignature, "bit \(bit) of \(bytes.count * 8) passed the signature check")
                outcomes["badSignature", default: 0] += 1
            } catch {
                #expect(["malformed", "inconsistent"].contains(error.code.kind), "bit \(bit): \(error)")
                outcomes[error.code.kind, default: 0] += 1
            }
        }
        #expect(outcomes.values.reduce(0, +) == bytes.count * 8)
        #expect(outcomes["malformed", default: 0] > 0 && outcomes["badSignature", default: 0] > 0)
    }

    @Test("truncation at every cut point, and a trailing byte, are typed decode errors")
    func truncation() throws {
        let bytes = try ManifestFixtures.snapshot(count: 40).manifest.encoded
        var truncated = 0
        for cut in 0..<bytes.count {
            let error = ManifestFixtures.decodeError(Array(bytes[0..<cut]))
            #expect(error?.code.kind == "malformed", "cut at \(cut)")
            if error?.code.decodingError?.code == .truncated { truncated += 1 }
        }
        #expect(truncated > bytes.count * 9 / 10, "most cuts are reported as truncated")
        #expect(ManifestFixtures.decodeError(bytes + [0])?.code.decodingError?.code == .trailingBytes)
    }

    @Test("lying counts are inconsistent, even when properly signed")
    func lyingCounts() throws {
        let manifest = try ManifestFixtures.snapshot(count: 80).manifest
        #expect(manifest.leafCount >= 4 && manifest.index.count >= 1)
        func rejected(_ change: (inout SnapshotManifest) -> Void) -> SnapshotError? {
            var m = manifest
            change(&m)
            return ManifestFixtures.decodeError(resigned(m).encoded)
        }
        #expect(rejected { $0.leafCount += 1 }?.code.kind == "inconsistent", "index lists fewer leaves")
        #expect(rejected { $0.leafCount -= 1 }?.code.kind == "inconsistent", "index lists more leaves")
        #expect(rejected { $0.index[0].leafCount += 1 }?.code.kind == "inconsistent")
        #expect(rejected { $0.recordCount = 0 }?.code.kind == "inconsistent", "records in no leaves")
        #expect(rejected { $0.recordCount = $0.leafCount - 1 }?.code.kind == "inconsistent", "fewer records than leaves")
        #expect(rejected { $0.leafCount = 0; $0.index = [] }?.code.kind == "inconsistent", "records but no leaves")
        #expect(rejected { $0.index.append($0.index[0]) }?.code.kind == "inconsistent")
        // Honest extremes decode: as many records as leaves, and the empty snapshot.
        #expect(rejected { $0.recordCount = $0.leafCount } == nil)
        #expect(rejected { $0.recordCount = 0; $0.leafCount = 0; $0.index = [] } == nil)
        // Counts beyond the format's limits.
        #expect(rejected { $0.recordCount = SnapshotLimits.maxRecords + 1 }?.code.decodingError?.field == "manifest.recordCount")
        #expect(rejected { $0.index[0].leafCount = SnapshotLimits.maxLeavesPerIndexChunk + 1 }?.code.decodingError?.field
            == "manifest.index.leaves")
    }

    @Test("fields outside their domains are malformed")
    func badFields() throws {
        let manifest = try ManifestFixtures.snapshot(count: 10).manifest
        let bytes = manifest.encoded
        func patched(_ offset: Int, _ value: UInt8) -> SnapshotError? {
            var b = bytes
            b[offset] = value
            return ManifestFixtures.decodeError(b)
        }
        #expect(patched(0, UInt8(ascii: "S"))?.code.decodingError?.field == "manifest.magic")
        #expect(patched(8, 2)?.code.decodingError?.field == "manifest.version")
        // magic 8 ‖ version 4 ‖ space 32 ‖ model (varint length, bytes) ‖ u32 version ‖ u8 content
        let nameOffset = 8 + 4 + 32
        #expect(bytes[nameOffset] == UInt8(manifest.model.utf8.count))
        #expect(patched(nameOffset + 1, 0xFF)?.code.decodingError?.field == "manifest.model", "not UTF-8")
        let contentOffset = nameOffset + 1 + manifest.model.utf8.count + 4
        #expect(bytes[contentOffset] == SnapshotContent.records.rawValue)
        #expect(patched(contentOffset, 3)?.code.decodingError?.field == "manifest.content")
        #expect(patched(contentOffset, 0)?.code.decodingError?.field == "manifest.content")
        var entries = manifest
        entries.content = .entries
        #expect(try SnapshotManifest(decoding: resigned(entries).encoded).content == .entries)

        var unnamed = manifest
        unnamed.model = ""
        #expect(ManifestFixtures.decodeError(resigned(unnamed).encoded)?.code.decodingError?.field == "manifest.model")
        var longName = manifest
        longName.model = String(repeating: "m", count: 65)
        #expect(ManifestFixtures.decodeError(resigned(longName).encoded)?.code.decodingError?.code == .overLimit)
        longName.model = String(repeating: "m", count: 64)
        #expect(ManifestFixtures.decodeError(resigned(longName).encoded) == nil)
    }

    @Test("metadata and manifests over their limits are refused")
    func limits() throws {
        var manifest = try ManifestFixtures.snapshot(count: 5).manifest
        manifest.metadata = [UInt8](repeating: 0xA5, count: SnapshotLimits.maxMetadataBytes + 1)
        let over = ManifestFixtures.decodeError(resigned(manifest).encoded)
        #expect(over?.code.decodingError?.code == .overLimit)
        #expect(over?.code.decodingError?.field == "manifest.metadata")
        manifest.metadata.removeLast()
        #expect(try SnapshotManifest(decoding: resigned(manifest).encoded).metadata.count == SnapshotLimits.maxMetadataBytes)

        let huge = [UInt8](repeating: 0, count: SnapshotLimits.maxManifestBytes + 1)
        #expect(ManifestFixtures.decodeError(huge)?.code.kind == "overLimit", "refused by size before parsing")
    }

    static func attestation(of manifest: SnapshotManifest, by key: KeyPair = Keys.other) -> Attestation {
        Attestation(space: manifest.space, model: manifest.model, modelVersion: manifest.modelVersion, frontier: manifest.frontier,
                    stateRoot: manifest.stateRoot, signedBy: key)
    }

    @Test("attestations: round trip, verify, matches()")
    func attestations() throws {
        let manifest = try ManifestFixtures.snapshot(count: 20).manifest
        let attestation = Self.attestation(of: manifest)
        let decoded = try Attestation(decoding: attestation.encoded)
        #expect(decoded == attestation && decoded.encoded == attestation.encoded)
        try decoded.verify()
        #expect(decoded.matches(manifest))
        #expect(Self.attestation(of: manifest, by: Keys.signer).matches(manifest), "any signer attests the same thing")

        // matches() compares every attested field.
        var rng = SplitMix64(seed: 9)
        var other = manifest
        other.stateRoot = Keys.hash(&rng)
        #expect(!attestation.matches(other))
        other = manifest
        other.frontier = Keys.frontier(feeds: 1, using: &rng)
        #expect(!attestation.matches(other))
        other = manifest
        other.space = Keys.publicKey(&rng)
        #expect(!attestation.matches(other))
        other = manifest
        other.model = "test.other"
        #expect(!attestation.matches(other))
        other = manifest
        other.modelVersion += 1
        #expect(!attestation.matches(other))
        other = manifest
        other.createdAt += 5
        other.metadata = [9]
        #expect(attestation.matches(other), "creation time and chunk details are not attested")

        // A changed field breaks the signature.
        var forged = attestation
        forged.stateRoot = Keys.hash(&rng)
        #expect(snapshotError { () throws(SnapshotError) in try forged.verify() }?.code == .badSignature)
        forged = attestation
        forged.signer = Keys.signer.publicKey
        #expect(snapshotError { () throws(SnapshotError) in try forged.verify() }?.code == .badSignature)
    }

    @Test("attestations: every flipped bit and every truncation is caught")
    func attestationDamage() throws {
        let manifest = try ManifestFixtures.snapshot(count: 5).manifest
        let bytes = Self.attestation(of: manifest).encoded
        var caughtBySignature = 0
        for bit in 0..<(bytes.count * 8) {
            var mutated = bytes
            mutated[bit / 8] ^= 1 << UInt8(bit % 8)
            do throws(SnapshotError) {
                let decoded = try Attestation(decoding: mutated)
                #expect(decoded.encoded == mutated, "bit \(bit)")
                #expect(snapshotError { () throws(SnapshotError) in try decoded.verify() }?.code == .badSignature, "bit \(bit)")
                caughtBySignature += 1
            } catch {
                #expect(error.code.kind == "malformed", "bit \(bit)")
            }
        }
        #expect(caughtBySignature > 0)
        for cut in 0..<bytes.count {
            let error = snapshotError { () throws(SnapshotError) in try Attestation(decoding: Array(bytes[0..<cut])) }
            #expect(error?.code.kind == "malformed", "cut at \(cut)")
        }
        #expect(snapshotError { () throws(SnapshotError) in try Attestation(decoding: bytes + [1]) }?.code.kind == "malformed")
    }
}
