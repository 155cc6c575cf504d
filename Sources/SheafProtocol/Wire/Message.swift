import SheafCrypto
import SheafFeeds

/// Every message two nodes exchange over a session, after the transport's
/// handshake. The canonical encoding is in `WireCodec` and `docs/PROTOCOL.md`.
///
/// Space traffic is addressed by discovery key, never by the space key itself,
/// and flows only on a space channel that the sender opened with a
/// capability proof (`OpenSpace`).
public enum WireMessage: Hashable, Sendable {
    /// First message each way on a session.
    case hello(Hello)
    /// Keep-alive and round-trip probe; answered by `pong` with the same nonce.
    case ping(nonce: UInt64)
    case pong(nonce: UInt64)
    /// Opens (or accepts) a space channel.
    case open(OpenSpace)
    /// Closes a space channel; `reason` is for logs.
    case close(DiscoveryKey, reason: CloseReason)
    /// Traffic of one open space channel.
    case space(DiscoveryKey, SpaceMessage)
}

/// The wire protocol version this build speaks.
public enum WireVersion {
    public static let current: UInt16 = 1
}

public struct Hello: Hashable, Sendable {
    public var version: UInt16
    /// Where the sender accepts connections (may be empty: it does not listen).
    public var address: PeerAddress

    public init(version: UInt16 = WireVersion.current, address: PeerAddress) {
        self.version = version
        self.address = address
    }
}

/// A node's identity key and where it listens. Peers are the same peer when
/// their keys are equal, wherever they say they listen.
public struct PeerAddress: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var node: PublicKey
    /// `host:port`, or a simulator name; at most `WireLimits.maxEndpointBytes`.
    public var endpoint: String

    public init(node: PublicKey, endpoint: String) {
        self.node = node
        self.endpoint = endpoint
    }

    public static func == (a: PeerAddress, b: PeerAddress) -> Bool { a.node == b.node }
    public func hash(into hasher: inout Swift.Hasher) { hasher.combine(node) }
    public static func < (a: PeerAddress, b: PeerAddress) -> Bool { a.node < b.node }
    public var description: String { "\(node.hex.prefix(8))@\(endpoint)" }
}

/// The public name of a space: a hash of its key, so that naming a space on
/// the wire does not reveal the key that grants access to it.
public struct DiscoveryKey: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var hash: Hash

    public init(hash: Hash) { self.hash = hash }

    public init(space: PublicKey) {
        hash = Hash.of(space.raw.bytes, domain: ProtocolDomains.discovery)
    }

    public static func < (a: DiscoveryKey, b: DiscoveryKey) -> Bool { a.hash < b.hash }
    public var description: String { "space:\(hash.hex.prefix(12))" }
}

/// Proof that the sender knows the space key, bound to this session so it
/// cannot be replayed on another one.
public struct OpenSpace: Hashable, Sendable {
    public var discovery: DiscoveryKey
    public var proof: Hash

    public init(discovery: DiscoveryKey, proof: Hash) {
        self.discovery = discovery
        self.proof = proof
    }

    /// `H(space key ‖ session id ‖ sender key)` in the capability domain.
    /// The session id is the transport's handshake hash (both ends derive
    /// the same one); the sender's key makes the two ends' proofs differ, so
    /// neither can answer by echoing the other's.
    public static func proof(space: PublicKey, session: Hash, sender: PublicKey) -> Hash {
        Hash.of(space.raw.bytes + session.raw.bytes + sender.raw.bytes, domain: ProtocolDomains.capability)
    }

    public init(space: PublicKey, session: Hash, sender: PublicKey) {
        self.init(discovery: DiscoveryKey(space: space), proof: Self.proof(space: space, session: session, sender: sender))
    }
}

public enum CloseReason: UInt8, Hashable, Sendable, CaseIterable {
    case unknownSpace = 1
    case badProof = 2
    case misbehaving = 3
    case shuttingDown = 4
    case notNeeded = 5
}

/// The per-space sub-protocols.
public enum SpaceMessage: Hashable, Sendable {
    case overlay(OverlayMessage)
    case broadcast(BroadcastMessage)
    case sync(SyncMessage)
    case snapshot(SnapshotMessage)
    case evidence(EvidenceMessage)
}

// MARK: Overlay (HyParView)

/// HyParView membership: a small active view of neighbours kept connected,
/// a larger passive view of known peers to replace them from.
public enum OverlayMessage: Hashable, Sendable {
    /// Sent by a newcomer to its contact.
    case join
    /// A random walk spreading a newcomer; `ttl` counts down.
    case forwardJoin(joiner: PeerAddress, ttl: UInt8)
    /// Asks to become an active neighbour; a high-priority request (the
    /// sender has no neighbour left) must be accepted.
    case neighbor(highPriority: Bool)
    case neighborReply(accepted: Bool)
    /// Leaves the receiver's active view; `alive` says whether the sender may
    /// be kept in the passive view.
    case disconnect(alive: Bool)
    /// Periodic exchange of a sample of views, walking `ttl` hops.
    case shuffle(origin: PeerAddress, ttl: UInt8, peers: [PeerAddress])
    case shuffleReply(peers: [PeerAddress])
}

// MARK: Broadcast (Plumtree)

/// A broadcast item: the signed batch of `feed` ending at `seq`.
public struct BroadcastID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var feed: PublicKey
    public var seq: UInt64

    public init(feed: PublicKey, seq: UInt64) {
        self.feed = feed
        self.seq = seq
    }

    public static func < (a: BroadcastID, b: BroadcastID) -> Bool { (a.feed, a.seq) < (b.feed, b.seq) }
    public var description: String { "\(feed.hex.prefix(8))#\(seq)" }
}

/// Plumtree: eager push along a spanning tree, lazy announcements to the
/// other neighbours, graft to repair the tree on a miss, prune duplicates.
public enum BroadcastMessage: Hashable, Sendable {
    /// The batch itself: `range` is an `EncodedRange` of `id.feed` continuing
    /// after seq `after`. `round` counts hops from the origin.
    case gossip(id: BroadcastID, round: UInt16, after: UInt64, range: [UInt8])
    /// Announces batches the sender holds, without their bodies.
    case ihave([Announcement])
    /// Asks for a missed batch and makes the link eager again.
    case graft(id: BroadcastID, round: UInt16)
    /// Makes the link lazy: the receiver got a duplicate over it.
    case prune
}

public struct Announcement: Hashable, Sendable {
    public var id: BroadcastID
    public var round: UInt16

    public init(id: BroadcastID, round: UInt16) {
        self.id = id
        self.round = round
    }
}

// MARK: Sync (anti-entropy)

public enum SyncMessage: Hashable, Sendable {
    /// What the sender holds: per feed, the last seq and its hash.
    case frontier(Frontier)
    /// Asks for entries `after + 1 ... through` of a feed.
    case request(FeedRangeRequest)
    /// Entries of `feed` after `after`, as an `EncodedRange` ending at a signed head.
    case range(feed: PublicKey, after: UInt64, range: [UInt8])
    /// The sender cannot serve the request.
    case unavailable(FeedRangeRequest, reason: UnavailableReason)
}

public enum UnavailableReason: Hashable, Sendable {
    /// History up to and including `through` was pruned; a snapshot covers it.
    case pruned(through: UInt64)
    /// The sender does not hold these entries.
    case notHeld
    /// The feed is known to be forked and is no longer served.
    case forked
}

// MARK: Snapshots

public enum SnapshotMessage: Hashable, Sendable {
    /// Asks a neighbour which snapshots it can serve.
    case requestOffers
    case offers([SnapshotOffer])
    case requestManifest(Hash)
    /// An encoded, signed `SnapshotManifest`.
    case manifest([UInt8])
    /// Asks for chunks by id (the hash of their uncompressed bytes).
    case requestChunks([Hash])
    /// One chunk, zstd-compressed as stored.
    case chunk(id: Hash, compressed: [UInt8])
    case chunkMissing(Hash)
    /// Encoded `Attestation`s of a state root.
    case attestations([[UInt8]])
    /// What a joiner asks its first contact: `requestOffers`, and also
    /// stream the newest snapshot offered (after its manifest, every chunk,
    /// index chunks first, without waiting to be asked for them).
    case requestSnapshot
}

/// A snapshot a node can serve, summarised so a newcomer can choose among
/// offers before fetching any manifest.
public struct SnapshotOffer: Hashable, Sendable {
    public var manifest: Hash
    public var entryCount: UInt64
    public var stateRoot: Hash
    public var signer: PublicKey
    public var compressedBytes: UInt64
    public var createdAt: UInt64

    public init(manifest: Hash, entryCount: UInt64, stateRoot: Hash, signer: PublicKey, compressedBytes: UInt64, createdAt: UInt64) {
        self.manifest = manifest
        self.entryCount = entryCount
        self.stateRoot = stateRoot
        self.signer = signer
        self.compressedBytes = compressedBytes
        self.createdAt = createdAt
    }
}

// MARK: Evidence

/// Proof of misbehaviour, checkable by anyone, gossiped to every neighbour.
public enum EvidenceMessage: Hashable, Sendable {
    /// Two signed heads of one feed at one seq with different hashes.
    case fork(ForkProof)
    /// A signed manifest whose state root does not follow from its frontier:
    /// anyone holding the history can re-derive the root and see the lie.
    case snapshotFraud(manifest: [UInt8])
}

/// Hash and signature domains of the protocol.
public enum ProtocolDomains {
    public static let discovery = HashDomain("sheaf.discovery")
    public static let capability = HashDomain("sheaf.capability")
    public static let trace = HashDomain("sheaf.trace")
    /// Names stored evidence by its content.
    public static let evidence = HashDomain("sheaf.evidence")
}
