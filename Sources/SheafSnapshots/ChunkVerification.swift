import SheafCompression
import SheafCrypto

extension SnapshotReader {
    /// Checks a chunk received from a peer before anything else touches it:
    /// it decompresses within `rawSize`, has the sizes the index declared,
    /// and hashes to `id`. Returns the uncompressed bytes.
    public static func verifiedChunk(_ compressed: [UInt8], id: Hash, rawSize: Int, compressedSize: Int) throws(SnapshotError) -> [UInt8] {
        guard compressedSize <= SnapshotLimits.maxChunkCompressedBytes else {
            throw SnapshotError(.overLimit("chunk of \(compressedSize) compressed bytes"))
        }
        return try Zstd.withPooledDecompressor { (decompressor) throws(SnapshotError) in
            try verify(compressed, id: id, rawSize: rawSize, compressedSize: compressedSize, decompressor: decompressor)
        }
    }
}
