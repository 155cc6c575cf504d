import SheafCodec
import SheafCollections
import SheafCompression
import SheafCrypto
import SheafFeeds
import SheafModels
import SheafProtocol
import SheafSnapshots

/// The bodies of Sheaf's fuzz targets. libFuzzer drives them from the
/// `FuzzTesting` package; `make test` replays the committed corpus and every
/// regression input through the same functions.
///
/// Each body must never crash on any input. Where a decoder accepts bytes,
/// the value must re-encode to exactly those bytes (one canonical form); a
/// violation is a bug and traps, so the fuzzer reports it.
public enum FuzzTargets {
    public static let all: [(name: String, body: @Sendable ([UInt8]) -> Void)] = [
        ("entry", entry), ("manifest", manifest), ("chunk", chunk), ("wire", wire),
    ]

    /// Entry-level decoders: the first byte picks one.
    public static func entry(_ data: [UInt8]) {
        guard let selector = data.first else { return }
        let bytes = Array(data.dropFirst())
        switch selector % 5 {
        case 0:
            if let value = try? Entry(canonicalBytes: bytes) { check(value.canonicalBytes == bytes, "entry") }
        case 1:
            if let value = try? SignedHead(canonicalBytes: bytes) { check(value.canonicalBytes == bytes, "signed head") }
        case 2:
            if let value = try? Frontier(canonicalBytes: bytes) { check(value.canonicalBytes == bytes, "frontier") }
        case 3:
            if let value = try? ForkProof(canonicalBytes: bytes) { check(value.canonicalBytes == bytes, "fork proof") }
        default:
            // A range verified from the genesis of whatever feed its head names.
            var reader = ByteReader(bytes)
            guard let head = try? SignedHead(from: &reader) else { return }
            if let batch = try? RangeVerifier.verify(encodedRange: bytes, from: .genesis(of: head.feed), feed: head.feed,
                                                     maxEntries: 4096) {
                check(batch.encodedRange() == bytes, "range")
            }
        }
    }

    /// Manifests and attestations.
    public static func manifest(_ data: [UInt8]) {
        guard let selector = data.first else { return }
        let bytes = Array(data.dropFirst())
        if selector % 2 == 0 {
            if let value = try? SnapshotManifest(decoding: bytes) {
                check(value.encoded == bytes, "manifest")
                _ = try? value.verifySignature()
            }
        } else if let value = try? Attestation(decoding: bytes) {
            check(value.encoded == bytes, "attestation")
            _ = try? value.verify()
        }
    }

    /// Chunks: zstd frames (bounded), index chunks, and object-store leaves.
    public static func chunk(_ data: [UInt8]) {
        guard let selector = data.first else { return }
        let bytes = Array(data.dropFirst())
        switch selector % 3 {
        case 0:
            if let raw = try? Zstd.decompress(bytes, maxOutput: 1 << 20) {
                check(raw.count <= 1 << 20, "decompressed past the limit")
                decodeLeaf(raw)
            }
        case 1:
            _ = try? IndexEntry.decode(bytes)
        default:
            decodeLeaf(bytes)
        }
    }

    /// Limits small enough that inputs of fuzzer size reach every bound.
    private static let tightWireLimits = WireLimits(
        maxFrameBytes: 2048, maxShufflePeers: 3, maxAnnouncements: 3, maxOffers: 2, maxChunkRequests: 3, maxAttestations: 2,
        maxAttestationBytes: 64, maxFrontierFeeds: 3, maxEndpointBytes: 16, maxRangeBytes: 256, maxManifestBytes: 256,
        maxChunkBytes: 256)

    /// A whole wire frame, as a peer sends it. Limits only reject: a frame
    /// within the tight limits decodes to the same message under the defaults.
    public static func wire(_ data: [UInt8]) {
        guard let message = try? WireCodec.decode(data) else {
            invariant((try? WireCodec.decode(data, limits: tightWireLimits)) == nil, "wire: tighter limits accepted more")
            return
        }
        check(WireCodec.encode(message) == data, "wire message")
        if let tight = try? WireCodec.decode(data, limits: tightWireLimits) {
            invariant(tight == message && WireCodec.encode(tight) == data, "wire: limits changed the decoded message")
        }
    }

    private static func decodeLeaf(_ raw: [UInt8]) {
        var records = [(RecordKey, ObjectRecord)]()
        guard (try? LeafEncoding.decode(raw, decodeValue: { (reader: inout ByteReader) throws(DecodingError) in
            try ObjectStore.decode(&reader, version: ObjectStore.descriptor.version)
        }, into: &records, after: nil)) != nil else { return }
        // Canonical: the records re-encode to the same leaf.
        var writer = ByteWriter()
        writer.writeVarint(UInt64(records.count))
        for (key, record) in records {
            writer.writeLengthPrefixed(key.bytes)
            var value = ByteWriter()
            ObjectStore.encode(record, into: &value)
            writer.writeLengthPrefixed(value.bytes)
        }
        check(writer.bytes == raw, "leaf")
    }

    private static func check(_ condition: Bool, _ what: String) {
        invariant(condition, "\(what) decoded but does not re-encode to the same bytes")
    }

    private static func invariant(_ condition: Bool, _ violation: String) {
        if !condition { fatalError("fuzz: \(violation)") }
    }
}
