/// HyParView membership (Leitão, Pereira, Rodrigues, DSN 2007) of one space
/// at one node: a small active view of neighbours, kept connected, and a
/// larger passive view of known peers to replace them from. A pure state
/// machine: the driver feeds it events and carries out the `OverlayOutput`s
/// each one returns, in order.
///
/// Links are symmetric. A node adds a peer to its active view only when the
/// peer holds it too or is about to: the peer joined through it, asked to be
/// its neighbour, or accepted its request. Every removal tells the other end
/// (`disconnect`), except a failed link, which both ends observe. With FIFO
/// delivery per pair of nodes, `a ∈ b.active ⇔ b ∈ a.active` once messages
/// stop flowing.
///
/// Where the paper leaves room: the node where a join walk ends asks the
/// joiner with a high-priority `neighbor` request (which must be accepted)
/// instead of adding it outright; requests that cross are both accepted; a
/// request unanswered for `requestTimeoutTicks` counts as refused, and
/// refusers are not asked again before the next tick; walks longer than
/// configured and oversized shuffle samples are cut short.
public struct Overlay: Sendable {
    public let me: PeerAddress
    public let config: OverlayConfig
    /// Neighbours, in the order they joined the view.
    public private(set) var active: [PeerAddress] = []
    private var passiveView: PassiveView
    private var requests: NeighborRequests
    /// What the last shuffle we started sent out: evicted first to make
    /// room for the reply, so the exchange swaps rather than duplicates.
    private var lastShuffleSample: [PeerAddress] = []
    private var hasLeft = false
    private var outbox: [OverlayOutput] = []

    public init(me: PeerAddress, config: OverlayConfig = .init()) {
        self.me = me
        self.config = config
        passiveView = PassiveView(capacity: config.passiveSize)
        requests = NeighborRequests(capacity: config.activeSize, refuserCapacity: config.passiveSize + config.activeSize)
    }

    /// Known peers that are not neighbours, oldest first.
    public var passive: [PeerAddress] { passiveView.peers }

    /// Peers asked to become neighbours that have not answered yet.
    public var pendingRequests: [PeerAddress] { requests.peers }

    /// Whether the overlay needs its connection to `peer`: it is a neighbour
    /// or owes us a reply. Only the loss of such a connection is a failure
    /// to report with `peerFailed`.
    public func holds(_ peer: PeerAddress) -> Bool {
        active.contains(peer) || requests.contains(peer)
    }

    // MARK: Events

    /// Enters the overlay through `contact`, which takes us as a neighbour
    /// and spreads our arrival with random walks.
    public mutating func join(via contact: PeerAddress, rng: inout some RandomNumberGenerator) -> [OverlayOutput] {
        guard contact != me else { return [] }
        hasLeft = false
        addActive(contact, announcing: .join, rng: &rng)
        return takeOutbox()
    }

    public mutating func receive(
        _ message: OverlayMessage, from peer: PeerAddress, rng: inout some RandomNumberGenerator
    ) -> [OverlayOutput] {
        guard !hasLeft, peer != me else { return [] }
        switch message {
        case .join:
            joined(peer, rng: &rng)
        case .forwardJoin(let joiner, let ttl):
            forwardJoin(joiner, ttl: ttl, from: peer, rng: &rng)
        case .neighbor(let highPriority):
            neighborRequested(by: peer, highPriority: highPriority, rng: &rng)
        case .neighborReply(let accepted):
            neighborReplied(peer, accepted: accepted, rng: &rng)
        case .disconnect(let alive):
            disconnected(peer, alive: alive, rng: &rng)
        case .shuffle(let origin, let ttl, let peers):
            shuffleArrived(origin: origin, ttl: ttl, peers: peers, from: peer, rng: &rng)
        case .shuffleReply(let peers):
            integrate(peers.prefix(config.shuffleSampleLimit), preferredVictims: lastShuffleSample, rng: &rng)
            lastShuffleSample = []
            // New names: a short active view asks them now, not next tick
            // (before releasing the sender, which may be among them).
            fillActiveView(rng: &rng)
            releaseIfUnheld(peer)
        }
        return takeOutbox()
    }

    /// The connection to `peer` failed or broke, or a connection attempt
    /// failed: forget the peer and replace it from the passive view.
    public mutating func peerFailed(_ peer: PeerAddress, rng: inout some RandomNumberGenerator) -> [OverlayOutput] {
        guard !hasLeft, peer != me else { return [] }
        requests.remove(peer)
        passiveView.remove(peer)
        removeActive(peer)
        fillActiveView(rng: &rng)
        return takeOutbox()
    }

    /// Periodic (the driver's tick): give up on unanswered requests, refill
    /// a short active view, and, when `shuffle` (every
    /// `config.shuffleInterval`) or while the passive view is short of one
    /// shuffle sample, start a shuffle.
    public mutating func tick(shuffle: Bool = true, rng: inout some RandomNumberGenerator) -> [OverlayOutput] {
        guard !hasLeft else { return [] }
        for peer in requests.tick(timeout: config.requestTimeoutTicks) { releaseIfUnheld(peer) }
        fillActiveView(rng: &rng)
        if shuffle || passiveView.peers.count < config.shuffleSampleLimit { startShuffle(rng: &rng) }
        return takeOutbox()
    }

    /// Peers learned elsewhere (configured bootstrap peers, a tracker) go to
    /// the passive view; a tick with a short active view will ask them.
    public mutating func learn(_ peers: [PeerAddress], rng: inout some RandomNumberGenerator) {
        integrate(peers[...], preferredVictims: [], rng: &rng)
    }

    /// Leaves the overlay: every neighbour, and every peer asked to become
    /// one, is told not to keep us. Later events are ignored until `join`.
    public mutating func leave() -> [OverlayOutput] {
        for peer in active {
            emit(.neighborDown(peer))
        }
        for peer in active + requests.removeAll() {
            emit(.send(peer, .disconnect(alive: false)))
            emit(.release(peer))
        }
        active.removeAll()
        hasLeft = true
        return takeOutbox()
    }

    // MARK: Joining

    /// A newcomer chose us as its contact. It already holds us as a
    /// neighbour; the walks introduce it to the rest of the overlay.
    private mutating func joined(_ joiner: PeerAddress, rng: inout some RandomNumberGenerator) {
        addActive(joiner, rng: &rng)
        for neighbor in active where neighbor != joiner {
            emit(.send(neighbor, .forwardJoin(joiner: joiner, ttl: config.activeWalkLength)))
        }
        // The joiner knows no one else: hand it a sample of both views, so
        // it can fill its own active view (and replace us) without waiting
        // for walks and shuffles. When many nodes join at once the walks end
        // at once too, and without this their passive views stay empty.
        let sample = sample(excluding: joiner, count: config.shuffleSampleLimit, rng: &rng)
        if !sample.isEmpty { emit(.send(joiner, .shuffleReply(peers: sample))) }
    }

    /// Up to `count` known peers other than `peer`: passive ones first,
    /// then neighbours.
    private func sample(excluding peer: PeerAddress, count: Int, rng: inout some RandomNumberGenerator) -> [PeerAddress] {
        let passive = passiveView.peers.filter { $0 != peer }.shuffled(using: &rng).prefix(count)
        let neighbours = active.filter { $0 != peer }.shuffled(using: &rng).prefix(count - passive.count)
        return Array(passive + neighbours)
    }

    private mutating func forwardJoin(
        _ joiner: PeerAddress, ttl: UInt8, from sender: PeerAddress, rng: inout some RandomNumberGenerator
    ) {
        guard joiner != me else { return }
        let ttl = min(ttl, config.activeWalkLength)
        if ttl > 0, active.count > 1 {
            if ttl == config.passiveWalkLength, !active.contains(joiner) {
                passiveView.insert(joiner, rng: &rng)
            }
            let next = active.filter { $0 != sender && $0 != joiner }.randomElement(using: &rng)
            if let next {
                emit(.send(next, .forwardJoin(joiner: joiner, ttl: ttl - 1)))
                return
            }
        }
        // The walk ends here. The joiner must take us (high priority), and
        // we take it when it says so, like any accepted request.
        guard !active.contains(joiner), !requests.contains(joiner) else { return }
        if requests.isFull {
            passiveView.insert(joiner, rng: &rng)
        } else {
            requestNeighbor(joiner, highPriority: true)
        }
    }

    // MARK: Neighbour requests

    private mutating func requestNeighbor(_ peer: PeerAddress, highPriority: Bool) {
        guard peer != me, !holds(peer), !requests.isFull else { return }
        requests.add(peer)
        emit(.send(peer, .neighbor(highPriority: highPriority)))
    }

    private mutating func neighborRequested(
        by peer: PeerAddress, highPriority: Bool, rng: inout some RandomNumberGenerator
    ) {
        if active.contains(peer) {
            emit(.send(peer, .neighborReply(accepted: true)))
        } else if highPriority || requests.contains(peer) || active.count < config.activeSize {
            // A request crossing ours is accepted whatever our view's size:
            // both ends want the link, and both will hold it.
            addActive(peer, announcing: .neighborReply(accepted: true), rng: &rng)
        } else {
            emit(.send(peer, .neighborReply(accepted: false)))
            passiveView.insert(peer, rng: &rng)
            releaseIfUnheld(peer)
        }
    }

    private mutating func neighborReplied(_ peer: PeerAddress, accepted: Bool, rng: inout some RandomNumberGenerator) {
        let asked = requests.contains(peer)
        if !accepted {
            guard asked else { return }
            requests.refuse(peer)
            releaseIfUnheld(peer)
            fillActiveView(rng: &rng)
        } else if active.contains(peer) {
            requests.remove(peer)
        } else if asked || active.count < config.activeSize {
            addActive(peer, rng: &rng)
        } else {
            // We gave up on this request and have no room now, but the peer
            // holds us: undo its side.
            emit(.send(peer, .disconnect(alive: true)))
            passiveView.insert(peer, rng: &rng)
            releaseIfUnheld(peer)
        }
    }

    private mutating func disconnected(_ peer: PeerAddress, alive: Bool, rng: inout some RandomNumberGenerator) {
        requests.remove(peer)
        if removeActive(peer) {
            emit(.release(peer))
            // Refill before the peer is in the passive view, so it is not
            // asked straight back.
            fillActiveView(rng: &rng)
        }
        if alive {
            passiveView.insert(peer, rng: &rng)
        } else {
            passiveView.remove(peer)
        }
    }

    /// Asks passive peers to fill the free slots of the active view. With no
    /// neighbour at all, the first request is high priority: it must be
    /// accepted, so an isolated node always reconnects.
    private mutating func fillActiveView(rng: inout some RandomNumberGenerator) {
        let wanted = config.activeSize - active.count - requests.count
        guard wanted > 0 else { return }
        let candidates = passiveView.peers.filter { !requests.contains($0) && !requests.refused($0) }
        for candidate in candidates.shuffled(using: &rng).prefix(wanted) {
            requestNeighbor(candidate, highPriority: active.isEmpty && requests.isEmpty)
        }
    }

    // MARK: Shuffling

    private mutating func startShuffle(rng: inout some RandomNumberGenerator) {
        guard let target = active.randomElement(using: &rng) else { return }
        let neighbors = active.filter { $0 != target }.shuffled(using: &rng).prefix(config.shuffleActive)
        let known = passiveView.peers.shuffled(using: &rng).prefix(config.shufflePassive)
        lastShuffleSample = Array(neighbors + known)
        let ttl = config.shuffleWalkLength
        emit(.send(target, .shuffle(origin: me, ttl: ttl, peers: lastShuffleSample)))
    }

    /// A shuffle walks on until its ttl runs out or it reaches a dead end;
    /// the last node answers with as many of its passive peers as it got,
    /// and keeps the ones it got.
    private mutating func shuffleArrived(
        origin: PeerAddress, ttl: UInt8, peers: [PeerAddress], from sender: PeerAddress,
        rng: inout some RandomNumberGenerator
    ) {
        guard origin != me else { return }
        let received = [origin] + peers.prefix(config.shuffleSampleLimit - 1)
        let ttl = min(ttl, config.shuffleWalkLength)
        if ttl > 1, let next = active.filter({ $0 != sender && $0 != origin }).randomElement(using: &rng) {
            emit(.send(next, .shuffle(origin: origin, ttl: ttl - 1, peers: Array(received.dropFirst()))))
            return
        }
        // A short passive view is padded with neighbours: an empty reply
        // teaches the origin nothing.
        let reply = sample(excluding: origin, count: received.count, rng: &rng)
        emit(.send(origin, .shuffleReply(peers: reply)))
        releaseIfUnheld(origin)
        integrate(received[...], preferredVictims: reply, rng: &rng)
    }

    /// Adds peers to the passive view, skipping ourselves and neighbours.
    private mutating func integrate(
        _ peers: ArraySlice<PeerAddress>, preferredVictims: [PeerAddress], rng: inout some RandomNumberGenerator
    ) {
        for peer in peers where peer != me && !active.contains(peer) {
            passiveView.insert(peer, preferredVictims: preferredVictims, rng: &rng)
        }
    }

    // MARK: The active view

    /// Makes `peer` a neighbour, sending `announcement` first (so that it
    /// reaches the peer before any traffic the new link brings). A full view
    /// drops a random neighbour to the passive view to make room.
    private mutating func addActive(
        _ peer: PeerAddress, announcing announcement: OverlayMessage? = nil, rng: inout some RandomNumberGenerator
    ) {
        guard peer != me else { return }
        if !active.contains(peer) {
            requests.remove(peer)
            passiveView.remove(peer)
            if active.count >= config.activeSize, let victim = active.randomElement(using: &rng) {
                removeActive(victim)
                emit(.send(victim, .disconnect(alive: true)))
                emit(.release(victim))
                passiveView.insert(victim, rng: &rng)
            }
            active.append(peer)
            if let announcement { emit(.send(peer, announcement)) }
            emit(.neighborUp(peer))
        } else if let announcement {
            emit(.send(peer, announcement))
        }
    }

    @discardableResult
    private mutating func removeActive(_ peer: PeerAddress) -> Bool {
        guard let index = active.firstIndex(of: peer) else { return false }
        active.remove(at: index)
        emit(.neighborDown(peer))
        return true
    }

    private mutating func releaseIfUnheld(_ peer: PeerAddress) {
        if !holds(peer) { emit(.release(peer)) }
    }

    private mutating func emit(_ output: OverlayOutput) { outbox.append(output) }

    private mutating func takeOutbox() -> [OverlayOutput] {
        defer { outbox.removeAll() }
        return outbox
    }
}
