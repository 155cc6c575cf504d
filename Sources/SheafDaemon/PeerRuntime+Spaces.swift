import SheafCrypto
import SheafFiles
import SheafModels
import SheafNode
import SheafProtocol
import SheafReplica

/// Spaces: create, join, reopen at start, drop; and what the core reports.
extension PeerRuntime {
    var replicaOptions: ReplicaOptions {
        ReplicaOptions(durability: config.fileDurability,
                       snapshotEveryEntries: config.snapshotEveryEntries > 0 ? config.snapshotEveryEntries : nil,
                       snapshotInterval: config.snapshotIntervalSeconds > 0 ? .milliseconds(Int64(config.snapshotIntervalSeconds * 1000)) : nil,
                       snapshotsKept: config.snapshotsKept)
    }

    /// The key this node writes a space with: the genesis key where it
    /// created the space, its node key everywhere else.
    func writerKey(for space: PublicKey) throws(DaemonError) -> KeyPair {
        let file = data.spaceKeyFile(space)
        return Directory.exists(file) ? try data.readKeyPair(file) : identity
    }

    /// Opens a replica and starts serving it. Call inside `withHost`.
    func serve(_ space: PublicKey, record: SpaceRecord, contacts extra: [PeerAddress], joining: Bool) async throws(DaemonError) {
        let key = DiscoveryKey(space: space)
        let writer = try writerKey(for: space)
        let replica: Replica<ObjectStore>
        do {
            replica = try await Replica<ObjectStore>.open(directory: data.spaceDirectory(space), space: space, identity: writer,
                                                          options: replicaOptions, logger: logger)
        } catch {
            throw DaemonError("cannot open space \(space.hex): \(error)")
        }
        let startup = await replica.startup
        logger.info("opened space", metadata: ["space": "\(space.hex.prefix(16))", "startup": "\(startup)"])
        var entry = SpaceEntry(record: record, replica: replica)
        if joining { entry.bootstrap = BootstrapTracker(startedAt: now) }
        spaces[key] = entry
        do { try await host.open(replica, trust: record.trustPolicy, contacts: extra + record.contacts) } catch {
            spaces[key] = nil
            await replica.close()
            throw DaemonError("cannot serve space \(space.hex): \(error)")
        }
    }

    /// Reopens a space found in the data directory at start.
    func openStored(_ space: PublicKey) async throws(DaemonError) {
        let file = data.spaceRecordFile(space)
        let record = Directory.exists(file)
            ? try SpaceRecord.read(file)
            : SpaceRecord(trust: "member", created: Directory.exists(data.spaceKeyFile(space)))
        try await withHost { () async throws(DaemonError) in
            try await serve(space, record: record, contacts: [], joining: false)
        }
    }

    /// Peers this node holds sessions with, as contacts for a new space.
    var sessionContacts: [PeerAddress] {
        host.core.connectedPeers.map { PeerAddress(node: $0, endpoint: endpoints[$0] ?? "") }
    }

    func createLocalSpace() async throws(DaemonError) -> PublicKey {
        let genesis = KeyPair()
        let space = genesis.publicKey
        let record = SpaceRecord(trust: TrustPolicy.member.apiName, created: true)
        try data.prepareSpace(space, record: record, genesis: genesis)
        try await withHost { () async throws(DaemonError) in
            try await serve(space, record: record, contacts: sessionContacts, joining: false)
        }
        logger.notice("created space", metadata: ["space": "\(space.hex)"])
        return space
    }

    func startJoining(_ space: PublicKey, trust: TrustPolicy, contacts: [String]) async throws(DaemonError) {
        guard spaces[DiscoveryKey(space: space)] == nil else { throw DaemonError("this node already holds space \(space.hex)") }
        let record = SpaceRecord(trust: trust.apiName, created: false)
        try data.prepareSpace(space, record: record, genesis: nil)
        for address in contacts {
            joinAddresses.insert(address)
            transport?.connect(to: address, persistent: false)
        }
        try await withHost { () async throws(DaemonError) in
            try await serve(space, record: record, contacts: sessionContacts, joining: true)
        }
        logger.notice("joining space", metadata: ["space": "\(space.hex)", "trust": "\(trust)"])
    }

    func removeSpace(_ space: PublicKey) async throws(DaemonError) {
        let key = DiscoveryKey(space: space)
        guard let entry = spaces[key] else { throw DaemonError("this node holds no space \(space.hex)") }
        try await withHost { () async throws(DaemonError) in
            await host.close(key)
            spaces[key] = nil
            do { try await entry.replica.drop() } catch { throw DaemonError("cannot remove space \(space.hex): \(error)") }
        }
        logger.notice("dropped space", metadata: ["space": "\(space.hex)"])
    }

    /// Holds an audit back while `key` is catching up (neighbours claim
    /// entries it does not store yet) or its state root is being built
    /// (which a node does as soon as it has caught up), for at most
    /// `auditDeferral`; and for one check interval in any case, so the
    /// frame that asked for the audit has had its effects (the root build
    /// that starts on catching up, say). The audit would take a core from
    /// that work, and its verdict only decides whether to vouch for someone
    /// else's snapshot; a space written without pause still gets its
    /// audits, late.
    func waitUntilIdle(_ key: DiscoveryKey) async {
        let deadline = ContinuousClock.now + Self.auditDeferral
        repeat {
            try? await Task.sleep(for: Self.auditDeferralCheck)
        } while ContinuousClock.now < deadline && (isCatchingUp(key) || spaces[key]?.summarizing != nil)
    }

    /// Whether neighbours claim entries of `key` this node does not store.
    func isCatchingUp(_ key: DiscoveryKey) -> Bool {
        guard let stored = host.storedFrontier(of: key) else { return false }
        return host.knownEntries(of: key) > stored.entryCount
    }

    static var auditDeferral: Duration { .seconds(60) }
    static var auditDeferralCheck: Duration { .milliseconds(250) }

    /// What the core reports: logs, metrics, bootstrap progress.
    func observe(_ event: NodeEvent) {
        metrics.record(event)
        switch event {
        case .misbehaviour(let peer, let kind, let detail):
            logger.warning("peer misbehaved", metadata: ["peer": "\(peer.hex.prefix(16))", "kind": "\(kind.rawValue)", "detail": "\(detail)"])
        case .peerBanned(let peer):
            logger.warning("peer banned", metadata: ["peer": "\(peer.hex.prefix(16))"])
        case .forkDetected(let feed, let seq):
            logger.error("fork detected", metadata: ["feed": "\(feed.hex.prefix(16))", "seq": "\(seq)"])
        case .fraudDetected(let signer, let manifest):
            logger.error("lying snapshot", metadata: ["signer": "\(signer.hex.prefix(16))", "manifest": "\(manifest.hex.prefix(16))"])
        case .bootstrapChoseSnapshot(let key, let manifest, let entries, let bytes):
            spaces[key]?.bootstrap?.chose(entries: entries, bytes: bytes)
            logger.info("bootstrap chose snapshot", metadata: ["manifest": "\(manifest.hex.prefix(16))", "entries": "\(entries)", "bytes": "\(bytes)"])
        case .bootstrapProgress(let key, let chunksDone, let chunksTotal, let bytesDone, let bytesTotal):
            spaces[key]?.bootstrap?.progress(chunksDone: chunksDone, chunksTotal: chunksTotal, bytesDone: bytesDone, bytesTotal: bytesTotal)
            if let tracker = spaces[key]?.bootstrap {
                logger.debug("bootstrap progress", metadata: ["chunks": "\(chunksDone)/\(chunksTotal)", "bytes": "\(bytesDone)/\(bytesTotal)",
                                                            "elapsed_ms": "\(Int(now.since(tracker.startedAt).seconds * 1000))"])
            }
        case .spaceReady(let key, let fromSnapshot):
            spaces[key]?.bootstrap?.ready(fromSnapshot: fromSnapshot, at: now)
            if let tracker = spaces[key]?.bootstrap, let seconds = tracker.readyAt?.since(tracker.startedAt).seconds {
                metrics.bootstrapCompleted(seconds: seconds)
                logger.notice("space ready", metadata: ["space": "\(key)", "from_snapshot": "\(fromSnapshot)", "seconds": "\(seconds)"])
            }
        case .neighborUp(let key, let peer):
            logger.debug("neighbour up", metadata: ["space": "\(key)", "peer": "\(peer.hex.prefix(16))"])
        case .neighborDown(let key, let peer):
            logger.debug("neighbour down", metadata: ["space": "\(key)", "peer": "\(peer.hex.prefix(16))"])
        }
    }
}
