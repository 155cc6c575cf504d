import SheafCrypto
import SheafFeeds
import SheafSnapshots

/// Everything one node knows about one space's protocol state.
struct SpaceState {
    let space: PublicKey
    let discovery: DiscoveryKey
    let trust: TrustPolicy
    var overlay: Overlay
    var broadcast: Broadcast<PublicKey>
    var planner = RangePlanner()

    /// Last stored entry per feed: the anchors incoming ranges are verified from.
    var stored: Frontier
    /// Recent signed heads per feed, to catch a writer signing two histories.
    var heads = HeadCache()
    /// Writers the genesis feed has admitted at any time (their entries count).
    var members: Set<PublicKey>
    var forked: [PublicKey: ForkProof] = [:]
    /// Signers caught signing a snapshot whose root does not follow from its frontier.
    var denounced: Set<PublicKey> = []
    /// Snapshots this node stores and can serve, newest first.
    var snapshots: [LocalSnapshot] { didSet { offers = snapshots.map { ProtocolNode.offer(for: $0.manifest) } } }
    /// Their offers, made once: an offer names its manifest by id, which
    /// encodes and hashes the whole manifest.
    private(set) var offers: [SnapshotOffer]
    /// Attestations of others' snapshots this node collected or made, by state root.
    var attestations: [Hash: [Attestation]] = [:]
    /// Manifests audited or being audited.
    var audits: [Hash: AuditState] = [:]
    var lastFrontierSent: [PublicKey: NodeTime] = [:]
    /// When this node last streamed a snapshot to each peer (one stream per
    /// peer per `NodeConfig.streamCooldown`).
    var streamedTo: [PublicKey: NodeTime] = [:]
    var frontierPushScheduled = false
    /// When the overlay last shuffled (ticks come more often than shuffles).
    var lastShuffle = NodeTime.zero
    /// Where the node joined from: tried again whenever it has no neighbour.
    var contacts: [PeerAddress]
    /// Joining from a snapshot: collecting offers, downloading, installing.
    /// Nil once live (serving and catching up normally). An optional stored
    /// property, so that `spaces[key]!.joining!.download!…` changes the
    /// download in place: a copy taken out and written back would share the
    /// download's tables, and its first change would copy them all.
    var joining: Joining?

    struct Joining {
        var offers: [Hash: (offer: SnapshotOffer, peers: Set<PublicKey>)] = [:]
        /// Manifests received for offered snapshots, signatures checked.
        var manifests: [Hash: SnapshotManifest] = [:]
        var rejected: Set<Hash> = []
        var manifestRequest: (id: Hash, peer: PublicKey, deadline: NodeTime)?
        var download: ChunkDownload?
        /// A complete download waiting until the genesis feed says whether its signer is a member.
        var complete: ChunkDownload?
        var installing: Hash?
        /// Chunks pushed with an offer before the download started (index chunks), bounded.
        var early: [Hash: (peer: PublicKey, compressed: [UInt8])] = [:]
        /// The neighbour asked to stream its newest snapshot, and which
        /// manifest that is (once its offers say).
        var streamer: PublicKey?
        var streamedManifest: Hash?
        /// When each neighbour was last asked for offers (one ask per instant).
        var askedAt: [PublicKey: NodeTime] = [:]
        var rounds = 0
        var lastProgress = 0

        /// Nothing offered, nor anything under way.
        var isIdle: Bool { offers.isEmpty && download == nil && complete == nil && installing == nil }

        /// Notes who offers what; a neighbour that offers the snapshot being
        /// downloaded serves its chunks too.
        mutating func note(_ offered: [SnapshotOffer], from peer: PublicKey) {
            for offer in offered where !rejected.contains(offer.manifest) {
                offers[offer.manifest, default: (offer, [])].peers.insert(peer)
                if download?.manifestID == offer.manifest { download?.addSource(peer) }
            }
        }

        /// A neighbour is gone: it serves nothing now, and a stream it was
        /// asked for will not come (see `ProtocolNode.chooseSnapshot`).
        mutating func forget(_ peer: PublicKey) {
            download?.removeSource(peer)
            for id in Array(offers.keys) { offers[id]?.peers.remove(peer) }
            if streamer == peer && streamedManifest == nil { streamer = nil }
        }
    }

    init(local: LocalSpace, config: NodeConfig, me: PeerAddress) {
        space = local.space
        discovery = DiscoveryKey(space: local.space)
        trust = local.trust
        overlay = Overlay(me: me, config: config.overlay)
        broadcast = Broadcast(config: config.broadcast)
        stored = local.stored
        for head in local.heads { heads.insert(head) }
        members = local.members
        contacts = local.contacts.filter { $0.node != me.node }
        snapshots = local.snapshots
        offers = local.snapshots.map { ProtocolNode.offer(for: $0.manifest) }
        for snapshot in local.snapshots {
            attestations[snapshot.manifest.stateRoot, default: []].append(contentsOf: snapshot.attestations)
        }
        // A node that holds nothing of the space joins from a snapshot, unless
        // its policy is replay; one that holds anything catches up by anti-entropy.
        let empty = local.stored.isEmpty && local.snapshots.isEmpty
        joining = local.trust != .replay && empty && !local.writesGenesis ? Joining() : nil
    }

    var isJoining: Bool { joining != nil }

    /// Whether entries of `feed` are fetched and accepted.
    func accepts(_ feed: PublicKey) -> Bool { feedPolicy.accepts(feed) }

    /// The fields `accepts` reads, copied out: the range planner applies the
    /// rule while the space itself is being changed.
    var feedPolicy: FeedPolicy {
        FeedPolicy(space: space, members: members, forked: forked, joining: isJoining, genesisWhileJoining: fetchesGenesisWhileJoining)
    }

    /// While joining, the genesis feed is fetched (to learn the members)
    /// until the chosen snapshot may be installed as far as it is concerned.
    var fetchesGenesisWhileJoining: Bool {
        guard let joining else { return false }
        guard let manifest = joining.download?.manifest ?? joining.complete?.manifest else { return true }
        return !genesisAllowsInstalling(manifest)
    }

    /// Whether the genesis feed lets `manifest` be installed: it reached the
    /// snapshot's genesis seq (so the members are known), or, for a snapshot
    /// the genesis key signed under `member` (no members needed), nothing of
    /// it is stored yet: its log then continues from the snapshot. A creator
    /// that writes its data to the genesis feed would otherwise make every
    /// joiner fetch all of that before installing.
    func genesisAllowsInstalling(_ manifest: SnapshotManifest) -> Bool {
        let stored = stored.seq(of: space)
        return stored >= manifest.frontier.seq(of: space) || stored == 0 && !Trust.needsMembers(manifest, policy: trust, space: space)
    }

    struct FeedPolicy {
        let space: PublicKey
        let members: Set<PublicKey>
        let forked: [PublicKey: ForkProof]
        let joining: Bool
        let genesisWhileJoining: Bool

        /// Not a forked feed, and a member's; while joining from a snapshot
        /// at most the genesis feed (it says who the members are).
        func accepts(_ feed: PublicKey) -> Bool {
            guard forked[feed] == nil else { return false }
            return joining ? feed == space && genesisWhileJoining : feed == space || members.contains(feed)
        }
    }

    func anchor(of feed: PublicKey) -> FeedAnchor { stored[feed] ?? .genesis(of: feed) }

    /// The genesis key, or a writer the genesis feed admitted.
    func isMember(_ key: PublicKey) -> Bool { key == space || members.contains(key) }

    enum AuditState: Hashable {
        case pending
        case done(AuditVerdict)
    }
}

/// The newest signed heads seen per feed (a few per feed), so a head at the
/// same seq with another hash is caught and becomes a fork proof.
struct HeadCache {
    static let perFeed = 16
    private var heads: [PublicKey: [SignedHead]] = [:]

    mutating func insert(_ head: SignedHead) {
        var list = heads[head.feed] ?? []
        guard !list.contains(where: { $0.seq == head.seq }) else { return }
        list.append(head)
        if list.count > Self.perFeed { list.removeFirst(list.count - Self.perFeed) }
        heads[head.feed] = list
    }

    /// A head this cache holds for the same feed and seq but another hash.
    func conflict(with head: SignedHead) -> SignedHead? {
        heads[head.feed]?.first { $0.seq == head.seq && $0.hash != head.hash }
    }
}

/// The spaces a node serves, by discovery key. Reading a field through a
/// `Dictionary` subscript copies the whole `SpaceState` (every view, map and
/// download in it), and so does an `Array`'s getter; the node reads a field
/// or two per message. So each state lives in a box the table yields in
/// place, copied on write when a copy of the table shares it. A node serves
/// a handful of spaces, so a linear scan beats hashing the key.
struct SpaceTable: Sendable {
    /// One state, behind a pointer: `pointee` is addressed, so reads borrow
    /// it where a class's stored property would be copied out. Shared between
    /// copies of the table until one of them writes.
    private final class Box: @unchecked Sendable {
        // Optional so the subscript can yield it as is (a state wrapped on
        // the way out would be a copy); nil only while a write removes it.
        let state: UnsafeMutablePointer<SpaceState?>

        init(_ value: SpaceState?) {
            state = .allocate(capacity: 1)
            state.initialize(to: value)
        }

        deinit {
            state.deinitialize(count: 1)
            state.deallocate()
        }
    }

    private var entries: [(key: DiscoveryKey, box: Box)] = []

    /// What reading a key the table lacks yields. Never written.
    private nonisolated(unsafe) static let absent: UnsafeMutablePointer<SpaceState?> = {
        let pointer = UnsafeMutablePointer<SpaceState?>.allocate(capacity: 1)
        pointer.initialize(to: nil)
        return pointer
    }()

    private func position(of key: DiscoveryKey) -> Int? { entries.firstIndex { $0.key == key } }

    subscript(key: DiscoveryKey) -> SpaceState? {
        // One yield, so callers inline the read and borrow the state through
        // a method call; with two, `spaces[key]!.method()` copied it first.
        _read {
            let state = position(of: key).map { entries[$0].box.state } ?? Self.absent
            yield state.pointee
        }
        _modify {
            if let i = position(of: key) {
                if !isKnownUniquelyReferenced(&entries[i].box) { entries[i].box = Box(entries[i].box.state.pointee) }
                yield &entries[i].box.state.pointee
                if entries[i].box.state.pointee == nil { entries.remove(at: i) }
            } else {
                var added: SpaceState?
                yield &added
                if let added { entries.append((key, Box(added))) }
            }
        }
    }

    /// Whether the node serves `key`.
    func contains(_ key: DiscoveryKey) -> Bool { position(of: key) != nil }

    var keys: [DiscoveryKey] { entries.map(\.key) }

    var isEmpty: Bool { entries.isEmpty }

    mutating func removeValue(forKey key: DiscoveryKey) -> SpaceState? {
        guard let i = position(of: key) else { return nil }
        // The box frees the state when it goes: read it while holding the box.
        let box = entries.remove(at: i).box
        return withExtendedLifetime(box) { box.state.pointee }
    }
}
