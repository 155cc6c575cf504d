import SheafCodec
import SheafCollections
import SheafCrypto

/// Where chunk boundaries fall, decided by keys alone so every node cuts the
/// same state into the same chunks, and a change to one record moves no
/// boundary outside its own run.
///
/// A record ends a chunk when the boundary hash of its key is 0 modulo
/// `recordsPerChunk` (a *natural* boundary), or when the chunk reaches
/// `8 × recordsPerChunk` records (a *forced* boundary, which bounds chunk
/// size however keys are chosen). A natural boundary whose hash is also 0
/// modulo `recordsPerChunk × 16` ends an index group as well.
public struct ChunkBoundaries: Hashable, Sendable {
    public let recordsPerChunk: UInt64
    public let maxRecordsPerChunk: Int
    public static let leavesPerIndexGroup: UInt64 = 16
    public static let maxLeavesPerIndexGroup = 256

    public init(recordsPerChunk: Int) {
        precondition(recordsPerChunk >= 1 && recordsPerChunk <= 1024)
        self.recordsPerChunk = UInt64(recordsPerChunk)
        maxRecordsPerChunk = recordsPerChunk * 8
    }

    @inline(__always)
    static func hash(_ key: RecordKey) -> UInt64 {
        let h = key.bytes.withUnsafeBytes { Hash.of($0, domain: SnapshotDomains.boundary) }
        return h.raw.firstWord
    }

    func isNatural(_ hash: UInt64) -> Bool { hash % recordsPerChunk == 0 }

    func endsIndexGroup(_ hash: UInt64) -> Bool {
        isNatural(hash) && (hash / recordsPerChunk) % Self.leavesPerIndexGroup == 0
    }
}

/// A leaf chunk as the state and the manifest know it.
public struct LeafChunk: Hashable, Sendable {
    public var id: Hash
    public var rawSize: Int
    public var compressedSize: Int
    public var recordCount: Int
    /// Key range, kept in memory to re-chunk only what changed.
    public var firstKey: RecordKey
    public var lastKey: RecordKey
    /// Whether the chunk ends at a natural boundary (not forced, not the end).
    public var endsNaturally: Bool
    /// Whether the chunk also ends an index group.
    public var endsIndexGroup: Bool
}

/// Encodes and decodes the records of a leaf chunk:
/// `varint n ‖ n × (varint keyLength ‖ key ‖ varint valueLength ‖ value)`,
/// keys strictly ascending.
public enum LeafEncoding {
    public static func decode<Record>(
        _ raw: [UInt8], decodeValue: (inout ByteReader) throws(DecodingError) -> Record,
        into records: inout [(RecordKey, Record)], after previous: RecordKey?
    ) throws(DecodingError) {
        try forEachRecord(raw, after: previous, decodeValue: decodeValue) { records.append(($0, $1)) }
    }

    /// Decodes the records in order, handing each to `body` as it is read.
    public static func forEachRecord<Record>(
        _ raw: [UInt8], after previous: RecordKey? = nil, decodeValue: (inout ByteReader) throws(DecodingError) -> Record,
        _ body: (RecordKey, Record) -> Void
    ) throws(DecodingError) {
        var reader = ByteReader(raw)
        let count = try reader.readCount("leaf.count", limit: SnapshotLimits.maxRecordsPerChunk, minElementSize: 2)
        guard count > 0 else { throw DecodingError(.invalidValue, at: 0, field: "leaf.count", detail: "empty chunk") }
        var last = previous
        for _ in 0..<count {
            let offset = reader.offset
            let key = RecordKey(try reader.readLengthPrefixed("leaf.key", limit: SnapshotLimits.maxKeyBytes))
            if let last, !(last < key) {
                throw DecodingError(.notCanonical, at: offset, field: "leaf.key", detail: "keys must ascend")
            }
            last = key
            let length = try reader.readCount("leaf.value.length", limit: SnapshotLimits.maxChunkRawBytes)
            let range = try reader.readRange("leaf.value", count: length)
            var valueReader = ByteReader(raw, range: range)
            let value = try decodeValue(&valueReader)
            try valueReader.expectEnd("leaf.value")
            body(key, value)
        }
        try reader.expectEnd("leaf")
    }
}

/// Index chunk: `varint n ‖ n × (id ‖ varint rawSize ‖ varint compressedSize ‖ varint recordCount)`.
public struct IndexEntry: Hashable, Sendable {
    public var id: Hash
    public var rawSize: Int
    public var compressedSize: Int
    public var recordCount: Int

    static func encode(_ entries: ArraySlice<LeafChunk>) -> [UInt8] {
        var writer = ByteWriter(capacity: 8 + entries.count * 42)
        writer.writeVarint(UInt64(entries.count))
        for leaf in entries {
            leaf.id.encode(into: &writer)
            writer.writeVarint(UInt64(leaf.rawSize))
            writer.writeVarint(UInt64(leaf.compressedSize))
            writer.writeVarint(UInt64(leaf.recordCount))
        }
        return writer.bytes
    }

    public static func decode(_ raw: [UInt8]) throws(DecodingError) -> [IndexEntry] {
        var reader = ByteReader(raw)
        let count = try reader.readCount("index.count", limit: SnapshotLimits.maxLeavesPerIndexChunk, minElementSize: 35)
        var out = [IndexEntry]()
        out.reserveCapacity(count)
        for _ in 0..<count {
            let id = try Hash(from: &reader)
            let raw = try reader.readVarint("index.rawSize", in: 1...UInt64(SnapshotLimits.maxChunkRawBytes))
            let compressed = try reader.readVarint("index.compressedSize", in: 1...UInt64(SnapshotLimits.maxChunkCompressedBytes))
            let records = try reader.readVarint("index.recordCount", in: 1...UInt64(SnapshotLimits.maxRecordsPerChunk))
            out.append(IndexEntry(id: id, rawSize: Int(raw), compressedSize: Int(compressed), recordCount: Int(records)))
        }
        try reader.expectEnd("index")
        return out
    }
}

/// The canonical identity of a state: BLAKE2b over the model, the hash of
/// the replica metadata (admission state), and the list of leaf chunks (id,
/// raw size, record count). Compressed sizes and the index grouping are left
/// out, so any honest node gets the same root.
public enum StateRoot {
    public static func compute<S: Sequence>(model: String, version: UInt32, metadata: [UInt8], recordCount: UInt64,
                                            leaves: S) -> Hash
    where S.Element == (id: Hash, rawSize: Int, recordCount: Int) {
        let hasher = Hasher(domain: SnapshotDomains.stateRoot)
        var writer = ByteWriter(capacity: 4096)
        writer.writeLengthPrefixed(Array(model.utf8))
        writer.writeUInt32(version)
        Hash.of(metadata, domain: SnapshotDomains.metadata).encode(into: &writer)
        writer.writeVarint(recordCount)
        for leaf in leaves {
            leaf.id.encode(into: &writer)
            writer.writeVarint(UInt64(leaf.rawSize))
            writer.writeVarint(UInt64(leaf.recordCount))
            if writer.count >= 4000 {
                hasher.update(writer.bytes)
                writer.removeAll()
            }
        }
        hasher.update(writer.bytes)
        return hasher.finalize()
    }
}
