import SheafCrypto
import SheafFeeds
import SheafSnapshots

/// What happens to a node: the only way anything reaches the protocol core.
public enum NodeInput: Sendable {
    /// The transport finished a handshake with `node`; `session` is the
    /// handshake hash both ends share (capability proofs bind to it).
    case connected(node: PublicKey, session: Hash, outbound: Bool)
    case disconnected(node: PublicKey)
    case connectFailed(PeerAddress)
    /// One whole frame from a connected peer.
    case received(from: PublicKey, frame: [UInt8])
    case timerFired(NodeTimer)
    /// The driver learned peers to reach spaces through (a daemon's `--join`
    /// addresses, once their node keys are known from the handshake).
    case contactsAdded([PeerAddress])

    /// The driver opened a space: what the local replica holds.
    case spaceOpened(LocalSpace)
    case spaceClosed(DiscoveryKey)
    /// This node appended a batch to its own feed.
    case appended(DiscoveryKey, VerifiedBatch)
    /// The replica's admitted writers changed.
    case membersChanged(DiscoveryKey, Set<PublicKey>)
    /// The replica's stored snapshots changed (offers to serve).
    case snapshotsChanged(DiscoveryKey, [LocalSnapshot])
    /// An `ingest` effect failed: the replica's stored tips, to resync from.
    case ingestFailed(DiscoveryKey, feed: PublicKey, tip: FeedAnchor, reason: String)
    /// The result of an `install` effect.
    case installed(DiscoveryKey, manifest: Hash, error: String?)
    /// The result of an `audit` effect.
    case audited(DiscoveryKey, manifest: SnapshotManifest, verdict: AuditVerdict, attestation: Attestation?)
}

/// What a node asks its driver to do.
public enum NodeOutput: Sendable {
    case send(to: PublicKey, frame: [UInt8])
    case connect(PeerAddress)
    case disconnect(PublicKey, reason: String)
    case schedule(NodeTimer, after: Duration)
    /// Store and apply a verified batch.
    case ingest(DiscoveryKey, VerifiedBatch)
    /// Read entries from the replica and send them to a peer as `sync.range`
    /// (or `sync.unavailable`).
    case serveRange(DiscoveryKey, FeedRangeRequest, to: PublicKey, maxEntries: Int)
    /// Read stored chunks and send each as `snapshot.chunk` (or `chunkMissing`).
    case serveChunks(DiscoveryKey, [Hash], to: PublicKey)
    /// Send every chunk of a stored snapshot as `snapshot.chunk`: the index
    /// chunks first, then the leaves in index order (`snapshot.requestSnapshot`).
    case streamSnapshot(DiscoveryKey, SnapshotManifest, to: PublicKey)
    /// Install a downloaded, trusted snapshot into the (empty) replica.
    case install(DiscoveryKey, SnapshotManifest, chunks: [Hash: DownloadedChunk])
    /// Re-derive the manifest's state root from local history.
    case audit(DiscoveryKey, SnapshotManifest)
    /// Keep a verified proof of misbehaviour.
    case storeEvidence(DiscoveryKey, EvidenceMessage)
    /// Something an operator or the simulator's checks want to know.
    case event(NodeEvent)
}

public struct DownloadedChunk: Hashable, Sendable {
    public var rawSize: Int
    public var compressed: [UInt8]
}

/// Timers the core schedules; each names the space it belongs to.
public enum NodeTimer: Hashable, Sendable {
    case antiEntropy(DiscoveryKey)
    case frontierPush(DiscoveryKey)
    case overlayTick(DiscoveryKey)
    case broadcast(DiscoveryKey, BroadcastTimer)
    case rangeTimeout(DiscoveryKey, feed: PublicKey, generation: UInt64)
    case chunkCheck(DiscoveryKey)
    case scoreDecay
}

/// The local replica's state, as the driver reports it when a space opens.
public struct LocalSpace: Sendable {
    public var space: PublicKey
    public var trust: TrustPolicy
    /// Last stored entry per feed (what anti-entropy compares).
    public var stored: Frontier
    /// Newest signed head per feed.
    public var heads: [SignedHead]
    public var members: Set<PublicKey>
    public var snapshots: [LocalSnapshot]
    /// Peers to join the space's overlay through.
    public var contacts: [PeerAddress]
    /// This node writes the genesis feed: it created the space, so an empty
    /// space here is new, not one to bootstrap from peers.
    public var writesGenesis: Bool

    public init(space: PublicKey, trust: TrustPolicy, stored: Frontier, heads: [SignedHead], members: Set<PublicKey>,
                snapshots: [LocalSnapshot], contacts: [PeerAddress], writesGenesis: Bool = false) {
        self.writesGenesis = writesGenesis
        self.space = space
        self.trust = trust
        self.stored = stored
        self.heads = heads
        self.members = members
        self.snapshots = snapshots
        self.contacts = contacts
    }
}

/// A stored snapshot this node can offer, with what peers ask for it.
public struct LocalSnapshot: Sendable {
    public var manifest: SnapshotManifest
    public var attestations: [Attestation]

    public init(manifest: SnapshotManifest, attestations: [Attestation]) {
        self.manifest = manifest
        self.attestations = attestations
    }
}

public enum AuditVerdict: Hashable, Sendable {
    case consistent
    case inconsistent
    case cannotAudit
}

/// Notable happenings, for logs, metrics and the simulator's invariant checks.
public enum NodeEvent: Hashable, Sendable {
    /// A peer sent something wrong; `detail` says what.
    case misbehaviour(peer: PublicKey, kind: Misbehaviour, detail: String)
    /// A peer's score fell below the threshold: it was disconnected and banned.
    case peerBanned(PublicKey)
    case forkDetected(feed: PublicKey, seq: UInt64)
    case fraudDetected(signer: PublicKey, manifest: Hash)
    case bootstrapChoseSnapshot(DiscoveryKey, manifest: Hash, entries: UInt64, bytes: UInt64)
    case bootstrapProgress(DiscoveryKey, chunksDone: Int, chunksTotal: Int, bytesDone: UInt64, bytesTotal: UInt64)
    /// The space is queryable: a snapshot was installed (or, for replay, nothing to install).
    case spaceReady(DiscoveryKey, fromSnapshot: Bool)
    case neighborUp(DiscoveryKey, PublicKey)
    case neighborDown(DiscoveryKey, PublicKey)
}

/// Kinds of misbehaviour a node scores.
public enum Misbehaviour: String, Hashable, Sendable, CaseIterable {
    case malformedFrame
    case oversizeFrame
    case badCapability
    case invalidEntries
    case invalidSignature
    case badChunk
    case badManifest
    case badEvidence
    case unsolicited
    case flooding
    case unresponsive
}
