import SheafCodec
import SheafCollections
import SheafCompression
import SheafCrypto

/// How a snapshot's records are encoded: the model's record codec.
public struct RecordCodec<Record: Sendable>: Sendable {
    public let encode: @Sendable (Record, inout ByteWriter) -> Void
    public let isEqual: @Sendable (Record, Record) -> Bool

    public init(encode: @escaping @Sendable (Record, inout ByteWriter) -> Void,
                isEqual: @escaping @Sendable (Record, Record) -> Bool) {
        self.encode = encode
        self.isEqual = isEqual
    }
}

/// Where built chunks go: the snapshot store's pack being written.
public protocol ChunkSink {
    /// The compressed size of a chunk already stored, or nil.
    func storedSize(of id: Hash) -> Int?
    /// Stores a new chunk.
    mutating func put(id: Hash, rawSize: Int, compressed: [UInt8]) throws(SnapshotError)
}

/// The leaf chunks of a state, in key order, as of one snapshot.
public struct ChunkLayout: Sendable {
    public var leaves: [LeafChunk]
    public var recordCount: UInt64

    public init(leaves: [LeafChunk] = [], recordCount: UInt64 = 0) {
        self.leaves = leaves
        self.recordCount = recordCount
    }

    public var rawBytes: UInt64 { leaves.reduce(0) { $0 + UInt64($1.rawSize) } }
    public var compressedBytes: UInt64 { leaves.reduce(0) { $0 + UInt64($1.compressedSize) } }

    /// Index of the last leaf whose first key is ≤ `key` (0 if none).
    func leafIndex(for key: RecordKey) -> Int {
        var lo = 0
        var hi = leaves.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if leaves[mid].firstKey <= key { lo = mid } else { hi = mid - 1 }
        }
        return lo
    }
}

/// A reference from a manifest to an index chunk.
public struct IndexChunkRef: Hashable, Sendable {
    public var id: Hash
    public var rawSize: Int
    public var compressedSize: Int
    public var leafCount: Int
}

/// What building a snapshot produced.
public struct BuiltSnapshot: Sendable {
    public var layout: ChunkLayout
    public var index: [IndexChunkRef]
    public var metadata: [UInt8]
    public var stateRoot: Hash
    /// Leaf chunks encoded (hashed, and compressed if new) by this build.
    public var leavesEncoded: Int
    /// Chunks and compressed bytes this build added to the store.
    public var newChunks: Int
    public var newBytes: Int
    public var indexBytes: Int { index.reduce(0) { $0 + $1.compressedSize } }
}

/// Cuts a state into content-defined chunks, compresses the new ones into a
/// sink, and computes the state root.
///
/// Given the previous snapshot's layout and the keys changed since (from
/// `SortedMap.changedKeys`), only the runs of chunks holding changed keys are
/// re-encoded; every other chunk keeps its id without being touched.
public struct SnapshotBuilder<Record: Sendable> {
    public let model: String
    public let version: UInt32
    public let codec: RecordCodec<Record>
    public let boundaries: ChunkBoundaries
    /// One compression context for every chunk this builder writes.
    let compressor = Zstd.Compressor(level: Zstd.defaultLevel)

    public init(model: String, version: UInt32, codec: RecordCodec<Record>, recordsPerChunk: Int) {
        self.model = model
        self.version = version
        self.codec = codec
        boundaries = ChunkBoundaries(recordsPerChunk: recordsPerChunk)
    }

    /// Builds from scratch.
    public func build<Sink: ChunkSink>(_ records: SortedMap<Record>, metadata: [UInt8], into sink: inout Sink) throws(SnapshotError) -> BuiltSnapshot {
        var cutter = Cutter(builder: self)
        var failure: SnapshotError?
        records.forEach { key, value in
            do throws(SnapshotError) { try cutter.add(key, value, sink: &sink) } catch { failure = error; return false }
            return true
        }
        if let failure { throw failure }
        try cutter.finish(sink: &sink)
        return try finish(ChunkLayout(leaves: cutter.leaves, recordCount: UInt64(records.count)), metadata: metadata,
                          encoded: cutter.encoded, sink: &sink, startBytes: cutter.newBytes, startChunks: cutter.newChunks)
    }

    /// Builds from `previous` (the layout of `previousRecords`), re-encoding
    /// only the chunk runs that hold `changed` keys.
    public func build<Sink: ChunkSink>(_ records: SortedMap<Record>, metadata: [UInt8], previous: ChunkLayout,
                                       changed: [RecordKey], into sink: inout Sink) throws(SnapshotError) -> BuiltSnapshot {
        guard !previous.leaves.isEmpty else { return try build(records, metadata: metadata, into: &sink) }
        let old = previous.leaves
        var leaves = [LeafChunk]()
        leaves.reserveCapacity(old.count + 16)
        var cutter = Cutter(builder: self)
        var nextOld = 0
        var k = 0
        while k < changed.count {
            var i = previous.leafIndex(for: changed[k])
            while i > 0 && !old[i - 1].endsNaturally { i -= 1 }
            i = max(i, nextOld)
            leaves.append(contentsOf: old[nextOld..<i])
            nextOld = i
            // Re-cut from just after the natural boundary that ends leaf i-1.
            let start: RecordKey? = i == 0 ? nil : RecordKey(old[i - 1].lastKey.bytes + [0])
            cutter.leaves = []
            var aligned = false
            var failure: SnapshotError?
            records.forEach(from: start) { key, value in
                do throws(SnapshotError) {
                    guard let finished = try cutter.add(key, value, sink: &sink) else { return true }
                    while k < changed.count && changed[k] <= key { k += 1 }
                    // Stop once every changed key so far is covered and the
                    // new cut lands on a natural boundary the old layout had.
                    if finished.endsNaturally, k == changed.count || changed[k] > key,
                       let m = Self.oldLeaf(endingAt: key, in: old, from: nextOld), old[m].endsNaturally {
                        nextOld = m + 1
                        aligned = true
                        return false
                    }
                    return true
                } catch {
                    failure = error
                    return false
                }
            }
            if let failure { throw failure }
            if !aligned {
                try cutter.finish(sink: &sink)
                nextOld = old.count
                k = changed.count
            }
            leaves.append(contentsOf: cutter.leaves)
        }
        leaves.append(contentsOf: old[nextOld...])
        return try finish(ChunkLayout(leaves: leaves, recordCount: UInt64(records.count)), metadata: metadata, encoded: cutter.encoded,
                          sink: &sink, startBytes: cutter.newBytes, startChunks: cutter.newChunks)
    }

    private static func oldLeaf(endingAt key: RecordKey, in old: [LeafChunk], from: Int) -> Int? {
        var lo = from
        var hi = old.count - 1
        guard lo <= hi else { return nil }
        while lo < hi {
            let mid = (lo + hi) / 2
            if old[mid].lastKey < key { lo = mid + 1 } else { hi = mid }
        }
        return old[lo].lastKey == key ? lo : nil
    }

    /// Groups leaves into index chunks and computes the root.
    private func finish<Sink: ChunkSink>(_ layout: ChunkLayout, metadata: [UInt8], encoded: Int, sink: inout Sink,
                                         startBytes: Int, startChunks: Int) throws(SnapshotError) -> BuiltSnapshot {
        var newBytes = startBytes
        var newChunks = startChunks
        var index = [IndexChunkRef]()
        var groupStart = 0
        let leaves = layout.leaves
        for i in leaves.indices {
            let size = i - groupStart + 1
            guard leaves[i].endsIndexGroup || size == ChunkBoundaries.maxLeavesPerIndexGroup || i == leaves.count - 1 else { continue }
            let raw = IndexEntry.encode(leaves[groupStart...i])
            let id = Hash.of(raw, domain: SnapshotDomains.chunk)
            var compressedSize = sink.storedSize(of: id)
            if compressedSize == nil {
                let compressed = try compress(raw)
                try sink.put(id: id, rawSize: raw.count, compressed: compressed)
                compressedSize = compressed.count
                newBytes += compressed.count
                newChunks += 1
            }
            index.append(IndexChunkRef(id: id, rawSize: raw.count, compressedSize: compressedSize ?? 0, leafCount: size))
            groupStart = i + 1
        }
        let root = StateRoot.compute(model: model, version: version, metadata: metadata, recordCount: layout.recordCount,
                                     leaves: leaves.lazy.map { (id: $0.id, rawSize: $0.rawSize, recordCount: $0.recordCount) })
        return BuiltSnapshot(layout: layout, index: index, metadata: metadata, stateRoot: root, leavesEncoded: encoded,
                             newChunks: newChunks, newBytes: newBytes)
    }

    func compress(_ raw: [UInt8]) throws(SnapshotError) -> [UInt8] {
        do { return try compressor.compress(raw) } catch { throw SnapshotError(.compression(error)) }
    }

    /// Accumulates records and cuts them into leaf chunks.
    struct Cutter {
        let builder: SnapshotBuilder
        var leaves: [LeafChunk] = []
        var body = ByteWriter(capacity: 1 << 16)
        var count = 0
        var firstKey: RecordKey?
        var lastKey: RecordKey?
        var encoded = 0
        var newBytes = 0
        var newChunks = 0
        var value = ByteWriter(capacity: 1024)

        init(builder: SnapshotBuilder) { self.builder = builder }

        /// Adds a record; returns the chunk it completed, if any.
        @discardableResult
        mutating func add<Sink: ChunkSink>(_ key: RecordKey, _ record: Record, sink: inout Sink) throws(SnapshotError) -> LeafChunk? {
            guard key.bytes.count <= SnapshotLimits.maxKeyBytes else { throw SnapshotError(.overLimit("record key of \(key.bytes.count) bytes")) }
            if firstKey == nil { firstKey = key }
            lastKey = key
            value.removeAll()
            builder.codec.encode(record, &value)
            body.writeLengthPrefixed(key.bytes)
            body.writeLengthPrefixed(value.bytes)
            count += 1
            let hash = ChunkBoundaries.hash(key)
            let natural = builder.boundaries.isNatural(hash)
            guard natural || count == builder.boundaries.maxRecordsPerChunk else { return nil }
            return try cut(natural: natural, group: builder.boundaries.endsIndexGroup(hash), sink: &sink)
        }

        mutating func finish<Sink: ChunkSink>(sink: inout Sink) throws(SnapshotError) {
            guard count > 0, let lastKey else { return }
            let hash = ChunkBoundaries.hash(lastKey)
            // The final chunk may end at a natural boundary by itself; if not,
            // it is marked so that appending keys after it re-cuts it.
            let natural = builder.boundaries.isNatural(hash)
            try cut(natural: natural, group: natural && builder.boundaries.endsIndexGroup(hash), sink: &sink)
        }

        @discardableResult
        private mutating func cut<Sink: ChunkSink>(natural: Bool, group: Bool, sink: inout Sink) throws(SnapshotError) -> LeafChunk {
            var raw = ByteWriter(capacity: body.count + 4)
            raw.writeVarint(UInt64(count))
            body.withUnsafeBytes { raw.writeRaw($0) }
            guard raw.count <= SnapshotLimits.maxChunkRawBytes else {
                throw SnapshotError(.overLimit("chunk of \(raw.count) bytes"))
            }
            let id = Hash.of(raw.bytes, domain: SnapshotDomains.chunk)
            var compressedSize = sink.storedSize(of: id)
            if compressedSize == nil {
                let compressed = try builder.compress(raw.bytes)
                try sink.put(id: id, rawSize: raw.count, compressed: compressed)
                compressedSize = compressed.count
                newBytes += compressed.count
                newChunks += 1
            }
            encoded += 1
            let leaf = LeafChunk(id: id, rawSize: raw.count, compressedSize: compressedSize ?? 0, recordCount: count,
                                 firstKey: firstKey ?? RecordKey([]), lastKey: lastKey ?? RecordKey([]),
                                 endsNaturally: natural, endsIndexGroup: group)
            leaves.append(leaf)
            body.removeAll()
            count = 0
            firstKey = nil
            lastKey = nil
            return leaf
        }
    }
}
