import SheafCodec
import SheafCollections
import SheafCompression
import SheafCrypto
import SheafParallel

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
public struct SnapshotBuilder<Record: Sendable>: Sendable {
    public let model: String
    public let version: UInt32
    public let codec: RecordCodec<Record>
    public let boundaries: ChunkBoundaries
    public var level: Int32 = Zstd.defaultLevel
    /// Threads that encode and compress chunks. Background snapshots leave a
    /// core to the writers; foreground work (a state root on restart) uses all.
    public var workers: Int = Parallel.processorCount

    public init(model: String, version: UInt32, codec: RecordCodec<Record>, recordsPerChunk: Int) {
        self.model = model
        self.version = version
        self.codec = codec
        boundaries = ChunkBoundaries(recordsPerChunk: recordsPerChunk)
    }

    /// Builds from scratch.
    public func build<Sink: ChunkSink>(_ records: SortedMap<Record>, metadata: [UInt8], into sink: inout Sink) throws(SnapshotError) -> BuiltSnapshot {
        var cutter = KeyCutter(boundaries: boundaries)
        var pending = [PendingChunk]()
        pending.reserveCapacity(records.count / Int(boundaries.recordsPerChunk) + 1)
        var failure: SnapshotError?
        records.forEach { key, _ in
            do throws(SnapshotError) {
                if let chunk = try cutter.add(key) { pending.append(chunk) }
            } catch { failure = error; return false }
            return true
        }
        if let failure { throw failure }
        if let last = cutter.finish() { pending.append(last) }
        let encoded = try encode(pending, from: records, into: &sink)
        return try finish(ChunkLayout(leaves: encoded.leaves, recordCount: UInt64(records.count)), metadata: metadata,
                          encoded: pending.count, sink: &sink, startBytes: encoded.newBytes, startChunks: encoded.newChunks)
    }

    /// Builds from `previous` (the layout of `previousRecords`), re-encoding
    /// only the chunk runs that hold `changed` keys.
    public func build<Sink: ChunkSink>(_ records: SortedMap<Record>, metadata: [UInt8], previous: ChunkLayout,
                                       changed: [RecordKey], into sink: inout Sink) throws(SnapshotError) -> BuiltSnapshot {
        try build(records, metadata: metadata, previous: previous, changes: KeyChanges(addedOrRemoved: changed), into: &sink)
    }

    /// Builds from `previous` given how the records changed since (from
    /// `SortedMap.changes`). Only added or removed keys can move cuts, so
    /// only the runs around them are re-cut; a leaf whose records merely
    /// changed value keeps its cut and is re-encoded as it stands.
    public func build<Sink: ChunkSink>(_ records: SortedMap<Record>, metadata: [UInt8], previous: ChunkLayout,
                                       changes: KeyChanges, into sink: inout Sink) throws(SnapshotError) -> BuiltSnapshot {
        guard !previous.leaves.isEmpty else { return try build(records, metadata: metadata, into: &sink) }
        // Phase 1: decide every cut from keys alone.
        let recut = try recut(records, previous: previous, around: changes.addedOrRemoved)
        let (slots, pending) = Self.reencode(recut.slots, recut.pending, holding: changes.modified)

        // Phase 2: encode the new chunks in parallel.
        let encoded = try encode(pending, from: records, into: &sink)
        let leaves = slots.map { slot -> LeafChunk in
            switch slot {
            case .reuse(let leaf): leaf
            case .fresh(let index): encoded.leaves[index]
            }
        }
        return try finish(ChunkLayout(leaves: leaves, recordCount: UInt64(records.count)), metadata: metadata,
                          encoded: pending.count, sink: &sink, startBytes: encoded.newBytes, startChunks: encoded.newChunks)
    }

    /// The previous layout with the runs of chunks holding `changed` keys
    /// cut anew: each run starts after the natural boundary before its
    /// first changed key and ends where a new cut meets an old natural one.
    private func recut(_ records: SortedMap<Record>, previous: ChunkLayout,
                       around changed: [RecordKey]) throws(SnapshotError) -> (slots: [LayoutSlot], pending: [PendingChunk]) {
        let old = previous.leaves
        var slots = [LayoutSlot]()
        slots.reserveCapacity(old.count + 16)
        var pending = [PendingChunk]()
        var nextOld = 0
        var k = 0
        while k < changed.count {
            var i = previous.leafIndex(for: changed[k])
            while i > 0 && !old[i - 1].endsNaturally { i -= 1 }
            i = max(i, nextOld)
            for leaf in old[nextOld..<i] { slots.append(.reuse(leaf)) }
            nextOld = i
            // Re-cut from just after the natural boundary that ends leaf i-1.
            let start: RecordKey? = i == 0 ? nil : RecordKey(old[i - 1].lastKey.bytes + [0])
            var cutter = KeyCutter(boundaries: boundaries)
            var aligned = false
            var failure: SnapshotError?
            records.forEach(from: start) { key, _ in
                do throws(SnapshotError) {
                    guard let finished = try cutter.add(key) else { return true }
                    slots.append(.fresh(pending.count))
                    pending.append(finished)
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
                if let last = cutter.finish() {
                    slots.append(.fresh(pending.count))
                    pending.append(last)
                }
                nextOld = old.count
                k = changed.count
            }
        }
        for leaf in old[nextOld...] { slots.append(.reuse(leaf)) }
        return (slots, pending)
    }

    /// Marks for re-encoding, with the same cut, each kept leaf that holds a
    /// `modified` key (its keys are unchanged, so its boundaries are too).
    /// Chunks to encode are renumbered in key order, the order they are stored in.
    private static func reencode(_ slots: [LayoutSlot], _ pending: [PendingChunk],
                                 holding modified: [RecordKey]) -> (slots: [LayoutSlot], pending: [PendingChunk]) {
        guard !modified.isEmpty else { return (slots, pending) }
        var outSlots = [LayoutSlot]()
        outSlots.reserveCapacity(slots.count)
        var outPending = [PendingChunk]()
        var m = 0
        for slot in slots {
            let chunk: PendingChunk?
            switch slot {
            case .fresh(let index):
                chunk = pending[index]
                while m < modified.count && modified[m] <= pending[index].lastKey { m += 1 }
            case .reuse(let leaf):
                let first = m
                while m < modified.count && modified[m] <= leaf.lastKey { m += 1 }
                chunk = m > first ? PendingChunk(leaf) : nil
            }
            if let chunk {
                outSlots.append(.fresh(outPending.count))
                outPending.append(chunk)
            } else {
                outSlots.append(slot)
            }
        }
        return (outSlots, outPending)
    }

    /// Chunks encoded and compressed per parallel round (bounds memory).
    static var batchSize: Int { 256 }

    /// Encodes, hashes and (when the sink lacks them) compresses `pending`
    /// chunks on all cores, then hands new ones to the sink in order.
    private func encode<Sink: ChunkSink>(_ pending: [PendingChunk], from records: SortedMap<Record>,
                                         into sink: inout Sink) throws(SnapshotError) -> (leaves: [LeafChunk], newBytes: Int, newChunks: Int) {
        var leaves = [LeafChunk]()
        leaves.reserveCapacity(pending.count)
        var newBytes = 0
        var newChunks = 0
        let lanes = max(1, min(workers, 8))
        var start = 0
        while start < pending.count {
            let batch = Array(pending[start..<min(pending.count, start + Self.batchSize)])
            start += batch.count
            // Encode and hash.
            let raws: [Result<(raw: [UInt8], id: Hash), SnapshotError>] = Parallel.map(batch.count, lanes: batch.count < 4 ? 1 : lanes) { i in
                Result { () throws(SnapshotError) -> (raw: [UInt8], id: Hash) in
                    let raw = try encodeChunk(batch[i], from: records)
                    return (raw, Hash.of(raw, domain: SnapshotDomains.chunk))
                }
            }
            var encoded = [(raw: [UInt8], id: Hash)]()
            encoded.reserveCapacity(batch.count)
            for result in raws { encoded.append(try result.get()) }
            // Compress what the store does not have yet.
            var missing = [Int]()
            var sizes = [Int?](repeating: nil, count: batch.count)
            var seen = [Hash: Int]()
            for (i, item) in encoded.enumerated() {
                if let size = sink.storedSize(of: item.id) { sizes[i] = size } else if seen[item.id] == nil {
                    seen[item.id] = i
                    missing.append(i)
                }
            }
            let level = self.level
            let toCompress = missing.map { encoded[$0].raw }
            let compressed: [Result<[UInt8], SnapshotError>] = Parallel.map(missing.count, lanes: missing.count < 4 ? 1 : lanes) { j in
                Result { () throws(SnapshotError) -> [UInt8] in
                    do throws(CompressionError) {
                        return try Zstd.Compressor.forCurrentThread(level: level).compress(toCompress[j])
                    } catch {
                        throw SnapshotError(.compression(error))
                    }
                }
            }
            for (j, i) in missing.enumerated() {
                let bytes = try compressed[j].get()
                try sink.put(id: encoded[i].id, rawSize: encoded[i].raw.count, compressed: bytes)
                sizes[i] = bytes.count
                newBytes += bytes.count
                newChunks += 1
            }
            for (i, chunk) in batch.enumerated() {
                let size = sizes[i] ?? seen[encoded[i].id].flatMap { sizes[$0] } ?? 0
                leaves.append(LeafChunk(id: encoded[i].id, rawSize: encoded[i].raw.count, compressedSize: size,
                                        recordCount: chunk.count, firstKey: chunk.firstKey, lastKey: chunk.lastKey,
                                        endsNaturally: chunk.endsNaturally, endsIndexGroup: chunk.endsIndexGroup))
            }
        }
        return (leaves, newBytes, newChunks)
    }

    /// The leaf bytes of one chunk: `varint n ‖ n × (key ‖ value)`.
    private func encodeChunk(_ chunk: PendingChunk, from records: SortedMap<Record>) throws(SnapshotError) -> [UInt8] {
        var raw = ByteWriter(capacity: chunk.expectedBytes ?? chunk.count * 128)
        raw.writeVarint(UInt64(chunk.count))
        var value = ByteWriter(capacity: 1024)
        var n = 0
        var lastKey: RecordKey?
        records.forEach(from: chunk.firstKey) { key, record in
            value.removeAll()
            codec.encode(record, &value)
            raw.writeLengthPrefixed(key.bytes)
            raw.writeLengthPrefixed(value.bytes)
            n += 1
            lastKey = key
            return n < chunk.count
        }
        guard n == chunk.count, lastKey == chunk.lastKey else {
            throw SnapshotError(.inconsistent("records changed while encoding"))
        }
        guard raw.count <= SnapshotLimits.maxChunkRawBytes else { throw SnapshotError(.overLimit("chunk of \(raw.count) bytes")) }
        return raw.bytes
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
        do { return try Zstd.Compressor.forCurrentThread(level: level).compress(raw) } catch {
            throw SnapshotError(.compression(error))
        }
    }

    /// Decides chunk cuts from keys alone: a record ends a chunk at a
    /// natural boundary or when the chunk is full.
    struct KeyCutter {
        let boundaries: ChunkBoundaries
        var count = 0
        var firstKey: RecordKey?
        var lastKey: RecordKey?

        mutating func add(_ key: RecordKey) throws(SnapshotError) -> PendingChunk? {
            guard key.bytes.count <= SnapshotLimits.maxKeyBytes else {
                throw SnapshotError(.overLimit("record key of \(key.bytes.count) bytes"))
            }
            if firstKey == nil { firstKey = key }
            lastKey = key
            count += 1
            let hash = ChunkBoundaries.hash(key)
            let natural = boundaries.isNatural(hash)
            guard natural || count == boundaries.maxRecordsPerChunk else { return nil }
            return cut(natural: natural, group: boundaries.endsIndexGroup(hash))
        }

        /// The final chunk, which may end at a natural boundary by itself; if
        /// not, it is marked so that appending keys after it re-cuts it.
        mutating func finish() -> PendingChunk? {
            guard count > 0, let lastKey else { return nil }
            let hash = ChunkBoundaries.hash(lastKey)
            let natural = boundaries.isNatural(hash)
            return cut(natural: natural, group: natural && boundaries.endsIndexGroup(hash))
        }

        private mutating func cut(natural: Bool, group: Bool) -> PendingChunk {
            defer { count = 0; firstKey = nil; lastKey = nil }
            return PendingChunk(firstKey: firstKey ?? RecordKey([]), lastKey: lastKey ?? RecordKey([]), count: count,
                                endsNaturally: natural, endsIndexGroup: group)
        }
    }
}

/// A leaf of a layout being built: kept from the previous one, or new.
enum LayoutSlot {
    case reuse(LeafChunk)
    case fresh(Int)
}

/// A chunk whose cut is decided but whose bytes are not yet encoded.
struct PendingChunk: Sendable {
    var firstKey: RecordKey
    var lastKey: RecordKey
    var count: Int
    var endsNaturally: Bool
    var endsIndexGroup: Bool
    /// About how many bytes it will take, when known (to size the buffer once).
    var expectedBytes: Int? = nil
}

extension PendingChunk {
    /// The same cut as `leaf`, to encode again (its records' sizes may
    /// change a little).
    init(_ leaf: LeafChunk) {
        self.init(firstKey: leaf.firstKey, lastKey: leaf.lastKey, count: leaf.recordCount,
                  endsNaturally: leaf.endsNaturally, endsIndexGroup: leaf.endsIndexGroup,
                  expectedBytes: leaf.rawSize + leaf.rawSize / 8)
    }
}
