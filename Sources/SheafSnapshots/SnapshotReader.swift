import SheafCodec
import SheafCollections
import SheafCompression
import SheafCrypto
import SheafParallel

/// Where a reader gets compressed chunks: the local store, or a download.
/// Readers fetch from several threads at once.
public protocol ChunkSource: Sendable {
    /// The compressed bytes of `id`, or nil if not held. At most `limit` bytes.
    func compressedChunk(_ id: Hash, limit: Int) throws(SnapshotError) -> [UInt8]?
    /// Many chunks at once (a source may batch its reads); nil where not held.
    func compressedChunks(_ requests: [(id: Hash, limit: Int)]) throws(SnapshotError) -> [[UInt8]?]
    /// The uncompressed bytes of `id`, if this source already checked that
    /// `compressed` decompresses to bytes that hash to `id`; nil, the
    /// default, has the reader check them itself.
    func checkedRaw(_ id: Hash, compressed: [UInt8]) -> [UInt8]?
}

extension ChunkSource {
    public func compressedChunks(_ requests: [(id: Hash, limit: Int)]) throws(SnapshotError) -> [[UInt8]?] {
        var out = [[UInt8]?]()
        out.reserveCapacity(requests.count)
        for request in requests { out.append(try compressedChunk(request.id, limit: request.limit)) }
        return out
    }

    public func checkedRaw(_ id: Hash, compressed: [UInt8]) -> [UInt8]? { nil }
}

/// Loads a snapshot's records, verifying everything on the way: every chunk
/// decompresses within its declared size and hashes to its id, every count
/// matches, keys ascend across chunks, chunk boundaries are the canonical
/// ones, and the recomputed state root equals the manifest's.
///
/// The index chunks are read first; then up to `workers` threads take runs
/// of leaves in turn, fetching and decoding each run straight into its part
/// of the map, and the parts join in order.
public enum SnapshotReader {
    public static func loadMap<Record: Sendable>(
        _ manifest: SnapshotManifest, from source: some ChunkSource, recordsPerChunk: Int,
        workers: Int = Parallel.processorCount,
        decodeValue: @escaping @Sendable (inout ByteReader) throws(DecodingError) -> Record
    ) throws(SnapshotError) -> (records: SortedMap<Record>, layout: ChunkLayout) {
        let plan = try plan(manifest, from: source)

        // Decompress, hash, decode and check each leaf, in parallel.
        let boundaries = ChunkBoundaries(recordsPerChunk: recordsPerChunk)
        let runs = Parallel.mapRanges(plan.count, grain: decodeGrain, lanes: min(workers, 8),
                                      makeState: { Zstd.Decompressor() }) { decompressor, range in
            Result { () throws(SnapshotError) -> DecodedRun<Record> in
                try decodeRun(plan, range, from: source, boundaries: boundaries, decompressor: decompressor,
                              decodeValue: decodeValue)
            }
        }
        var records = SortedMap<Record>.Builder()
        var leaves = [LeafChunk]()
        leaves.reserveCapacity(plan.count)
        for result in runs {
            let run: DecodedRun<Record>
            do { run = try result.get() } catch { throw error }
            guard records.append(contentsOf: run.records) else { throw keysOutOfOrder }
            leaves.append(contentsOf: run.leaves)
        }
        let map = records.build()
        guard UInt64(map.count) == manifest.recordCount else {
            throw SnapshotError(.inconsistent("manifest counts \(manifest.recordCount) records, chunks hold \(map.count)"))
        }
        try checkTotals(manifest, leaves)
        return (map, ChunkLayout(leaves: leaves, recordCount: manifest.recordCount))
    }

    /// The records as an array in key order (for tools and tests).
    public static func load<Record: Sendable>(
        _ manifest: SnapshotManifest, from source: some ChunkSource, recordsPerChunk: Int,
        workers: Int = Parallel.processorCount,
        decodeValue: @escaping @Sendable (inout ByteReader) throws(DecodingError) -> Record
    ) throws(SnapshotError) -> (records: [(RecordKey, Record)], layout: ChunkLayout) {
        let (map, layout) = try loadMap(manifest, from: source, recordsPerChunk: recordsPerChunk, workers: workers,
                                        decodeValue: decodeValue)
        var records = [(RecordKey, Record)]()
        records.reserveCapacity(map.count)
        map.forEach { key, value in
            records.append((key, value))
            return true
        }
        return (records, layout)
    }

    static let keysOutOfOrder = SnapshotError(.malformed(DecodingError(
        .notCanonical, at: 0, field: "leaf.key", detail: "keys must ascend across chunks")))

    /// The leaves, as the index chunks name them.
    private static func plan(_ manifest: SnapshotManifest, from source: some ChunkSource) throws(SnapshotError) -> [LeafPlan] {
        let decompressor = Zstd.Decompressor()
        var plan = [LeafPlan]()
        // Counts are signed but untrusted until checked: reserve modestly.
        plan.reserveCapacity(Int(min(manifest.leafCount, 1 << 14)))
        for ref in manifest.index {
            let raw = try fetch(ref.id, rawSize: ref.rawSize, compressedSize: ref.compressedSize, from: source,
                                decompressor: decompressor)
            let entries: [IndexEntry]
            do { entries = try IndexEntry.decode(raw) } catch { throw SnapshotError(.malformed(error)) }
            guard entries.count == ref.leafCount else {
                throw SnapshotError(.inconsistent("index chunk lists \(entries.count) leaves, manifest says \(ref.leafCount)"))
            }
            for (position, entry) in entries.enumerated() {
                guard UInt64(plan.count) < manifest.leafCount else {
                    throw SnapshotError(.inconsistent("more leaves than the manifest says"))
                }
                guard entry.compressedSize <= SnapshotLimits.maxChunkCompressedBytes else {
                    throw SnapshotError(.overLimit("chunk of \(entry.compressedSize) bytes"))
                }
                plan.append(LeafPlan(entry: entry, lastInIndexChunk: position == entries.count - 1, indexChunkSize: entries.count))
            }
        }
        guard UInt64(plan.count) == manifest.leafCount else {
            throw SnapshotError(.inconsistent("manifest says \(manifest.leafCount) leaves, index lists \(plan.count)"))
        }
        return plan
    }

    /// The signed byte totals are the chunks' (leaves, plus index chunks
    /// for compressed), and the state root is theirs.
    private static func checkTotals(_ manifest: SnapshotManifest, _ leaves: [LeafChunk]) throws(SnapshotError) {
        let rawBytes = leaves.reduce(UInt64(0)) { $0 + UInt64($1.rawSize) }
        let compressedBytes = leaves.reduce(UInt64(0)) { $0 + UInt64($1.compressedSize) }
            + manifest.index.reduce(UInt64(0)) { $0 + UInt64($1.compressedSize) }
        guard rawBytes == manifest.rawBytes, compressedBytes == manifest.compressedBytes else {
            throw SnapshotError(.inconsistent("manifest totals \(manifest.rawBytes)/\(manifest.compressedBytes) bytes, chunks hold \(rawBytes)/\(compressedBytes)"))
        }
        let root = StateRoot.compute(model: manifest.model, version: manifest.modelVersion, metadata: manifest.metadata,
                                     recordCount: manifest.recordCount,
                                     leaves: leaves.lazy.map { (id: $0.id, rawSize: $0.rawSize, recordCount: $0.recordCount) })
        guard root == manifest.stateRoot else { throw SnapshotError(.stateRootMismatch) }
    }

    struct LeafPlan: Sendable {
        var entry: IndexEntry
        var lastInIndexChunk: Bool
        var indexChunkSize: Int
    }

    /// Leaves a thread decodes as one run; threads take runs as they go.
    static var decodeGrain: Int { 64 }

    /// Leaves a thread fetches with one request: few reads, and buffers small
    /// enough for the allocator to reuse (larger ones are mapped anew each time).
    static var fetchBatch: Int { 16 }

    /// One lane's consecutive leaves: their records and their chunks.
    struct DecodedRun<Record: Sendable>: Sendable {
        var records: SortedMap<Record>.Builder
        var leaves: [LeafChunk]
    }

    private static func decodeRun<Record: Sendable>(
        _ plan: [LeafPlan], _ range: Range<Int>, from source: some ChunkSource, boundaries: ChunkBoundaries,
        decompressor: Zstd.Decompressor, decodeValue: (inout ByteReader) throws(DecodingError) -> Record
    ) throws(SnapshotError) -> DecodedRun<Record> {
        var run = DecodedRun(records: SortedMap<Record>.Builder(), leaves: [])
        run.leaves.reserveCapacity(range.count)
        for start in stride(from: range.lowerBound, to: range.upperBound, by: fetchBatch) {
            let batch = start..<min(range.upperBound, start + fetchBatch)
            let fetched = try source.compressedChunks(plan[batch].map { ($0.entry.id, $0.entry.compressedSize) })
            for (i, compressed) in zip(batch, fetched) {
                guard let compressed else { throw SnapshotError(.missingChunk(id: plan[i].entry.id.hex)) }
                let raw = try checked(compressed, plan[i].entry, from: source, decompressor: decompressor)
                run.leaves.append(try decodeLeaf(plan[i], raw: raw, isFinal: i == plan.count - 1, boundaries: boundaries,
                                                 decodeValue: decodeValue, into: &run.records))
            }
        }
        return run
    }

    /// A leaf's uncompressed bytes: the source's, if it checked them
    /// already (the sizes are still the index's to declare), else checked here.
    private static func checked(_ compressed: [UInt8], _ entry: IndexEntry, from source: some ChunkSource,
                                decompressor: Zstd.Decompressor) throws(SnapshotError) -> [UInt8] {
        guard let raw = source.checkedRaw(entry.id, compressed: compressed) else {
            return try verify(compressed, id: entry.id, rawSize: entry.rawSize, compressedSize: entry.compressedSize,
                              decompressor: decompressor)
        }
        return try declared(raw, compressed: compressed, id: entry.id, rawSize: entry.rawSize, compressedSize: entry.compressedSize)
    }

    /// Bytes a check on arrival vouched for (it knew only the id), if they
    /// and the bytes they came from have the sizes the index declares.
    static func declared(_ raw: [UInt8], compressed: [UInt8], id: Hash, rawSize: Int,
                         compressedSize: Int) throws(SnapshotError) -> [UInt8] {
        guard compressed.count == compressedSize else {
            throw SnapshotError(.sizeMismatch(id: id.hex, expected: compressedSize, actual: compressed.count))
        }
        guard raw.count == rawSize, rawSize <= SnapshotLimits.maxChunkRawBytes else {
            throw SnapshotError(.sizeMismatch(id: id.hex, expected: rawSize, actual: raw.count))
        }
        return raw
    }

    /// Decodes one checked leaf into `records`, checking that its cuts are
    /// the canonical ones.
    private static func decodeLeaf<Record: Sendable>(
        _ plan: LeafPlan, raw: [UInt8], isFinal: Bool, boundaries: ChunkBoundaries,
        decodeValue: (inout ByteReader) throws(DecodingError) -> Record, into records: inout SortedMap<Record>.Builder
    ) throws(SnapshotError) -> LeafChunk {
        let entry = plan.entry
        var count = 0
        var firstKey = RecordKey([])
        var lastKey = RecordKey([])
        var lastHash: UInt64 = 0
        var naturalInside = false
        var ascending = true
        do {
            try LeafEncoding.forEachRecord(raw, decodeValue: decodeValue) { key, value in
                // A natural boundary may only end the leaf, not fall inside it.
                if count > 0 && boundaries.isNatural(lastHash) { naturalInside = true }
                if count == 0 { firstKey = key }
                lastKey = key
                lastHash = ChunkBoundaries.hash(key)
                count += 1
                if !records.append(key, value) { ascending = false }
            }
        } catch {
            throw SnapshotError(.malformed(error))
        }
        guard count == entry.recordCount else {
            throw SnapshotError(.inconsistent("leaf holds \(count) records, index says \(entry.recordCount)"))
        }
        guard count <= boundaries.maxRecordsPerChunk else {
            throw SnapshotError(.inconsistent("leaf continues past the forced boundary"))
        }
        guard plan.indexChunkSize <= ChunkBoundaries.maxLeavesPerIndexGroup else {
            throw SnapshotError(.inconsistent("index chunk continues past a full group"))
        }
        guard !naturalInside else { throw SnapshotError(.inconsistent("leaf continues past a natural boundary")) }
        // The last record ends the chunk for a reason.
        let natural = boundaries.isNatural(lastHash)
        guard natural || count == boundaries.maxRecordsPerChunk || isFinal else {
            throw SnapshotError(.inconsistent("leaf ends without a boundary"))
        }
        let groupEnd = natural && boundaries.endsIndexGroup(lastHash)
        let groupFull = plan.indexChunkSize == ChunkBoundaries.maxLeavesPerIndexGroup
        guard groupEnd == plan.lastInIndexChunk || (plan.lastInIndexChunk && (groupFull || isFinal)) else {
            throw SnapshotError(.inconsistent("index chunk does not end at a group boundary"))
        }
        // Checked last, as leaves were checked before key order across them.
        guard ascending else { throw keysOutOfOrder }
        return LeafChunk(id: entry.id, rawSize: entry.rawSize, compressedSize: entry.compressedSize,
                         recordCount: count, firstKey: firstKey, lastKey: lastKey,
                         endsNaturally: natural, endsIndexGroup: groupEnd)
    }

    /// Fetches, size-checks, decompresses and hash-checks one chunk.
    static func fetch(_ id: Hash, rawSize: Int, compressedSize: Int, from source: some ChunkSource,
                      decompressor: Zstd.Decompressor) throws(SnapshotError) -> [UInt8] {
        guard rawSize <= SnapshotLimits.maxChunkRawBytes, compressedSize <= SnapshotLimits.maxChunkCompressedBytes else {
            throw SnapshotError(.overLimit("chunk sizes \(rawSize)/\(compressedSize)"))
        }
        guard let compressed = try source.compressedChunk(id, limit: compressedSize) else {
            throw SnapshotError(.missingChunk(id: id.hex))
        }
        return try verify(compressed, id: id, rawSize: rawSize, compressedSize: compressedSize, decompressor: decompressor)
    }

    static func verify(_ compressed: [UInt8], id: Hash, rawSize: Int, compressedSize: Int,
                       decompressor: Zstd.Decompressor) throws(SnapshotError) -> [UInt8] {
        guard rawSize <= SnapshotLimits.maxChunkRawBytes else { throw SnapshotError(.overLimit("chunk of \(rawSize) bytes")) }
        guard compressed.count == compressedSize else {
            throw SnapshotError(.sizeMismatch(id: id.hex, expected: compressedSize, actual: compressed.count))
        }
        let raw: [UInt8]
        do { raw = try decompressor.decompress(compressed, maxOutput: rawSize) } catch { throw SnapshotError(.compression(error)) }
        guard raw.count == rawSize else { throw SnapshotError(.sizeMismatch(id: id.hex, expected: rawSize, actual: raw.count)) }
        guard Hash.of(raw, domain: SnapshotDomains.chunk) == id else { throw SnapshotError(.chunkHashMismatch(id: id.hex)) }
        return raw
    }
}
