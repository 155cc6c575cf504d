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
            sendSpace(.snapshot(.offers(Array(spaces[key]!.offers.prefix(Self.maxOffers)))), in: key, to: peer)
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
            if let i = spaces[key]!.offers.firstIndex(where: { $0.manifest == id }) {
                sendSpace(.snapshot(.manifest(spaces[key]!.snapshots[i].manifest.encoded)), in: key, to: peer)
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
            guard spaces[key]!.joining?.download?.missing(id, at: peer) != nil else { return }
            noteAnswer(from: peer)
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
        guard spaces[key]?.isJoining == true, spaces[key]!.joining!.askedAt[peer.node] != now else { return }
        spaces[key]!.joining!.askedAt[peer.node] = now
        let stream = spaces[key]!.joining!.streamer == nil
        if stream { spaces[key]!.joining!.streamer = peer.node }
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
        guard spaces[key]!.isJoining else {
            // A node holding the history audits what it is offered.
            guard config.auditSnapshots else { return }
            let stored = spaces[key]!.stored
            for offer in offers where spaces[key]!.audits[offer.manifest] == nil
                && offer.signer != identity && offer.entryCount <= stored.entryCount && spaces[key]!.audits.count < Self.maxAuditsTracked {
                spaces[key]!.audits[offer.manifest] = .pending
                sendSpace(.snapshot(.requestManifest(offer.manifest)), in: key, to: peer)
            }
            return
        }
        spaces[key]!.joining!.note(offers, from: peer)
        // The manifest of the first (newest) offer follows the offers:
        // wait for it rather than ask. The streamer streams that one.
        let first = offers.first.flatMap { spaces[key]!.joining!.rejected.contains($0.manifest) ? nil : $0 }
        if peer == spaces[key]!.joining!.streamer && spaces[key]!.joining!.streamedManifest == nil {
            if let first {
                spaces[key]!.joining!.streamedManifest = first.manifest
                // Downloading already (the streamer answered late): its
                // stream is coming anyway, so take the chunks from it.
                if spaces[key]!.joining!.download?.takesStream(of: first) == true { startStream(from: peer, in: key) }
            } else {
                // Nothing (acceptable) to stream: stop waiting for it.
                spaces[key]!.joining!.streamer = nil
            }
        }
        if let first, spaces[key]!.joining!.manifests[first.manifest] == nil && spaces[key]!.joining!.manifestRequest == nil {
            awaitManifest(first.manifest, from: peer, in: key)
        }
        chooseSnapshot(in: key)
        pumpDownload(in: key)
    }

    /// Waits `requestTimeout` for manifest `id` from `peer`; `chunkCheck`
    /// then gives up on it.
    mutating func awaitManifest(_ id: Hash, from peer: PublicKey, in key: DiscoveryKey) {
        spaces[key]!.joining!.manifestRequest = (id, peer, now + config.requestTimeout)
        outputs.append(.schedule(.chunkCheck(key), after: config.requestTimeout))
    }

    /// `peer` streams the download's chunks from now on; `chunkCheck`
    /// notices if the stream stalls for `chunkTimeout`.
    mutating func startStream(from peer: PublicKey, in key: DiscoveryKey) {
        spaces[key]!.joining!.download?.stream(from: peer, now: now, timeout: config.chunkTimeout)
        outputs.append(.schedule(.chunkCheck(key), after: config.chunkTimeout))
    }

    /// Starts downloading the newest offered snapshot as soon as its manifest
    /// is in. Whether its signer may be trusted is decided before installing:
    /// that needs the genesis feed, which arrives meanwhile.
    mutating func chooseSnapshot(in key: DiscoveryKey) {
        guard let joining = spaces[key]?.joining, joining.download == nil, joining.complete == nil,
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
            spaces[key]!.joining!.early = [:]
            spaces[key]!.joining!.download = consume download
            spaces[key]!.joining!.manifestRequest = nil
            if let streamer = joining.streamer, joining.streamedManifest == id, best.peers.contains(streamer) {
                startStream(from: streamer, in: key)
            }
            outputs.append(.event(.bootstrapChoseSnapshot(key, manifest: id, entries: manifest.frontier.entryCount,
                                                          bytes: manifest.compressedBytes)))
            pumpDownload(in: key)
            // Its trust may need the genesis feed: fetch it meanwhile.
            planRanges(in: key)
        } else if joining.manifestRequest == nil, let peer = best.peers.sorted().first {
            sendSpace(.snapshot(.requestManifest(id)), in: key, to: peer)
            awaitManifest(id, from: peer, in: key)
        }
    }

    /// Joining without any offer after a while (the space has no snapshot
    /// yet, or no neighbour serves one): replay instead.
    mutating func joiningRound(in key: DiscoveryKey) {
        guard spaces[key]?.isJoining == true else { return }
        spaces[key]!.joining!.rounds += 1
        let rounds = spaces[key]!.joining!.rounds
        if spaces[key]!.joining!.isIdle && rounds >= 5 && !spaces[key]!.overlay.active.isEmpty {
            goLive(in: key, fromSnapshot: false)
            return
        }
        // Offers and attestations keep coming in while joining.
        if rounds % 3 == 0 { sendToNeighbours(.snapshot(.requestOffers), in: key) }
        chunkCheck(in: key)
        installIfTrusted(in: key)
    }

    mutating func goLive(in key: DiscoveryKey, fromSnapshot: Bool) {
        spaces[key]!.joining = nil
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
            if let request = spaces[key]!.joining?.manifestRequest, request.peer == peer {
                spaces[key]!.joining!.rejected.insert(request.id)
                spaces[key]!.joining!.manifestRequest = nil
                chooseSnapshot(in: key)
            }
            return
        }
        let id = manifest.id
        guard spaces[key]!.isJoining else {
            guard spaces[key]!.audits[id] == .pending else { return }
            outputs.append(.audit(key, manifest))
            return
        }
        guard spaces[key]!.joining!.offers[id]?.peers.contains(peer) == true else {
            charge(peer, .unsolicited, "manifest that was not offered")
            return
        }
        spaces[key]!.joining!.manifests[id] = manifest
        if spaces[key]!.joining!.manifestRequest?.id == id { spaces[key]!.joining!.manifestRequest = nil }
        chooseSnapshot(in: key)
    }

    // MARK: Chunks

    mutating func receivedChunk(_ id: Hash, _ compressed: [UInt8], in key: DiscoveryKey, from peer: PublicKey) {
        guard spaces[key]!.isJoining else { return }
        noteAnswer(from: peer)
        guard spaces[key]!.joining!.download != nil else {
            if spaces[key]!.joining!.early.count < Self.maxEarlyChunks * 4 { spaces[key]!.joining!.early[id] = (peer, compressed) }
            return
        }
        switch spaces[key]!.joining!.download!.received(id, compressed: compressed, from: peer, now: now) {
        case .accepted:
            reportProgress(in: key)
        case .rejected(let why):
            charge(peer, .badChunk, why)
        case .unexpected:
            return
        }
        pumpDownload(in: key)
    }

    mutating func reportProgress(in key: DiscoveryKey) {
        guard let download = spaces[key]?.joining?.download else { return }
        let step = max(1, download.chunksTotal / 50)
        guard download.chunksDone - spaces[key]!.joining!.lastProgress >= step || download.isComplete else { return }
        spaces[key]!.joining!.lastProgress = download.chunksDone
        outputs.append(.event(.bootstrapProgress(key, chunksDone: download.chunksDone, chunksTotal: download.chunksTotal,
                                                 bytesDone: download.bytesDone, bytesTotal: download.bytesTotal)))
    }

    /// Sends the next chunk requests, or moves a complete download on.
    mutating func pumpDownload(in key: DiscoveryKey) {
        guard let isComplete = spaces[key]?.joining?.download?.isComplete else { return }
        if isComplete {
            spaces[key]!.joining!.complete = spaces[key]!.joining!.download
            spaces[key]!.joining!.download = nil
            installIfTrusted(in: key)
            return
        }
        let requests = spaces[key]!.joining!.download!.nextRequests(now: now, timeout: config.chunkTimeout, window: config.chunkWindow,
                                                                    perRequest: config.chunksPerRequest)
        for (peer, ids) in requests { sendSpace(.snapshot(.requestChunks(ids)), in: key, to: peer) }
        if !requests.isEmpty { outputs.append(.schedule(.chunkCheck(key), after: config.chunkTimeout)) }
    }

    /// Installs a complete download once the genesis feed has caught up with
    /// the snapshot's (so membership is known) and the trust policy accepts it.
    mutating func installIfTrusted(in key: DiscoveryKey) {
        guard let complete = spaces[key]?.joining?.complete else { return }
        let space = spaces[key]!
        let manifest = complete.manifest
        guard space.genesisAllowsInstalling(manifest) else { return }
        if Trust.accepts(manifest, policy: space.trust, space: space.space, members: space.members,
                         attestations: space.attestations[manifest.stateRoot] ?? [], denounced: space.denounced) {
            spaces[key]!.joining!.complete = nil
            spaces[key]!.joining!.installing = complete.manifestID
            outputs.append(.install(key, manifest, chunks: complete.chunks))
        } else if case .quorum = space.trust, space.isMember(manifest.signer), !space.denounced.contains(manifest.signer),
                  space.joining!.rounds < Self.quorumPatienceRounds {
            // Not enough attestations yet: audits take a while. Ask again and wait.
        } else {
            spaces[key]!.joining!.complete = nil
            spaces[key]!.joining!.rejected.insert(complete.manifestID)
            chooseSnapshot(in: key)
        }
    }

    /// Expires late requests (manifest or chunks) and retries elsewhere.
    mutating func chunkCheck(in key: DiscoveryKey) {
        guard spaces[key]?.isJoining == true else { return }
        if let request = spaces[key]!.joining!.manifestRequest, request.deadline <= now {
            spaces[key]!.joining!.manifestRequest = nil
            spaces[key]!.joining!.offers[request.id]?.peers.remove(request.peer)
            charge(request.peer, .unresponsive, "manifest \(request.id.hex.prefix(12)) not sent")
            chooseSnapshot(in: key)
            return
        }
        guard var download = spaces[key]!.joining!.download else {
            // Perhaps the wait for the streamer's offers is over.
            chooseSnapshot(in: key)
            return
        }
        // Moved out, not copied (`isBusy` reads the node while it expires):
        // a copy would share the download's tables and copy them on change.
        spaces[key]!.joining!.download = nil
        let late = download.expire(now: now, timeout: config.chunkTimeout) { isBusy($0, waitingSince: $1) }
        if download.isStalled {
            // No one left to serve it: choose again.
            spaces[key]!.joining!.rejected.insert(download.manifestID)
            chooseSnapshot(in: key)
            return
        }
        spaces[key]!.joining!.download = consume download
        for peer in late { charge(peer, .unresponsive, "chunks not sent in time") }
        pumpDownload(in: key)
    }

    mutating func installed(_ manifest: Hash, error: String?, in key: DiscoveryKey) {
        guard spaces[key]?.joining?.installing == manifest else { return }
        spaces[key]!.joining!.installing = nil
        if error != nil {
            spaces[key]!.joining!.rejected.insert(manifest)
            chooseSnapshot(in: key)
            return
        }
        if let snapshot = spaces[key]!.joining!.manifests[manifest] {
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
            if spaces[key]!.isJoining {
                spaces[key]!.joining!.rejected.insert(id)
            } else if config.auditSnapshots, spaces[key]!.audits[id] == nil {
                spaces[key]!.audits[id] = .pending
                outputs.append(.audit(key, manifest))
            }
        }
    }
}
