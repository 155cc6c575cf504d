import SheafCrypto
import SheafFeeds
import SheafSnapshots

/// Snapshots: offers, choosing and downloading one to join, audits of
/// others' snapshots, and evidence of forks and lies.
extension ProtocolNode {
    /// Most snapshots offered to one neighbour, newest first.
    static let maxOffers = 4

    // MARK: Serving

    mutating func receivedSnapshot(_ message: SnapshotMessage, in key: DiscoveryKey, from peer: PublicKey) {
        switch message {
        case .requestOffers, .requestSnapshot:
            let offered = Array(spaces[key]!.snapshots.prefix(Self.maxOffers))
            sendSpace(.snapshot(.offers(offered.map { Self.offer(for: $0.manifest) })), in: key, to: peer)
            // Attestations of the offered roots first, then of any other root
            // (a joiner counts those towards a quorum for other offers).
            let offeredRoots = Set(offered.map(\.manifest.stateRoot))
            let attestations = offered.flatMap { spaces[key]!.attestations[$0.manifest.stateRoot] ?? [] }
                + spaces[key]!.attestations.filter { !offeredRoots.contains($0.key) }.sorted { $0.key < $1.key }.flatMap(\.value)
            if !attestations.isEmpty {
                sendSpace(.snapshot(.attestations(attestations.prefix(config.limits.maxAttestations).map(\.encoded))), in: key, to: peer)
            }
            // Save a joiner two round trips: the newest manifest and its index
            // chunks go with the offers; asked to, the whole snapshot does.
            if let newest = offered.first?.manifest {
                sendSpace(.snapshot(.manifest(newest.encoded)), in: key, to: peer)
                if message == .requestSnapshot && mayStream(to: peer, in: key) {
                    outputs.append(.streamSnapshot(key, newest, to: peer))
                } else {
                    outputs.append(.serveChunks(key, newest.index.prefix(Self.maxEarlyChunks).map(\.id), to: peer))
                }
            }
        case .requestManifest(let id):
            if let local = spaces[key]!.snapshots.first(where: { $0.manifest.id == id }) {
                sendSpace(.snapshot(.manifest(local.manifest.encoded)), in: key, to: peer)
            }
        case .requestChunks(let ids):
            outputs.append(.serveChunks(key, ids, to: peer))
        case .offers(let offers):
            receivedOffers(offers, in: key, from: peer)
        case .attestations(let encoded):
            for bytes in encoded {
                guard let attestation = try? Attestation(decoding: bytes), attestation.space == spaces[key]!.space,
                      (try? attestation.verify()) != nil else {
                    charge(peer, .badEvidence, "attestation that does not verify")
                    return
                }
                remember(attestation, in: key)
            }
            installIfTrusted(in: key)
        case .manifest(let bytes):
            receivedManifest(bytes, in: key, from: peer)
        case .chunk(let id, let compressed):
            receivedChunk(id, compressed, in: key, from: peer)
        case .chunkMissing(let id):
            guard case .joining(var joining) = spaces[key]!.phase, var download = joining.download else { return }
            _ = download.missing(id, at: peer)
            joining.download = download
            spaces[key]!.phase = .joining(joining)
            pumpDownload(in: key)
        }
    }

    /// Whether to stream a snapshot to `peer` now: at most once per
    /// `streamCooldown` per peer, so a repeated request cannot make this
    /// node send snapshot after snapshot.
    mutating func mayStream(to peer: PublicKey, in key: DiscoveryKey) -> Bool {
        let cooldown = config.streamCooldown
        if let last = spaces[key]!.streamedTo[peer], now < last + cooldown { return false }
        spaces[key]!.streamedTo = spaces[key]!.streamedTo.filter { now < $0.value + cooldown }
        spaces[key]!.streamedTo[peer] = now
        return true
    }

    /// A joiner asks a neighbour for offers; the first it asks (its contact)
    /// also to stream the newest snapshot, which saves the round trips of
    /// asking for chunks. Asked once per instant.
    mutating func askForOffers(in key: DiscoveryKey, to peer: PeerAddress) {
        guard case .joining(var joining) = spaces[key]?.phase, joining.askedAt[peer.node] != now else { return }
        joining.askedAt[peer.node] = now
        let stream = joining.streamer == nil
        if stream { joining.streamer = peer.node }
        spaces[key]!.phase = .joining(joining)
        sendSpace(.snapshot(stream ? .requestSnapshot : .requestOffers), in: key, to: peer)
        // `chooseSnapshot` waits this long for the streamer's offers.
        if stream { outputs.append(.schedule(.chunkCheck(key), after: config.requestTimeout)) }
    }

    /// Manifests whose audit a node remembers, at most (offers are untrusted input).
    static let maxAuditsTracked = 4_096

    /// Anti-entropy rounds a joiner waits for a quorum of attestations of a
    /// downloaded snapshot before it tries another one.
    static let quorumPatienceRounds = 30

    /// Index chunks pushed to a joiner with the offers, at most.
    static let maxEarlyChunks = 8

    public static func offer(for manifest: SnapshotManifest) -> SnapshotOffer {
        SnapshotOffer(manifest: manifest.id, entryCount: manifest.frontier.entryCount, stateRoot: manifest.stateRoot,
                      signer: manifest.signer, compressedBytes: manifest.compressedBytes, createdAt: manifest.createdAt)
    }

    mutating func remember(_ attestation: Attestation, in key: DiscoveryKey) {
        var list = spaces[key]!.attestations[attestation.stateRoot] ?? []
        guard !list.contains(where: { $0.signer == attestation.signer && $0.frontier == attestation.frontier }) else { return }
        list.append(attestation)
        spaces[key]!.attestations[attestation.stateRoot] = Array(list.suffix(config.limits.maxAttestations))
    }

    // MARK: Offers

    mutating func receivedOffers(_ offers: [SnapshotOffer], in key: DiscoveryKey, from peer: PublicKey) {
        switch spaces[key]!.phase {
        case .joining(var joining):
            for offer in offers where !joining.rejected.contains(offer.manifest) {
                joining.offers[offer.manifest, default: (offer, [])].peers.insert(peer)
                if joining.download?.manifestID == offer.manifest { joining.download?.addSource(peer) }
            }
            // The manifest of the first (newest) offer follows the offers:
            // wait for it rather than ask. The streamer streams that one.
            if let first = offers.first, !joining.rejected.contains(first.manifest) {
                if peer == joining.streamer && joining.streamedManifest == nil {
                    joining.streamedManifest = first.manifest
                    // Downloading already (the streamer answered late): its
                    // stream is coming anyway, so take the chunks from it. A
                    // snapshot of the same state root (another signer's, at
                    // the same frontier) has the same chunks: ids are hashes.
                    if let download = joining.download, download.streamer == nil,
                       download.manifestID == first.manifest || download.manifest.stateRoot == first.stateRoot {
                        joining.download?.stream(from: peer, now: now, timeout: config.chunkTimeout)
                        outputs.append(.schedule(.chunkCheck(key), after: config.chunkTimeout))
                    }
                }
                if joining.manifests[first.manifest] == nil && joining.manifestRequest == nil {
                    joining.manifestRequest = (first.manifest, peer, now + config.requestTimeout)
                    outputs.append(.schedule(.chunkCheck(key), after: config.requestTimeout))
                }
            } else if peer == joining.streamer && joining.streamedManifest == nil {
                // Nothing (acceptable) to stream: stop waiting for it.
                joining.streamer = nil
            }
            spaces[key]!.phase = .joining(joining)
            chooseSnapshot(in: key)
            pumpDownload(in: key)
        case .live:
            // A node holding the history audits what it is offered.
            guard config.auditSnapshots else { return }
            let stored = spaces[key]!.stored
            for offer in offers where spaces[key]!.audits[offer.manifest] == nil
                && offer.signer != identity && offer.entryCount <= stored.entryCount && spaces[key]!.audits.count < Self.maxAuditsTracked {
                spaces[key]!.audits[offer.manifest] = .pending
                sendSpace(.snapshot(.requestManifest(offer.manifest)), in: key, to: peer)
            }
        }
    }

    /// Starts downloading the newest offered snapshot as soon as its manifest
    /// is in. Whether its signer may be trusted is decided before installing:
    /// that needs the genesis feed, which arrives meanwhile.
    mutating func chooseSnapshot(in key: DiscoveryKey) {
        guard case .joining(var joining) = spaces[key]?.phase, joining.download == nil, joining.complete == nil,
              joining.installing == nil else { return }
        // The neighbour asked to stream sends its offers first, then every
        // chunk unasked. Until they come (for `requestTimeout` at most),
        // asking others for chunks would fetch the snapshot twice.
        if let streamer = joining.streamer, joining.streamedManifest == nil,
           let asked = joining.askedAt[streamer], now < asked + config.requestTimeout {
            return
        }
        let space = spaces[key]!
        let candidates = joining.offers.values.filter { candidate in
            !joining.rejected.contains(candidate.offer.manifest) && !candidate.peers.isEmpty
                && !space.denounced.contains(candidate.offer.signer)
                && (space.members.isEmpty || space.isMember(candidate.offer.signer))
        }.sorted { a, b in
            // Newest first; of equally new ones, the one being streamed (no
            // second download), then by id.
            if a.offer.entryCount != b.offer.entryCount { return a.offer.entryCount > b.offer.entryCount }
            let streamed = joining.streamedManifest
            if (a.offer.manifest == streamed) != (b.offer.manifest == streamed) { return a.offer.manifest == streamed }
            return a.offer.manifest < b.offer.manifest
        }
        guard let best = candidates.first else { return }
        let id = best.offer.manifest
        if let manifest = joining.manifests[id] {
            var download = ChunkDownload(manifest: manifest, sources: Array(best.peers))
            for (id, early) in joining.early.sorted(by: { $0.key < $1.key }) { _ = download.provide(id, compressed: early.compressed) }
            if let streamer = joining.streamer, joining.streamedManifest == id, best.peers.contains(streamer) {
                download.stream(from: streamer, now: now, timeout: config.chunkTimeout)
                outputs.append(.schedule(.chunkCheck(key), after: config.chunkTimeout))
            }
            joining.early = [:]
            joining.download = download
            joining.manifestRequest = nil
            spaces[key]!.phase = .joining(joining)
            outputs.append(.event(.bootstrapChoseSnapshot(key, manifest: id, entries: manifest.frontier.entryCount,
                                                          bytes: manifest.compressedBytes)))
            pumpDownload(in: key)
            // Its trust may need the genesis feed: fetch it meanwhile.
            planRanges(in: key)
        } else if joining.manifestRequest == nil, let peer = best.peers.sorted().first {
            joining.manifestRequest = (id, peer, now + config.requestTimeout)
            spaces[key]!.phase = .joining(joining)
            sendSpace(.snapshot(.requestManifest(id)), in: key, to: peer)
            outputs.append(.schedule(.chunkCheck(key), after: config.requestTimeout))
        }
    }

    /// Joining without any offer after a while (the space has no snapshot
    /// yet, or no neighbour serves one): replay instead.
    mutating func joiningRound(in key: DiscoveryKey) {
        guard case .joining(var joining) = spaces[key]?.phase else { return }
        joining.rounds += 1
        let idle = joining.offers.isEmpty && joining.download == nil && joining.complete == nil && joining.installing == nil
        spaces[key]!.phase = .joining(joining)
        if idle && joining.rounds >= 5 && !spaces[key]!.overlay.active.isEmpty {
            goLive(in: key, fromSnapshot: false)
            return
        }
        // Offers and attestations keep coming in while joining.
        if joining.rounds % 3 == 0 { sendToNeighbours(.snapshot(.requestOffers), in: key) }
        chunkCheck(in: key)
        installIfTrusted(in: key)
    }

    mutating func goLive(in key: DiscoveryKey, fromSnapshot: Bool) {
        spaces[key]!.phase = .live
        outputs.append(.event(.spaceReady(key, fromSnapshot: fromSnapshot)))
        planRanges(in: key)
    }

    // MARK: Manifests

    mutating func receivedManifest(_ bytes: [UInt8], in key: DiscoveryKey, from peer: PublicKey) {
        let manifest: SnapshotManifest
        do {
            manifest = try SnapshotManifest(decoding: bytes)
            try manifest.verifySignature()
            guard manifest.space == spaces[key]!.space else { throw SnapshotError(.wrongSpace) }
        } catch {
            charge(peer, .badManifest, "\(error)")
            if case .joining(var joining) = spaces[key]!.phase, let request = joining.manifestRequest, request.peer == peer {
                joining.rejected.insert(request.id)
                joining.manifestRequest = nil
                spaces[key]!.phase = .joining(joining)
                chooseSnapshot(in: key)
            }
            return
        }
        let id = manifest.id
        switch spaces[key]!.phase {
        case .joining(var joining):
            guard joining.offers[id]?.peers.contains(peer) == true else {
                charge(peer, .unsolicited, "manifest that was not offered")
                return
            }
            joining.manifests[id] = manifest
            if joining.manifestRequest?.id == id { joining.manifestRequest = nil }
            spaces[key]!.phase = .joining(joining)
            chooseSnapshot(in: key)
        case .live:
            guard spaces[key]!.audits[id] == .pending else { return }
            outputs.append(.audit(key, manifest))
        }
    }

    // MARK: Chunks

    mutating func receivedChunk(_ id: Hash, _ compressed: [UInt8], in key: DiscoveryKey, from peer: PublicKey) {
        let now = now
        let outcome: ChunkDownload.Outcome? = spaces[key]!.updateJoining { joining in
            guard joining.download != nil else {
                if joining.early.count < Self.maxEarlyChunks * 4 { joining.early[id] = (peer, compressed) }
                return nil
            }
            return joining.download?.received(id, compressed: compressed, from: peer, now: now)
        } ?? nil
        switch outcome {
        case .accepted?:
            reportProgress(in: key)
        case .rejected(let why)?:
            charge(peer, .badChunk, why)
        case .unexpected?, nil:
            return
        }
        pumpDownload(in: key)
    }

    mutating func reportProgress(in key: DiscoveryKey) {
        let event: NodeEvent? = spaces[key]!.updateJoining { joining in
            guard let download = joining.download else { return nil }
            let step = max(1, download.chunksTotal / 50)
            guard download.chunksDone - joining.lastProgress >= step || download.isComplete else { return nil }
            joining.lastProgress = download.chunksDone
            return .bootstrapProgress(key, chunksDone: download.chunksDone, chunksTotal: download.chunksTotal,
                                      bytesDone: download.bytesDone, bytesTotal: download.bytesTotal)
        } ?? nil
        if let event { outputs.append(.event(event)) }
    }

    /// Sends the next chunk requests, or moves a complete download on.
    mutating func pumpDownload(in key: DiscoveryKey) {
        let (now, config) = (now, config)
        let requests: [(PublicKey, [Hash])]? = spaces[key]?.updateJoining { joining in
            guard let isComplete = joining.download?.isComplete else { return [] }
            if isComplete {
                joining.complete = joining.download
                joining.download = nil
                return nil
            }
            return joining.download?.nextRequests(now: now, timeout: config.chunkTimeout, window: config.chunkWindow,
                                                  perRequest: config.chunksPerRequest) ?? []
        } ?? []
        guard let requests else {
            installIfTrusted(in: key)
            return
        }
        for (peer, ids) in requests { sendSpace(.snapshot(.requestChunks(ids)), in: key, to: peer) }
        if !requests.isEmpty { outputs.append(.schedule(.chunkCheck(key), after: config.chunkTimeout)) }
    }

    /// Installs a complete download once the genesis feed has caught up with
    /// the snapshot's (so membership is known) and the trust policy accepts it.
    mutating func installIfTrusted(in key: DiscoveryKey) {
        guard case .joining(var joining) = spaces[key]?.phase, let complete = joining.complete else { return }
        let space = spaces[key]!
        let manifest = complete.manifest
        guard space.genesisAllowsInstalling(manifest) else { return }
        if Trust.accepts(manifest, policy: space.trust, space: space.space, members: space.members,
                         attestations: space.attestations[manifest.stateRoot] ?? [], denounced: space.denounced) {
            joining.complete = nil
            joining.installing = complete.manifestID
            spaces[key]!.phase = .joining(joining)
            outputs.append(.install(key, manifest, chunks: complete.chunks))
        } else if case .quorum = space.trust, space.isMember(manifest.signer), !space.denounced.contains(manifest.signer),
                  joining.rounds < Self.quorumPatienceRounds {
            // Not enough attestations yet: audits take a while. Ask again and wait.
            spaces[key]!.phase = .joining(joining)
        } else {
            joining.complete = nil
            joining.rejected.insert(complete.manifestID)
            spaces[key]!.phase = .joining(joining)
            chooseSnapshot(in: key)
        }
    }

    /// Expires late requests (manifest or chunks) and retries elsewhere.
    mutating func chunkCheck(in key: DiscoveryKey) {
        guard case .joining(var joining) = spaces[key]?.phase else { return }
        if let request = joining.manifestRequest, request.deadline <= now {
            joining.manifestRequest = nil
            joining.offers[request.id]?.peers.remove(request.peer)
            spaces[key]!.phase = .joining(joining)
            charge(request.peer, .unresponsive, "manifest \(request.id.hex.prefix(12)) not sent")
            chooseSnapshot(in: key)
            return
        }
        guard var download = joining.download else {
            // Perhaps the wait for the streamer's offers is over.
            chooseSnapshot(in: key)
            return
        }
        let late = download.expire(now: now, timeout: config.chunkTimeout) { isBusy($0, waitingSince: $1) }
        if download.isStalled {
            // No one left to serve it: choose again.
            joining.rejected.insert(download.manifestID)
            joining.download = nil
            spaces[key]!.phase = .joining(joining)
            chooseSnapshot(in: key)
            return
        }
        joining.download = download
        spaces[key]!.phase = .joining(joining)
        for peer in late { charge(peer, .unresponsive, "chunks not sent in time") }
        pumpDownload(in: key)
    }

    mutating func installed(_ manifest: Hash, error: String?, in key: DiscoveryKey) {
        guard case .joining(var joining) = spaces[key]?.phase, joining.installing == manifest else { return }
        joining.installing = nil
        if error != nil {
            joining.rejected.insert(manifest)
            spaces[key]!.phase = .joining(joining)
            chooseSnapshot(in: key)
            return
        }
        if let snapshot = joining.manifests[manifest] {
            spaces[key]!.stored = (try? spaces[key]!.stored.merging(snapshot.frontier)) ?? spaces[key]!.stored
        }
        goLive(in: key, fromSnapshot: true)
    }

    // MARK: Audits and evidence

    mutating func audited(_ manifest: SnapshotManifest, _ verdict: AuditVerdict, _ attestation: Attestation?, in key: DiscoveryKey) {
        guard spaces.contains(key) else { return }
        let id = manifest.id
        spaces[key]!.audits[id] = .done(verdict)
        if let attestation { remember(attestation, in: key) }
        if verdict == .inconsistent { recordFraud(manifest, id: id, in: key) }
    }

    /// A snapshot whose root does not follow from its frontier: denounce the
    /// signer, keep the evidence, and tell every neighbour.
    mutating func recordFraud(_ manifest: SnapshotManifest, id: Hash, in key: DiscoveryKey) {
        guard spaces.contains(key), !spaces[key]!.denounced.contains(manifest.signer) else { return }
        spaces[key]!.denounced.insert(manifest.signer)
        spaces[key]!.audits[id] = .done(.inconsistent)
        outputs.append(.event(.fraudDetected(signer: manifest.signer, manifest: id)))
        let evidence = EvidenceMessage.snapshotFraud(manifest: manifest.encoded)
        outputs.append(.storeEvidence(key, evidence))
        sendToNeighbours(.evidence(evidence), in: key)
    }

    mutating func recordFork(_ proof: ForkProof, in key: DiscoveryKey) {
        guard spaces.contains(key), spaces[key]!.forked[proof.feed] == nil else { return }
        spaces[key]!.forked[proof.feed] = proof
        spaces[key]!.planner.finish(proof.feed)
        outputs.append(.event(.forkDetected(feed: proof.feed, seq: proof.seq)))
        outputs.append(.storeEvidence(key, .fork(proof)))
        sendToNeighbours(.evidence(.fork(proof)), in: key)
    }

    mutating func receivedEvidence(_ message: EvidenceMessage, in key: DiscoveryKey, from peer: PublicKey) {
        switch message {
        case .fork(let proof):
            guard (try? proof.verify()) != nil else {
                charge(peer, .badEvidence, "fork proof that does not verify")
                return
            }
            recordFork(proof, in: key)
        case .snapshotFraud(let bytes):
            guard let manifest = try? SnapshotManifest(decoding: bytes), (try? manifest.verifySignature()) != nil,
                  manifest.space == spaces[key]!.space else {
                charge(peer, .badEvidence, "fraud claim about a manifest that does not verify")
                return
            }
            guard !spaces[key]!.denounced.contains(manifest.signer) else { return }
            // Check the claim ourselves when we hold the history; until then
            // never install that snapshot.
            let id = manifest.id
            if case .joining(var joining) = spaces[key]!.phase {
                joining.rejected.insert(id)
                spaces[key]!.phase = .joining(joining)
            } else if config.auditSnapshots, spaces[key]!.audits[id] == nil {
                spaces[key]!.audits[id] = .pending
                outputs.append(.audit(key, manifest))
            }
        }
    }
}
