import SheafCodec
import SheafCompression
import SheafFeeds
import SheafFiles

/// Why a snapshot could not be made, stored or loaded.
public struct SnapshotError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: Hashable, Sendable {
        /// Bytes that do not decode (manifest, index or leaf chunk).
        case malformed(DecodingError)
        /// A chunk's zstd frame is bad, too large, or lies about its size.
        case compression(CompressionError)
        /// A chunk's bytes do not hash to its id.
        case chunkHashMismatch(id: String)
        /// A chunk is not in the store.
        case missingChunk(id: String)
        /// A chunk's size differs from what the manifest says.
        case sizeMismatch(id: String, expected: Int, actual: Int)
        /// The recomputed state root differs from the manifest's.
        case stateRootMismatch
        /// The manifest signature does not verify.
        case badSignature
        /// The manifest is for another space.
        case wrongSpace
        /// The snapshot's model (or version) cannot be loaded by this code.
        case unsupportedModel(String)
        /// The manifest's counts or sizes disagree with its chunks.
        case inconsistent(String)
        /// The snapshot is older than state we already hold.
        case frontierRegression
        /// A limit of the snapshot format was exceeded.
        case overLimit(String)
        case io(FileError)
        /// The manifest does not exist in the store.
        case notFound(String)
        /// The store has been closed or dropped.
        case closed
    }

    public let code: Code
    public init(_ code: Code) { self.code = code }

    public var description: String {
        switch code {
        case .malformed(let e): "malformed snapshot data: \(e)"
        case .compression(let e): "bad chunk compression: \(e)"
        case .chunkHashMismatch(let id): "chunk \(id.prefix(16)) does not hash to its id"
        case .missingChunk(let id): "chunk \(id.prefix(16)) is missing"
        case .sizeMismatch(let id, let expected, let actual): "chunk \(id.prefix(16)) has \(actual) bytes, manifest says \(expected)"
        case .stateRootMismatch: "state root does not match the manifest"
        case .badSignature: "manifest signature does not verify"
        case .wrongSpace: "manifest belongs to another space"
        case .unsupportedModel(let m): "cannot load model \(m)"
        case .inconsistent(let why): "inconsistent manifest: \(why)"
        case .frontierRegression: "snapshot is behind state already held"
        case .overLimit(let what): "over limit: \(what)"
        case .io(let e): "I/O: \(e)"
        case .notFound(let what): "not found: \(what)"
        case .closed: "snapshot store is closed"
        }
    }
}
