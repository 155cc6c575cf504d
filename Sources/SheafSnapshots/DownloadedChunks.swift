import SheafCrypto

/// Chunks a node downloaded, held in memory over its store (which answers
/// for chunks it already held), so an installing node can load the state
/// while the same chunks are being written to disk.
public struct DownloadedChunks: ChunkSource {
    private let chunks: [Hash: (rawSize: Int, compressed: [UInt8])]
    private let store: SnapshotStore

    public init(_ chunks: [Hash: (rawSize: Int, compressed: [UInt8])], over store: SnapshotStore) {
        self.chunks = chunks
        self.store = store
    }

    public func compressedChunk(_ id: Hash, limit: Int) throws(SnapshotError) -> [UInt8]? {
        guard let chunk = chunks[id] else { return try store.compressedChunk(id, limit: limit) }
        guard chunk.compressed.count <= limit else {
            throw SnapshotError(.sizeMismatch(id: id.hex, expected: limit, actual: chunk.compressed.count))
        }
        return chunk.compressed
    }

    /// What `SnapshotReader.precheck` found these very bytes to hold, when
    /// the chunk was checked on arrival: the load need not decompress and
    /// hash it again.
    public func checkedRaw(_ id: Hash, compressed: [UInt8]) -> [UInt8]? {
        PrecheckedChunks.shared.take(id, compressed: compressed)
    }
}
