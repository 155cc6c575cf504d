import SheafFeeds
import SheafSnapshots

/// What `WireCodec.decode` accepts from a peer. Every count and length in a
/// frame is checked against these before anything sized by it is allocated;
/// a violation is a `WireError`, and the session that sent it is scored and
/// dropped (docs/PROTOCOL.md).
///
/// The defaults let every legal value of the lower layers through: the
/// largest chunk `SnapshotLimits` allows, a range holding the largest entry,
/// a frontier of `FeedLimits.maxFrontierFeeds` feeds. Tighten them for small
/// nodes; never loosen them past what peers accept.
public struct WireLimits: Hashable, Sendable {
    /// Largest frame (one encoded message). Room for the largest chunk or
    /// range plus the message's own header.
    public var maxFrameBytes: Int
    /// Most peers in a shuffle or shuffle reply.
    public var maxShufflePeers: Int
    /// Most announcements in one `ihave`.
    public var maxAnnouncements: Int
    /// Most snapshot offers in one `offers`.
    public var maxOffers: Int
    /// Most chunk ids in one `requestChunks`.
    public var maxChunkRequests: Int
    /// Most attestations in one `attestations`.
    public var maxAttestations: Int
    /// Largest encoded attestation (room for one over a frontier of
    /// `FeedLimits.maxFrontierFeeds` feeds).
    public var maxAttestationBytes: Int
    /// Most feeds in a frontier. The frontier decoder also enforces
    /// `FeedLimits.maxFrontierFeeds`, so a larger value has no effect.
    public var maxFrontierFeeds: Int
    /// Largest endpoint string of a `PeerAddress`, in UTF-8 bytes.
    public var maxEndpointBytes: Int
    /// Largest encoded range (gossip or sync). A writer's batch is signed
    /// once at its end, so a batch larger than this cannot be sent.
    public var maxRangeBytes: Int
    /// Largest encoded manifest (in `manifest` and in snapshot-fraud
    /// evidence). Below `SnapshotLimits.maxManifestBytes`: a manifest that
    /// large cannot be served in one frame.
    public var maxManifestBytes: Int
    /// Largest compressed chunk.
    public var maxChunkBytes: Int

    public init(
        maxFrameBytes: Int = (16 << 20) + (64 << 10),
        maxShufflePeers: Int = 32,
        maxAnnouncements: Int = 256,
        maxOffers: Int = 32,
        maxChunkRequests: Int = 256,
        maxAttestations: Int = 64,
        maxAttestationBytes: Int = 8 << 20,
        maxFrontierFeeds: Int = FeedLimits.maxFrontierFeeds,
        maxEndpointBytes: Int = 255,
        maxRangeBytes: Int = 16 << 20,
        maxManifestBytes: Int = 16 << 20,
        maxChunkBytes: Int = SnapshotLimits.maxChunkCompressedBytes
    ) {
        self.maxFrameBytes = maxFrameBytes
        self.maxShufflePeers = maxShufflePeers
        self.maxAnnouncements = maxAnnouncements
        self.maxOffers = maxOffers
        self.maxChunkRequests = maxChunkRequests
        self.maxAttestations = maxAttestations
        self.maxAttestationBytes = maxAttestationBytes
        self.maxFrontierFeeds = maxFrontierFeeds
        self.maxEndpointBytes = maxEndpointBytes
        self.maxRangeBytes = maxRangeBytes
        self.maxManifestBytes = maxManifestBytes
        self.maxChunkBytes = maxChunkBytes
    }

    public static let `default` = WireLimits()
}
