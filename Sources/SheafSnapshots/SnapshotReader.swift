import SheafCodec
import SheafCollections
import SheafCompression
import SheafCrypto
import SheafParallel

/// Where a reader gets compressed chunks: the local store, or a download.
public protocol ChunkSource {
    /// The compressed bytes of `id`, or nil if not held. At most `limit` bytes.
    func compressedChunk(_ id: Hash, limit: Int) throws(SnapshotError) -> [UInt8]?
    /// Many chunks at once (a source may batch its reads); nil where not held.
    func compressedChunks(_ requests: [(id: Hash, limit: Int)]) throws(SnapshotError) -> [[UInt8]?]
}

extension ChunkSource {
    public func compressedChunks(_ requests: [(id: Hash, limit: Int)]) throws(SnapshotError) -> [[UInt8]?] {
        var out = [[UInt8]?]()
        out.reserveCapacity(requests.count)
        for request in requests { out.append(try compressedChunk(request.id, limit: request.limit)) }
        return out
    }
}

/// Loads a snapshot's records, verifying everything on the way: every chunk
/// decompresses within its declared size and hashes to its id, every count
/// matches, keys ascend across chunks, chunk boundaries are the canonical
/// ones, and the recomputed state root equals the manifest's.
///
/// Chunks are read in order and then decoded on all cores: each leaf's
/// checks are local to it, except key order across leaves, checked last.
public enum SnapshotReader {
    public static func load<Record: Sendable>(
        _ manifest: SnapshotManifest, from source: some ChunkSource, recordsPerChunk: Int,
        workers: Int = Parallel.processorCount,
        decodeValue: @escaping @Sendable (inout ByteReader) throws(DecodingError) -> Record
    ) throws(SnapshotError) -> (records: [(RecordKey, Record)], layout: ChunkLayout) {
        let boundaries = ChunkBoundaries(recordsPerChunk: recordsPerChunk)
        let decompressor = Zstd.Decompressor()

        // 1. Index chunks name the leaves; 2. leaves are fetched in order.
        var plan = [LeafPlan]()
        // Counts are signed but untrusted until checked: reserve modestly.
        plan.reserveCapacity(Int(min(manifest.leafCount, 1 << 14)))
        var pending = [(entry: IndexEntry, last: Bool, size: Int)]()
        func flush() throws(SnapshotError) {
            guard !pending.isEmpty else { return }
            for entry in pending.map(\.entry) where entry.compressedSize > SnapshotLimits.maxChunkCompressedBytes {
                throw SnapshotError(.overLimit("chunk of \(entry.compressedSize) bytes"))
            }
            let fetched = try source.compressedChunks(pending.map { ($0.entry.id, $0.entry.compressedSize) })
            for (item, compressed) in zip(pending, fetched) {
                guard let compressed else { throw SnapshotError(.missingChunk(id: item.entry.id.hex)) }
                plan.append(LeafPlan(entry: item.entry, compressed: compressed, lastInIndexChunk: item.last, indexChunkSize: item.size))
            }
            pending.removeAll(keepingCapacity: true)
        }
        for ref in manifest.index {
            let raw = try fetch(ref.id, rawSize: ref.rawSize, compressedSize: ref.compressedSize, from: source,
                                decompressor: decompressor)
            let entries: [IndexEntry]
            do { entries = try IndexEntry.decode(raw) } catch { throw SnapshotError(.malformed(error)) }
            guard entries.count == ref.leafCount else {
                throw SnapshotError(.inconsistent("index chunk lists \(entries.count) leaves, manifest says \(ref.leafCount)"))
            }
            for (position, entry) in entries.enumerated() {
                guard UInt64(plan.count + pending.count) < manifest.leafCount else {
                    throw SnapshotError(.inconsistent("more leaves than the manifest says"))
                }
                pending.append((entry, position == entries.count - 1, entries.count))
            }
            if pending.count >= 4096 { try flush() }
        }
        try flush()
        guard UInt64(plan.count) == manifest.leafCount else {
            throw SnapshotError(.inconsistent("manifest says \(manifest.leafCount) leaves, index lists \(plan.count)"))
        }

        // 3. Decompress, hash, decode and check each leaf, in parallel.
        let decoded = decodeLeaves(plan, boundaries: boundaries, workers: workers, decodeValue: decodeValue)
        var records = [(RecordKey, Record)]()
        records.reserveCapacity(Int(min(manifest.recordCount, 1 << 16)))
        var leaves = [LeafChunk]()
        leaves.reserveCapacity(plan.count)
        for result in decoded {
            let leaf: DecodedLeaf<Record>
            do { leaf = try result.get() } catch { throw error }
            // 4. Keys ascend across leaves.
            if let last = records.last?.0, let first = leaf.records.first?.0, !(last < first) {
                throw SnapshotError(.malformed(DecodingError(.notCanonical, at: 0, field: "leaf.key", detail: "keys must ascend across chunks")))
            }
            records.append(contentsOf: leaf.records)
            leaves.append(leaf.chunk)
        }
        guard UInt64(records.count) == manifest.recordCount else {
            throw SnapshotError(.inconsistent("manifest counts \(manifest.recordCount) records, chunks hold \(records.count)"))
        }
        // The signed byte totals are the chunks' (leaves, plus index chunks for compressed).
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
        return (records, ChunkLayout(leaves: leaves, recordCount: manifest.recordCount))
    }

    struct LeafPlan: Sendable {
        var entry: IndexEntry
        var compressed: [UInt8]
        var lastInIndexChunk: Bool
        var indexChunkSize: Int
    }

    struct DecodedLeaf<Record: Sendable>: Sendable {
        var records: [(RecordKey, Record)]
        var chunk: LeafChunk
    }

    private static func decodeLeaves<Record: Sendable>(
        _ plan: [LeafPlan], boundaries: ChunkBoundaries, workers: Int,
        decodeValue: @escaping @Sendable (inout ByteReader) throws(DecodingError) -> Record
    ) -> [Result<DecodedLeaf<Record>, SnapshotError>] {
        let n = plan.count
        return Parallel.map(n, lanes: min(workers, n / 16 + 1, 8), makeState: { Zstd.Decompressor() }) { decompressor, i in
            Result { () throws(SnapshotError) -> DecodedLeaf<Record> in
                try decodeLeaf(plan[i], isFinal: i == n - 1, boundaries: boundaries,
                               decompressor: decompressor, decodeValue: decodeValue)
            }
        }
    }

    private static func decodeLeaf<Record: Sendable>(
        _ plan: LeafPlan, isFinal: Bool, boundaries: ChunkBoundaries, decompressor: Zstd.Decompressor,
        decodeValue: (inout ByteReader) throws(DecodingError) -> Record
    ) throws(SnapshotError) -> DecodedLeaf<Record> {
        let entry = plan.entry
        let raw = try verify(plan.compressed, id: entry.id, rawSize: entry.rawSize, compressedSize: entry.compressedSize,
                             decompressor: decompressor)
        var records = [(RecordKey, Record)]()
        records.reserveCapacity(entry.recordCount)
        do { try LeafEncoding.decode(raw, decodeValue: decodeValue, into: &records, after: nil) } catch {
            throw SnapshotError(.malformed(error))
        }
        guard records.count == entry.recordCount else {
            throw SnapshotError(.inconsistent("leaf holds \(records.count) records, index says \(entry.recordCount)"))
        }
        guard records.count <= boundaries.maxRecordsPerChunk else {
            throw SnapshotError(.inconsistent("leaf continues past the forced boundary"))
        }
        guard plan.indexChunkSize <= ChunkBoundaries.maxLeavesPerIndexGroup else {
            throw SnapshotError(.inconsistent("index chunk continues past a full group"))
        }
        // Canonical cuts: no natural boundary before the last record, and the
        // last record ends the chunk for a reason.
        for j in 0..<(records.count - 1) where boundaries.isNatural(ChunkBoundaries.hash(records[j].0)) {
            throw SnapshotError(.inconsistent("leaf continues past a natural boundary"))
        }
        let lastHash = ChunkBoundaries.hash(records[records.count - 1].0)
        let natural = boundaries.isNatural(lastHash)
        guard natural || records.count == boundaries.maxRecordsPerChunk || isFinal else {
            throw SnapshotError(.inconsistent("leaf ends without a boundary"))
        }
        let groupEnd = natural && boundaries.endsIndexGroup(lastHash)
        let groupFull = plan.indexChunkSize == ChunkBoundaries.maxLeavesPerIndexGroup
        guard groupEnd == plan.lastInIndexChunk || (plan.lastInIndexChunk && (groupFull || isFinal)) else {
            throw SnapshotError(.inconsistent("index chunk does not end at a group boundary"))
        }
        let chunk = LeafChunk(id: entry.id, rawSize: entry.rawSize, compressedSize: entry.compressedSize,
                              recordCount: records.count, firstKey: records[0].0, lastKey: records[records.count - 1].0,
                              endsNaturally: natural, endsIndexGroup: groupEnd)
        return DecodedLeaf(records: records, chunk: chunk)
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
