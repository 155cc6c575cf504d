import SheafCompression
import SheafCrypto
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

extension SnapshotReader {
    /// Checks a chunk received from a peer before anything else touches it:
    /// it decompresses within `rawSize`, has the sizes the index declared,
    /// and hashes to `id`. Returns the uncompressed bytes.
    public static func verifiedChunk(_ compressed: [UInt8], id: Hash, rawSize: Int, compressedSize: Int) throws(SnapshotError) -> [UInt8] {
        guard compressedSize <= SnapshotLimits.maxChunkCompressedBytes else {
            throw SnapshotError(.overLimit("chunk of \(compressedSize) compressed bytes"))
        }
        if let raw = PrecheckedChunks.shared.find(id, compressed: compressed) {
            return try declared(raw, compressed: compressed, id: id, rawSize: rawSize, compressedSize: compressedSize)
        }
        return try Zstd.withPooledDecompressor { (decompressor) throws(SnapshotError) in
            try verify(compressed, id: id, rawSize: rawSize, compressedSize: compressedSize, decompressor: decompressor)
        }
    }

    /// Checks a chunk ahead of its turn, where no state is needed: a node
    /// calls it as the chunk arrives, while it is still handling earlier
    /// frames. A chunk that decompresses (within the chunk limit) and hashes
    /// to `id` is remembered with its bytes: `verifiedChunk` of the very same
    /// bytes finds the result instead of doing the work again (it still
    /// checks the sizes the index declares), and so does the install that
    /// loads the state from them (`DownloadedChunks`), which takes it.
    public static func precheck(_ compressed: [UInt8], id: Hash) {
        guard compressed.count <= SnapshotLimits.maxChunkCompressedBytes,
              let raw = try? Zstd.withPooledDecompressor({ (decompressor) throws(CompressionError) in
                  try decompressor.decompress(compressed, maxOutput: SnapshotLimits.maxChunkRawBytes)
              }),
              Hash.of(raw, domain: SnapshotDomains.chunk) == id else { return }
        PrecheckedChunks.shared.put(id, compressed: compressed, raw: raw)
    }
}

/// Chunks `precheck` found sound, with their uncompressed bytes, kept for
/// `verifiedChunk` and then for the install, which takes them. Bounded in
/// bytes (compressed and raw together), oldest out first: chunks may be
/// large, and any peer can send sound ones. The default budget holds a
/// snapshot of some 50 MB uncompressed (a million W1 entries make 16 MB);
/// for a larger one the install checks the chunks that fell out itself.
final class PrecheckedChunks: Sendable {
    static let shared = PrecheckedChunks()

    private struct State {
        var chunks: [Hash: (compressed: [UInt8], raw: [UInt8])] = [:]
        var order: [Hash] = []
        var bytes = 0
    }

    let budget: Int
    private let state = Mutex(State())

    init(budget: Int = 64 << 20) { self.budget = budget }

    func put(_ id: Hash, compressed: [UInt8], raw: [UInt8]) {
        let size = compressed.count + raw.count
        guard size <= budget else { return }
        state.withLock { state in
            if let old = state.chunks.updateValue((compressed, raw), forKey: id) {
                state.bytes -= old.compressed.count + old.raw.count
            } else {
                state.order.append(id)
            }
            state.bytes += size
            while state.bytes > budget, !state.order.isEmpty {
                if let evicted = state.chunks.removeValue(forKey: state.order.removeFirst()) {
                    state.bytes -= evicted.compressed.count + evicted.raw.count
                }
            }
        }
    }

    /// Bytes held, for tests.
    var heldBytes: Int { state.withLock { $0.bytes } }

    /// Byte equality with one `memcmp` (`==` on arrays compares element by element).
    private static func same(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        return a.withUnsafeBytes { x in
            b.withUnsafeBytes { y in
                guard let p = x.baseAddress, let q = y.baseAddress else { return true }  // both empty
                return memcmp(p, q, x.count) == 0
            }
        }
    }

    /// The raw bytes of `id` if prechecked from exactly `compressed`; they
    /// stay held.
    func find(_ id: Hash, compressed: [UInt8]) -> [UInt8]? {
        state.withLock { state in
            guard let held = state.chunks[id], Self.same(held.compressed, compressed) else { return nil }
            return held.raw
        }
    }

    /// The raw bytes of `id` if prechecked from exactly `compressed`, no
    /// longer held.
    func take(_ id: Hash, compressed: [UInt8]) -> [UInt8]? {
        state.withLock { state in
            guard let held = state.chunks[id], Self.same(held.compressed, compressed) else { return nil }
            state.chunks[id] = nil
            state.bytes -= held.compressed.count + held.raw.count
            if let i = state.order.firstIndex(of: id) { state.order.remove(at: i) }
            return held.raw
        }
    }
}
