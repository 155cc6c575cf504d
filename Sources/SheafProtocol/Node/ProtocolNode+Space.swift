import SheafCrypto
import SheafFeeds

/// Spaces: opening, the overlay, broadcast of new batches, and anti-entropy.
extension ProtocolNode {
    // MARK: Local state

    mutating func openSpace(_ local: LocalSpace) {
        let key = DiscoveryKey(space: local.space)
        guard !spaces.contains(key) else { return }
        spaces[key] = SpaceState(local: local, config: config, me: me)
        let contacts = local.contacts.filter { $0.node != identity }
        spaces[key]!.overlay.learn(contacts, rng: &rng)
        if let contact = contacts.first {
            apply(spaces[key]!.overlay.join(via: contact, rng: &rng), in: key)
            // A joiner asks for offers (and a stream) in the same flight as its join.
            askForOffers(in: key, to: contact)
        }
        outputs.append(.schedule(.antiEntropy(key), after: jittered(config.antiEntropyInterval)))
        outputs.append(.schedule(.overlayTick(key), after: jittered(config.overlayTickInterval)))
        if !spaces[key]!.isJoining { outputs.append(.event(.spaceReady(key, fromSnapshot: false))) }
    }

    /// New contacts: every space learns them, and a space with no neighbour
    /// (nor a join under way) joins through the first at once.
    mutating func addContacts(_ contacts: [PeerAddress]) {
        let contacts = contacts.filter { $0.node != identity }
        guard let first = contacts.first else { return }
        for key in spaces.keys.sorted() {
            spaces[key]!.overlay.learn(contacts, rng: &rng)
            for contact in contacts where !spaces[key]!.contacts.contains(contact) { spaces[key]!.contacts.append(contact) }
            guard spaces[key]!.overlay.active.isEmpty, spaces[key]!.overlay.pendingRequests.isEmpty else { continue }
            apply(spaces[key]!.overlay.join(via: first, rng: &rng), in: key)
            if spaces[key]!.isJoining { sendSpace(.snapshot(.requestOffers), in: key, to: first) }
        }
    }

    mutating func closeSpace(_ key: DiscoveryKey) {
        guard var space = spaces.removeValue(forKey: key) else { return }
        for output in space.overlay.leave() {
            if case .send(let peer, let message) = output { sendFrame(.space(key, .overlay(message)), to: peer.node) }
        }
        for node in sessions.keys.sorted() where sessions[node]?.openedByUs.contains(key) == true {
            sendFrame(.close(key, reason: .notNeeded), to: node)
            sessions[node]?.openedByUs.remove(key)
            sessions[node]?.openedByThem.remove(key)
        }
    }

    mutating func appended(_ batch: VerifiedBatch, in key: DiscoveryKey) {
        guard spaces.contains(key) else { return }
        spaces[key]!.stored.advance(batch.feed, to: batch.head.anchor)
        spaces[key]!.heads.insert(batch.head)
        let id = BroadcastID(feed: batch.feed, seq: batch.head.seq)
        let payload = BroadcastPayload(after: batch.anchor.seq, range: batch.encodedRange())
        apply(spaces[key]!.broadcast.publish(id, payload, now: now), in: key)
    }

    mutating func membersChanged(_ members: Set<PublicKey>, in key: DiscoveryKey) {
        guard spaces.contains(key) else { return }
        spaces[key]!.members.formUnion(members)
        planRanges(in: key)
        installIfTrusted(in: key)
    }

    mutating func snapshotsChanged(_ snapshots: [LocalSnapshot], in key: DiscoveryKey) {
        guard spaces.contains(key) else { return }
        spaces[key]!.snapshots = snapshots
        for snapshot in snapshots {
            for attestation in snapshot.attestations { remember(attestation, in: key) }
        }
    }

    mutating func ingestFailed(_ feed: PublicKey, tip: FeedAnchor, in key: DiscoveryKey) {
        guard spaces.contains(key) else { return }
        var heads = spaces[key]!.stored.heads
        heads[feed] = tip.seq == 0 ? nil : tip
        spaces[key]!.stored = Frontier(heads)
        planRanges(in: key)
    }

    // MARK: Overlay

    mutating func apply(_ overlayOutputs: [OverlayOutput], in key: DiscoveryKey) {
        for output in overlayOutputs {
            guard spaces.contains(key) else { return }
            switch output {
            case .send(let peer, let message):
                sendSpace(.overlay(message), in: key, to: peer)
            case .neighborUp(let peer):
                spaces[key]!.broadcast.neighborUp(peer.node)
                outputs.append(.event(.neighborUp(key, peer.node)))
                sendFrontier(in: key, to: peer.node)
                if spaces[key]!.isJoining { askForOffers(in: key, to: peer) } else if config.auditSnapshots {
                    sendSpace(.snapshot(.requestOffers), in: key, to: peer)
                }
            case .neighborDown(let peer):
                apply(spaces[key]!.broadcast.neighborDown(peer.node), in: key)
                outputs.append(.event(.neighborDown(key, peer.node)))
            case .release(let peer):
                releaseIfUnused(peer.node)
            }
        }
    }

    /// Closes a session no space needs any more.
    mutating func releaseIfUnused(_ node: PublicKey) {
        for key in spaces.keys {
            if spaces[key]!.overlay.active.contains(where: { $0.node == node }) { return }
            if spaces[key]!.planner.outstanding.values.contains(where: { $0.peer == node }) { return }
            if spaces[key]!.joining?.download?.sources.contains(node) == true { return }
        }
        if sessions[node] != nil { disconnect(node, reason: "not needed") }
    }

    // MARK: Broadcast

    mutating func apply(_ broadcastOutputs: [BroadcastOutput<PublicKey>], in key: DiscoveryKey) {
        for output in broadcastOutputs {
            guard spaces.contains(key) else { return }
            switch output {
            case .send(let peer, let message):
                sendSpace(.broadcast(message), in: key, to: peer)
            case .deliver(_, _, let round, _):
                counters.deliveries += 1
                counters.maxDeliveryRound = max(counters.maxDeliveryRound, round)
                // `receivedBroadcast` stores the verified batch itself.
            case .schedule(let timer, let delay):
                outputs.append(.schedule(.broadcast(key, timer), after: delay))
            case .serveFromStore(let id, let peer):
                let after = spaces[key]!.planner.peerFrontiers[peer]?.seq(of: id.feed) ?? (id.seq - 1)
                guard after < id.seq else { continue }
                outputs.append(.serveRange(key, FeedRangeRequest(feed: id.feed, after: after, through: id.seq), to: peer,
                                           maxEntries: config.maxRangeEntries))
            }
        }
    }

    mutating func receivedBroadcast(_ message: BroadcastMessage, in key: DiscoveryKey, from peer: PublicKey) {
        guard case .gossip(let id, let round, let after, let range) = message else {
            apply(spaces[key]!.broadcast.receive(message, from: peer, now: now), in: key)
            return
        }
        let payload = BroadcastPayload(after: after, range: range)
        guard spaces[key]!.accepts(id.feed) else { return }
        let anchor = spaces[key]!.anchor(of: id.feed)
        if id.seq <= anchor.seq {
            // Already held: a duplicate for the tree, but check it for a fork.
            if let head = try? EncodedRange.head(of: range), head.feed == id.feed, head.seq == id.seq { checkFork(head, in: key, from: peer) }
            apply(spaces[key]!.broadcast.held(id, now: now), in: key)
            apply(spaces[key]!.broadcast.gossipArrived(id, round: round, payload: payload, from: peer, verified: true, now: now), in: key)
            return
        }
        guard after == anchor.seq else {
            // A gap before it: fetch the gap by anti-entropy; do not relay what we cannot verify.
            apply(spaces[key]!.broadcast.gossipArrived(id, round: round, payload: payload, from: peer, verified: false, now: now), in: key)
            planRanges(in: key)
            return
        }
        guard let batch = verify(range, feed: id.feed, from: anchor, in: key, peer: peer), batch.head.seq == id.seq else { return }
        // Relay first (storing marks the id held, and a held id is not relayed), then store.
        apply(spaces[key]!.broadcast.gossipArrived(id, round: round, payload: payload, from: peer, verified: true, now: now), in: key)
        accept(batch, in: key)
    }

    // MARK: Verified data

    /// Verifies an encoded range from `anchor`; charges the sender if it is bad.
    mutating func verify(_ range: [UInt8], feed: PublicKey, from anchor: FeedAnchor, in key: DiscoveryKey, peer: PublicKey) -> VerifiedBatch? {
        do {
            let batch = try RangeVerifier.verify(encodedRange: range, from: anchor, feed: feed, maxEntries: FeedLimits.maxRangeEntries)
            checkFork(batch.head, in: key, from: peer)
            guard spaces[key]?.forked[feed] == nil else { return nil }
            return batch
        } catch {
            switch error.code {
            case .badSignature, .nonCanonicalSignature:
                charge(peer, .invalidSignature, "range of \(feed.hex.prefix(8)) after \(anchor.seq): \(error)")
            default:
                charge(peer, .invalidEntries, "range of \(feed.hex.prefix(8)) after \(anchor.seq): \(error)")
            }
            return nil
        }
    }

    /// A verified batch continues our stored tip: store and apply it.
    mutating func accept(_ batch: VerifiedBatch, in key: DiscoveryKey) {
        guard spaces.contains(key), batch.anchor == spaces[key]!.anchor(of: batch.feed) else { return }
        spaces[key]!.stored.advance(batch.feed, to: batch.head.anchor)
        spaces[key]!.heads.insert(batch.head)
        outputs.append(.ingest(key, batch))
        if batch.feed == spaces[key]!.space { installIfTrusted(in: key) }
        apply(spaces[key]!.broadcast.held(BroadcastID(feed: batch.feed, seq: batch.head.seq), now: now), in: key)
    }

    /// A signed head at a seq where we saw another hash signed: proof of a fork.
    mutating func checkFork(_ head: SignedHead, in key: DiscoveryKey, from peer: PublicKey) {
        guard spaces.contains(key), let other = spaces[key]!.heads.conflict(with: head), (try? head.verify()) != nil,
              let proof = try? ForkProof(other, head) else {
            spaces[key]?.heads.insert(head)
            return
        }
        recordFork(proof, in: key)
    }

    // MARK: Anti-entropy

    mutating func antiEntropyRound(in key: DiscoveryKey) {
        // Channels whose opening answer never came (lost): ask again.
        for node in sessions.keys.sorted() {
            guard let session = peerSession(node, { $0.openedByUs.contains(key) && !$0.openedByThem.contains(key) ? $0.session : nil }),
                  let space = spaces[key]?.space else { continue }
            sendFrame(.open(OpenSpace(space: space, session: session, sender: identity)), to: node)
        }
        let active = neighbours(of: key)
        // Frontiers are small: every neighbour hears ours every round, so a
        // gap closes within a round trip of the round that reveals it.
        for peer in active { sendFrontier(in: key, to: peer.node) }
        if !active.isEmpty {
            let peer = active[Int(rng.next() % UInt64(active.count))]
            // Now and then, see what snapshots a neighbour offers, to audit them.
            if config.auditSnapshots && !spaces[key]!.isJoining && rng.next() % 2 == 0 {
                sendSpace(.snapshot(.requestOffers), in: key, to: peer.node)
            }
        }
        // Now and then, compare with a random passive peer as well: a
        // partition can leave the active views in two separate halves that no
        // failure will ever rejoin, and this bridges them.
        let passive = spaces[key]!.overlay.passive
        if !passive.isEmpty && rng.next() % UInt64(config.passiveExchangeEvery) == 0 {
            let peer = passive[Int(rng.next() % UInt64(passive.count))]
            spaces[key]!.lastFrontierSent[peer.node] = now
            sendSpace(.sync(.frontier(spaces[key]!.stored)), in: key, to: peer)
        }
        planRanges(in: key)
        if spaces[key]?.isJoining == true { chunkCheck(in: key) }
    }

    mutating func sendFrontier(in key: DiscoveryKey, to peer: PublicKey) {
        guard spaces.contains(key) else { return }
        spaces[key]!.lastFrontierSent[peer] = now
        sendSpace(.sync(.frontier(spaces[key]!.stored)), in: key, to: peer)
    }

    /// A neighbour holding the same seq of a feed under another hash holds
    /// another history: ask for its head there, which proves the fork.
    mutating func probeForks(against frontier: Frontier, in key: DiscoveryKey, from peer: PublicKey) {
        let stored = spaces[key]!.stored
        for (feed, theirs) in frontier.heads.sorted(by: { $0.key < $1.key }) {
            guard let ours = stored[feed], ours.seq == theirs.seq, ours.hash != theirs.hash, ours.seq > 0,
                  spaces[key]!.forked[feed] == nil else { continue }
            sendSpace(.sync(.request(FeedRangeRequest(feed: feed, after: ours.seq - 1, through: ours.seq))), in: key, to: peer)
        }
    }

    mutating func scheduleFrontierPush(in key: DiscoveryKey) {
        guard spaces[key]?.frontierPushScheduled == false else { return }
        spaces[key]!.frontierPushScheduled = true
        outputs.append(.schedule(.frontierPush(key), after: config.frontierPushDelay))
    }

    mutating func pushFrontier(in key: DiscoveryKey) {
        guard spaces.contains(key) else { return }
        spaces[key]!.frontierPushScheduled = false
        for peer in neighbours(of: key) { sendFrontier(in: key, to: peer.node) }
    }

    /// Sends the range requests the planner picks.
    mutating func planRanges(in key: DiscoveryKey) {
        guard spaces.contains(key) else { return }
        // Which feeds are fetched depends on a few fields only: copy those, not the space.
        let policy = spaces[key]!.feedPolicy
        let stored = spaces[key]!.stored
        let planned = spaces[key]!.planner.plan(stored: stored, allowed: policy.accepts,
                                                maxEntries: config.maxRangeEntries, window: config.rangeWindow,
                                                entryWindow: config.rangeWindowEntries, now: now)
        for item in planned {
            sendSpace(.sync(.request(item.request)), in: key, to: item.peer)
            let timeout = config.requestTimeout + config.rangeTimeoutPerEntry * Int(clamping: item.request.count)
            outputs.append(.schedule(.rangeTimeout(key, feed: item.request.feed, generation: item.generation), after: timeout))
        }
    }

    mutating func receivedSync(_ message: SyncMessage, in key: DiscoveryKey, from peer: PublicKey) {
        switch message {
        case .frontier(let frontier):
            spaces[key]!.planner.heard(frontier, from: peer)
            probeForks(against: frontier, in: key, from: peer)
            planRanges(in: key)
            // Answer with ours when the peer lacks something we hold.
            let stored = spaces[key]!.stored
            let theyLack = stored.heads.contains { $0.value.seq > frontier.seq(of: $0.key) }
            let last = spaces[key]!.lastFrontierSent[peer] ?? .zero
            if theyLack && (last == .zero || now.since(last) >= config.antiEntropyInterval / 2) { sendFrontier(in: key, to: peer) }
        case .request(let request):
            if spaces[key]!.forked[request.feed] != nil {
                sendSpace(.sync(.unavailable(request, reason: .forked)), in: key, to: peer)
            } else {
                outputs.append(.serveRange(key, request, to: peer, maxEntries: config.maxRangeEntries))
            }
        case .range(let feed, let after, let range):
            let outstanding = spaces[key]!.planner.outstanding[feed]
            let asked = outstanding?.peer == peer && outstanding?.request.after == after
            if asked, let outstanding {
                noteAnswer(from: peer, rangeSentAt: outstanding.sentAt)
                spaces[key]!.planner.finish(feed)
            }
            let anchor = spaces[key]!.anchor(of: feed)
            if after < anchor.seq {
                // An answer to a fork probe, or stale: only its head matters.
                if let head = try? EncodedRange.head(of: range), head.feed == feed { checkFork(head, in: key, from: peer) }
            } else if after == anchor.seq && spaces[key]!.accepts(feed),
                      let batch = verify(range, feed: feed, from: anchor, in: key, peer: peer) {
                accept(batch, in: key)
                // Entries that came by anti-entropy do not spread by broadcast:
                // tell the neighbours soon rather than at the next round.
                scheduleFrontierPush(in: key)
            }
            planRanges(in: key)
        case .unavailable(let request, let reason):
            guard let outstanding = spaces[key]!.planner.outstanding[request.feed], outstanding.peer == peer else { return }
            noteAnswer(from: peer, rangeSentAt: outstanding.sentAt)
            spaces[key]!.planner.finish(request.feed)
            switch reason {
            case .pruned(let through): spaces[key]!.planner.unavailable(request.feed, through: through, at: peer)
            case .notHeld, .forked: spaces[key]!.planner.unavailable(request.feed, through: request.through, at: peer)
            }
            planRanges(in: key)
        }
    }
}
