import SheafCrypto

/// Limits of the snapshot formats, checked before allocation.
public enum SnapshotLimits {
    /// Largest uncompressed chunk (leaf or index).
    public static let maxChunkRawBytes = 16 << 20
    /// Largest compressed chunk.
    public static let maxChunkCompressedBytes = 16 << 20
    /// Most records in one leaf chunk.
    public static let maxRecordsPerChunk = 1 << 16
    /// Largest record key.
    public static let maxKeyBytes = 4096
    /// Most index chunks a manifest may list.
    public static let maxIndexChunks = 1 << 20
    /// Most leaf chunks one index chunk may list.
    public static let maxLeavesPerIndexChunk = 4096
    /// Largest manifest.
    public static let maxManifestBytes = 64 << 20
    /// Largest replica metadata blob (admission state).
    public static let maxMetadataBytes = 16 << 20
    /// Most records a snapshot may hold.
    public static let maxRecords: UInt64 = 1 << 34
}

/// Hash and signature domains of snapshots.
public enum SnapshotDomains {
    /// Content address of a chunk: hash of its uncompressed bytes.
    public static let chunk = HashDomain("sheaf/chunk/v1")
    /// Where content-defined chunk boundaries fall.
    public static let boundary = HashDomain("sheaf/boundary")
    /// Replica metadata, folded into the state root.
    public static let metadata = HashDomain("sheaf/metadata")
    /// The state root: over the model, the metadata and the leaf list.
    public static let stateRoot = HashDomain("sheaf/state/v1")
    /// Identity of a manifest (its full bytes).
    public static let manifestID = HashDomain("sheaf/manifest")
    public static let manifest = SignatureDomain("snapshot-manifest/v1")
    public static let attestation = SignatureDomain("attestation/v1")
}
