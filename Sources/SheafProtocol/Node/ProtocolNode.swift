import SheafCrypto
import SheafFeeds
import SheafRandom
import SheafSnapshots

/// One node's protocol logic, as a deterministic state machine: inputs in
/// (`handle`), outputs out. It owns no socket, clock, thread or disk: the
/// daemon's transport and the simulator's virtual network drive the same
/// code, and a simulation reproduces from its seed (DESIGN.md invariant 7).
///
/// Sessions carry space channels; a channel opens only after both ends
/// proved they know the space key, bound to the session. Per space the node
/// runs a HyParView overlay, Plumtree broadcast of new batches, frontier
/// anti-entropy, snapshot offers and downloads, audits and evidence.
public struct ProtocolNode: Sendable {
    public let identity: PublicKey
    public private(set) var config: NodeConfig
    var rng: SplitMix64
    var now: NodeTime = .zero
    var sessions: [PublicKey: PeerSession] = [:]
    /// Peers being connected to, with the space messages waiting for them.
    var connecting: [PublicKey: (address: PeerAddress, queued: [(DiscoveryKey, SpaceMessage)])] = [:]
    var spaces = SpaceTable()
    var scores: PeerScores
    var outputs: [NodeOutput] = []
    public internal(set) var counters = ProtocolCounters()

    struct PeerSession {
        let session: Hash
        let outbound: Bool
        var address: PeerAddress?
        var openedByUs: Set<DiscoveryKey> = []
        var openedByThem: Set<DiscoveryKey> = []
        var queued: [DiscoveryKey: [SpaceMessage]] = [:]
        var queuedCount = 0
        /// When it last answered a request of ours (a range, a chunk, or
        /// that it has neither): a peer still answering is busy, not gone.
        var lastAnswered = NodeTime.zero
        /// When the newest range request it answered was sent. Answers come
        /// in the order of the requests, so a range request sent before
        /// this one that is still unanswered was lost or dropped.
        var newestRangeAnswered = NodeTime.zero
    }

    /// Reads from a peer's session. Inside a mutating method, reading
    /// `sessions[peer]?.field` copies the whole session (its sets and queues)
    /// out of the dictionary first; a non-mutating method borrows it.
    func peerSession<R>(_ peer: PublicKey, _ read: (PeerSession) -> R?) -> R? { sessions[peer].flatMap(read) }

    public init(identity: PublicKey, config: NodeConfig = NodeConfig(), seed: UInt64) {
        self.identity = identity
        self.config = config
        rng = SplitMix64(seed: seed)
        scores = PeerScores(config: config.scoring)
    }

    public var me: PeerAddress { PeerAddress(node: identity, endpoint: config.listenEndpoint) }

    /// Sets the address peers are told to dial, once the driver knows it
    /// (a daemon listening on port 0 learns its port only when bound).
    /// Spaces opened afterwards advertise it.
    public mutating func setListenEndpoint(_ endpoint: String) { config.listenEndpoint = endpoint }

    /// Schedules the node's own timers; call once before anything else.
    public mutating func start(now: NodeTime) -> [NodeOutput] {
        self.now = now
        return [.schedule(.scoreDecay, after: config.scoring.decayInterval)]
    }

    /// Feeds one input to the node; returns what the driver must do, in order.
    public mutating func handle(_ input: NodeInput, now: NodeTime) -> [NodeOutput] {
        self.now = max(self.now, now)
        outputs = []
        switch input {
        case .connected(let node, let session, let outbound): connected(node, session: session, outbound: outbound)
        case .disconnected(let node): lost(node)
        case .connectFailed(let address): connectFailed(address)
        case .received(let peer, let frame): received(frame, from: peer)
        case .timerFired(let timer): fired(timer)
        case .contactsAdded(let contacts): addContacts(contacts)
        case .spaceOpened(let local): openSpace(local)
        case .spaceClosed(let key): closeSpace(key)
        case .appended(let key, let batch): appended(batch, in: key)
        case .membersChanged(let key, let members): membersChanged(members, in: key)
        case .snapshotsChanged(let key, let snapshots): snapshotsChanged(snapshots, in: key)
        case .ingestFailed(let key, let feed, let tip, _): ingestFailed(feed, tip: tip, in: key)
        case .installed(let key, let manifest, let error): installed(manifest, error: error, in: key)
        case .audited(let key, let manifest, let verdict, let attestation): audited(manifest, verdict, attestation, in: key)
        }
        defer { outputs = [] }
        return outputs
    }

    /// Peers with an open session.
    public var connectedPeers: [PublicKey] { sessions.keys.sorted() }

    /// The active overlay neighbours of a space.
    public func neighbours(of key: DiscoveryKey) -> [PeerAddress] { spaces[key]?.overlay.active ?? [] }

    /// Every peer the overlay of a space knows (active, then passive): what a
    /// restarting node should try first.
    public func knownPeers(of key: DiscoveryKey) -> [PeerAddress] {
        spaces[key].map { $0.overlay.active + $0.overlay.passive } ?? []
    }

    /// The stored frontier the node believes it holds for a space.
    public func storedFrontier(of key: DiscoveryKey) -> Frontier? { spaces[key]?.stored }

    /// Entries the node knows to exist in a space: per feed, the furthest
    /// of what it stores and what neighbours' frontiers claim. How far a
    /// catch-up has to go. Saturates: neighbours' frontiers may claim any seq.
    public func knownEntries(of key: DiscoveryKey) -> UInt64 {
        guard let space = spaces[key] else { return 0 }
        var furthest = space.stored
        for frontier in space.planner.peerFrontiers.values {
            for (feed, anchor) in frontier.heads { furthest.advance(feed, to: anchor) }
        }
        return furthest.entryCount
    }

    /// Whether the space is still joining from a snapshot.
    public func isJoining(_ key: DiscoveryKey) -> Bool { spaces[key]?.isJoining ?? false }

    /// Feeds proven forked in a space.
    public func forkedFeeds(of key: DiscoveryKey) -> [PublicKey] { spaces[key].map { $0.forked.keys.sorted() } ?? [] }

    /// Snapshot signers denounced for lying in a space.
    public func denouncedSigners(of key: DiscoveryKey) -> [PublicKey] { spaces[key].map { $0.denounced.sorted() } ?? [] }

    // MARK: Sessions

    mutating func connected(_ node: PublicKey, session: Hash, outbound: Bool) {
        if scores.isBanned(node, now: now) || node == identity {
            outputs.append(.disconnect(node, reason: node == identity ? "connected to itself" : "banned"))
            return
        }
        if sessions[node] != nil {
            // A second session with the same peer: keep the one the lower key initiated.
            let keepNew = (identity < node) == outbound
            guard keepNew else {
                outputs.append(.disconnect(node, reason: "duplicate session"))
                return
            }
        }
        sessions[node] = PeerSession(session: session, outbound: outbound)
        sendFrame(.hello(Hello(address: me)), to: node)
        if let pending = connecting.removeValue(forKey: node) {
            sessions[node]?.address = pending.address
            for (key, message) in pending.queued { sendSpace(message, in: key, to: node) }
        }
    }

    mutating func lost(_ node: PublicKey) {
        guard let session = sessions.removeValue(forKey: node) else { return }
        let address = session.address ?? PeerAddress(node: node, endpoint: "")
        for key in spaces.keys.sorted() { peerLeft(address, in: key) }
    }

    mutating func connectFailed(_ address: PeerAddress) {
        connecting[address.node] = nil
        for key in spaces.keys.sorted() { peerLeft(address, in: key) }
    }

    /// A peer is gone from a space (session lost, connect failed, channel closed).
    mutating func peerLeft(_ address: PeerAddress, in key: DiscoveryKey) {
        guard spaces.contains(key) else { return }
        // Only the loss of a link the overlay holds is a failure to repair.
        let overlayOut = spaces[key]!.overlay.holds(address) ? spaces[key]!.overlay.peerFailed(address, rng: &rng) : []
        let broadcastOut = spaces[key]!.broadcast.neighborDown(address.node)
        spaces[key]!.planner.peerGone(address.node)
        spaces[key]!.joining?.forget(address.node)
        apply(overlayOut, in: key)
        apply(broadcastOut, in: key)
        planRanges(in: key)
        pumpDownload(in: key)
    }

    mutating func disconnect(_ node: PublicKey, reason: String) {
        guard sessions[node] != nil || connecting[node] != nil else { return }
        outputs.append(.disconnect(node, reason: reason))
        connecting[node] = nil
        lost(node)
    }

    /// Charges a misbehaviour; bans and drops the peer when its score runs out.
    mutating func charge(_ peer: PublicKey, _ kind: Misbehaviour, _ detail: String) {
        outputs.append(.event(.misbehaviour(peer: peer, kind: kind, detail: detail)))
        if scores.charge(peer, kind, now: now) {
            outputs.append(.event(.peerBanned(peer)))
            disconnect(peer, reason: "banned: \(kind.rawValue)")
        }
    }

    // MARK: Sending

    mutating func sendFrame(_ message: WireMessage, to node: PublicKey) {
        outputs.append(.send(to: node, frame: WireCodec.encode(message)))
    }

    /// Sends on a space channel, connecting and opening it first if needed.
    mutating func sendSpace(_ message: SpaceMessage, in key: DiscoveryKey, to address: PeerAddress) {
        if sessions[address.node] != nil {
            if peerSession(address.node, { $0.address == nil }) == true { sessions[address.node]?.address = address }
            sendSpace(message, in: key, to: address.node)
            return
        }
        guard address.node != identity else { return }
        if connecting[address.node] == nil {
            connecting[address.node] = (address, [])
            outputs.append(.connect(address))
        }
        if (connecting[address.node]?.queued.count ?? 0) < config.maxQueuedPerPeer {
            connecting[address.node]?.queued.append((key, message))
        }
    }

    mutating func sendSpace(_ message: SpaceMessage, in key: DiscoveryKey, to node: PublicKey) {
        // Changed in place through its index (reading through the index
        // would copy the session: `peerSession` borrows it).
        guard let index = sessions.index(forKey: node), let space = spaces[key]?.space,
              let (session, opened, queued) = peerSession(node, { ($0.session, $0.openedByThem.contains(key), $0.queuedCount) })
        else { return }
        if sessions.values[index].openedByUs.insert(key).inserted {
            sendFrame(.open(OpenSpace(space: space, session: session, sender: identity)), to: node)
        }
        // Requests may go before the peer proved it knows the space: they
        // reveal nothing, and its answers wait for its proof anyway.
        if opened || message.revealsNothing {
            sendFrame(.space(key, message), to: node)
        } else if queued < config.maxQueuedPerPeer {
            sessions.values[index].queued[key, default: []].append(message)
            sessions.values[index].queuedCount += 1
        }
    }

    /// Sends to every neighbour with an open channel in the space.
    mutating func sendToNeighbours(_ message: SpaceMessage, in key: DiscoveryKey, except: PublicKey? = nil) {
        for peer in neighbours(of: key) where peer.node != except { sendSpace(message, in: key, to: peer.node) }
    }

    // MARK: Receiving

    mutating func received(_ frame: [UInt8], from peer: PublicKey) {
        guard sessions[peer] != nil else { return }
        if scores.countFrame(from: peer, now: now) {
            charge(peer, .flooding, "over \(config.scoring.maxFramesPerSecond) frames in a second")
            guard sessions[peer] != nil else { return }
        }
        guard frame.count <= config.limits.maxFrameBytes else {
            counters.rejectedFrames += 1
            charge(peer, .oversizeFrame, "frame of \(frame.count) bytes")
            return
        }
        let message: WireMessage
        do { message = try WireCodec.decode(frame, limits: config.limits) } catch {
            counters.rejectedFrames += 1
            // A hello of another version is no offence: the peer runs
            // another build. The session ends without a penalty.
            if case .unsupportedVersion = error.code {
                disconnect(peer, reason: "\(error)")
                return
            }
            charge(peer, .malformedFrame, "\(error)")
            return
        }
        counters.count(message)
        switch message {
        case .hello(let hello):
            // Its version is this one: `decode` refuses any other.
            guard hello.address.node == peer else {
                charge(peer, .badCapability, "hello names another node")
                return
            }
            if !hello.address.endpoint.isEmpty { sessions[peer]?.address = hello.address }
        case .ping(let nonce):
            sendFrame(.pong(nonce: nonce), to: peer)
        case .pong:
            break
        case .open(let open):
            channelOpened(open, by: peer)
        case .close(let key, _):
            guard sessions[peer]?.openedByThem.contains(key) == true || sessions[peer]?.openedByUs.contains(key) == true else { return }
            sessions[peer]?.openedByThem.remove(key)
            sessions[peer]?.openedByUs.remove(key)
            if let dropped = sessions[peer]?.queued.removeValue(forKey: key) { sessions[peer]?.queuedCount -= dropped.count }
            peerLeft(sessions[peer]?.address ?? PeerAddress(node: peer, endpoint: ""), in: key)
        case .space(let key, let message):
            guard peerSession(peer, { $0.openedByThem.contains(key) }) == true, spaces.contains(key) else {
                charge(peer, .unsolicited, "traffic on \(key) before its channel was opened")
                return
            }
            receivedSpace(message, in: key, from: peer)
        }
    }

    mutating func channelOpened(_ open: OpenSpace, by peer: PublicKey) {
        guard let index = sessions.index(forKey: peer), let session = peerSession(peer, \.session) else { return }
        guard let space = spaces[open.discovery]?.space else {
            sendFrame(.close(open.discovery, reason: .unknownSpace), to: peer)
            return
        }
        guard open.proof == OpenSpace.proof(space: space, session: session, sender: peer) else {
            sendFrame(.close(open.discovery, reason: .badProof), to: peer)
            charge(peer, .badCapability, "wrong capability proof for \(open.discovery)")
            return
        }
        guard sessions.values[index].openedByThem.insert(open.discovery).inserted else {
            // Our answer may have been lost: answer again.
            sendFrame(.open(OpenSpace(space: space, session: session, sender: identity)), to: peer)
            return
        }
        if sessions.values[index].openedByUs.insert(open.discovery).inserted {
            sendFrame(.open(OpenSpace(space: space, session: session, sender: identity)), to: peer)
        }
        if let waiting = sessions.values[index].queued.removeValue(forKey: open.discovery) {
            sessions.values[index].queuedCount -= waiting.count
            for message in waiting { sendFrame(.space(open.discovery, message), to: peer) }
        }
    }

    mutating func receivedSpace(_ message: SpaceMessage, in key: DiscoveryKey, from peer: PublicKey) {
        switch message {
        case .overlay(let message):
            let address = peerSession(peer, \.address) ?? PeerAddress(node: peer, endpoint: "")
            let out = spaces[key]!.overlay.receive(message, from: address, rng: &rng)
            apply(out, in: key)
        case .broadcast(let message): receivedBroadcast(message, in: key, from: peer)
        case .sync(let message): receivedSync(message, in: key, from: peer)
        case .snapshot(let message): receivedSnapshot(message, in: key, from: peer)
        case .evidence(let message): receivedEvidence(message, in: key, from: peer)
        }
    }

    // MARK: Timers

    mutating func fired(_ timer: NodeTimer) {
        switch timer {
        case .scoreDecay:
            scores.decay(now: now)
            outputs.append(.schedule(.scoreDecay, after: config.scoring.decayInterval))
        case .antiEntropy(let key):
            guard spaces.contains(key) else { return }
            antiEntropyRound(in: key)
            joiningRound(in: key)
            outputs.append(.schedule(.antiEntropy(key), after: jittered(config.antiEntropyInterval)))
        case .frontierPush(let key):
            pushFrontier(in: key)
        case .overlayTick(let key):
            guard spaces.contains(key) else { return }
            let shuffle = now.since(spaces[key]!.lastShuffle) >= spaces[key]!.overlay.config.shuffleInterval
            if shuffle { spaces[key]!.lastShuffle = now }
            apply(spaces[key]!.overlay.tick(shuffle: shuffle, rng: &rng), in: key)
            // Alone, with no one left to ask: join again through a contact.
            let contacts = spaces[key].map { $0.overlay.active.isEmpty && $0.overlay.pendingRequests.isEmpty ? $0.contacts : [] } ?? []
            if !contacts.isEmpty {
                let contact = contacts[Int(rng.next() % UInt64(contacts.count))]
                apply(spaces[key]!.overlay.join(via: contact, rng: &rng), in: key)
            }
            outputs.append(.schedule(.overlayTick(key), after: jittered(config.overlayTickInterval)))
        case .broadcast(let key, let timer):
            guard spaces.contains(key) else { return }
            apply(spaces[key]!.broadcast.timerFired(timer, now: now), in: key)
        case .rangeTimeout(let key, let feed, let generation):
            guard let item = spaces[key]?.planner.outstanding[feed], item.generation == generation else { return }
            let overtaken = (peerSession(item.peer) { $0.newestRangeAnswered } ?? .zero) > item.sentAt
            if !overtaken, isBusy(item.peer, waitingSince: item.sentAt) {
                outputs.append(.schedule(.rangeTimeout(key, feed: feed, generation: generation), after: config.requestTimeout))
                return
            }
            guard let (item, repeated) = spaces[key]!.planner.timedOut(feed) else { return }
            // Charged once until heard from: a retry into a partition is not a new offence.
            if !repeated {
                charge(item.peer, .unresponsive, "range \(feed.hex.prefix(8)) \(item.request.after)...\(item.request.through) timed out")
            }
            planRanges(in: key)
        case .chunkCheck(let key):
            chunkCheck(in: key)
        }
    }

    /// Whether a late answer from `peer` is worth waiting for a while
    /// longer: it answered a request of ours within `requestTimeout` (it is
    /// working through them), and the wait since `since` is under
    /// `maxBusyWait`. Any other traffic does not count: a peer that gossips
    /// but answers nothing has lost or dropped the request.
    func isBusy(_ peer: PublicKey, waitingSince since: NodeTime) -> Bool {
        guard let answered = peerSession(peer, { $0.lastAnswered }) else { return false }
        return now.since(answered) < config.requestTimeout && now.since(since) < config.maxBusyWait
    }

    /// Notes that `peer` answered a request of ours (sent at `sentAt`, for ranges).
    mutating func noteAnswer(from peer: PublicKey, rangeSentAt sentAt: NodeTime? = nil) {
        guard sessions[peer] != nil else { return }
        sessions[peer]!.lastAnswered = now
        if let sentAt, sentAt > sessions[peer]!.newestRangeAnswered { sessions[peer]!.newestRangeAnswered = sentAt }
    }

    /// `interval` ± 10 %, from the node's seeded generator: neighbours' timers drift apart.
    mutating func jittered(_ interval: Duration) -> Duration {
        let nanos = interval.nanoseconds
        guard nanos >= 10 else { return interval }
        let spread = nanos / 5
        return .nanoseconds(Int64(clamping: nanos - spread / 2 + rng.next() % (spread + 1)))
    }
}

extension SpaceMessage {
    /// Whether the message may be sent before the peer proved it knows the
    /// space: a request, or a plain overlay step without peer addresses.
    var revealsNothing: Bool {
        switch self {
        case .overlay(.join), .overlay(.neighbor), .snapshot(.requestOffers), .snapshot(.requestSnapshot), .snapshot(.requestManifest),
             .snapshot(.requestChunks), .sync(.request):
            true
        default:
            false
        }
    }
}

/// What a node received, by role: the simulator's `scale` figures and the
/// daemon's metrics read these.
public struct ProtocolCounters: Hashable, Sendable {
    /// Messages carrying entries: broadcast gossip and anti-entropy ranges.
    public var payloadMessages = 0
    /// Every other message (overlay, announcements, frontiers, requests, ...).
    public var controlMessages = 0
    /// Broadcast items delivered (first verified copy), and the most hops one took.
    public var deliveries = 0
    public var maxDeliveryRound: UInt16 = 0
    /// Frames that failed to decode or broke a limit.
    public var rejectedFrames = 0

    public init() {}

    mutating func count(_ message: WireMessage) {
        switch message {
        case .space(_, .broadcast(.gossip)), .space(_, .sync(.range)): payloadMessages += 1
        default: controlMessages += 1
        }
    }
}

extension ProtocolNode {
    /// A one-line summary of a space's anti-entropy state, for debugging runs.
    public func syncSummary(of key: DiscoveryKey) -> String {
        guard let space = spaces[key] else { return "no space" }
        let outstanding = space.planner.outstanding.values.map { "\($0.request.feed.hex.prefix(6))@\($0.peer.hex.prefix(6)) \($0.request.after)...\($0.request.through)" }.sorted()
        let heard = space.planner.peerFrontiers.map { "\($0.key.hex.prefix(6)):\($0.value.entryCount)" }.sorted()
        let channels = sessions.map { "\($0.key.hex.prefix(6)) us:\($0.value.openedByUs.contains(key)) them:\($0.value.openedByThem.contains(key)) q:\($0.value.queuedCount)" }.sorted()
        return "outstanding \(outstanding) heard \(heard) sessions \(channels)"
    }
}
