import SheafCodec
import SheafCollections
import SheafCompression
import SheafCrypto
import SheafFeeds
import SheafModels
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
        ("entry", entry), ("manifest", manifest), ("chunk", chunk),
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

    private static func decodeLeaf(_ raw: [UInt8]) {
        var records = [(RecordKey, ObjectRecord)]()
        guard (try? LeafEncoding.decode(raw, decodeValue: { (reader: inout ByteReader) throws(DecodingError) in
            try ObjectStore.decode(&reader, version: 1)
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
        if !condition { fatalError("fuzz: \(what) decoded but does not re-encode to the same bytes") }
    }
}
