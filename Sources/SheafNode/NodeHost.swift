import SheafCodec
import SheafCrypto
import SheafFeeds
import SheafFiles
import SheafModels
import SheafProtocol
import SheafReplica
import SheafSnapshots

/// Counters a host keeps about its traffic and storage work.
public struct HostStats: Hashable, Sendable {
    public var framesSent = 0
    public var bytesSent: UInt64 = 0
    public var framesReceived = 0
    public var bytesReceived: UInt64 = 0
    /// Entries this node wrote to its own feeds (ops and admissions).
    public var entriesAppended: UInt64 = 0
    public var entriesIngested: UInt64 = 0
    public var batchesIngested = 0
    public var ingestFailures = 0
    public var rangesServed = 0
    public var chunksServed = 0
    /// Snapshots this node took (on request or by its replicas' policy).
    public var snapshotsMade = 0
    public var snapshotsInstalled = 0
    public var audits = 0

    public init() {}
}

/// Drives a `ProtocolNode` against real replicas: carries out its storage
/// effects (ingest, serve, install, audit) on the replicas and feeds the
/// outcomes back in. What is left for the network (send, connect,
/// disconnect, timers) and the events accumulate in `outbox`, which the
/// owner drains after every call: the daemon into TCP, the simulator into
/// its virtual network.
///
/// Not thread-safe: one owner (an actor, or the simulator's main actor)
/// calls it, setting `now` first.
public final class NodeHost<M: Model> {
    public private(set) var core: ProtocolNode
    public let identity: KeyPair
    /// The owner's clock; set before every call.
    public var now: NodeTime = .zero
    /// Network actions and events for the owner to carry out, in order.
    public private(set) var outbox: [NodeOutput] = []
    public private(set) var replicas: [DiscoveryKey: Replica<M>] = [:]
    public private(set) var stats = HostStats()
    /// Where work that outlasts a call reports back. An audit replays a
    /// space's history (seconds at scale); run inline it would hold up every
    /// frame behind it. With this set, the host starts an audit and goes on,
    /// and the audit's outcome comes back through it, for the owner to feed
    /// in as any other input (the daemon does). Unset, audits run inline:
    /// the simulator needs them at a deterministic point.
    public var reportLater: (@Sendable ([NodeInput]) async -> Void)?
    /// Awaited before an audit started for `reportLater` does its work. An
    /// audit replays the space's history on a core the node may need for
    /// catching up, and nothing waits for its verdict but trust in someone
    /// else's snapshot: an owner can hold it back while the node is busy.
    public var auditWhenIdle: (@Sendable (DiscoveryKey) async -> Void)?
    /// Called while streaming a snapshot, before reading each batch of
    /// chunks: an owner that sends frames as it goes (the daemon) drains
    /// `outbox` here, so the manifest and the first chunks are on their way
    /// while the rest are read, instead of after every chunk is.
    public var drainOutbox: (@Sendable () async -> Void)?
    private var reportedMembers: [DiscoveryKey: Set<PublicKey>] = [:]
    private var reportedSnapshots: [DiscoveryKey: Set<Hash>] = [:]

    public init(identity: KeyPair, config: NodeConfig, seed: UInt64) {
        self.identity = identity
        core = ProtocolNode(identity: identity.publicKey, config: config, seed: seed)
    }

    /// The stored frontier of a space, as the protocol core believes it.
    /// Reading `core` copies it (every view and map of every space) before
    /// calling into it; the simulator asks after every event, so this
    /// reaches the core in place.
    public func storedFrontier(of key: DiscoveryKey) -> Frontier? { Self.inPlace(&core) { $0.storedFrontier(of: key) } }

    /// Entries the core knows to exist in a space (see
    /// `ProtocolNode.knownEntries`), read in place like `storedFrontier`.
    public func knownEntries(of key: DiscoveryKey) -> UInt64 { Self.inPlace(&core) { $0.knownEntries(of: key) } }

    private static func inPlace<R>(_ core: inout ProtocolNode, _ read: (inout ProtocolNode) -> R) -> R { read(&core) }

    /// Takes what the owner must do now: send, connect, disconnect, schedule, report.
    public func takeOutbox() -> [NodeOutput] {
        defer { outbox = [] }
        return outbox
    }

    /// See `ProtocolNode.setListenEndpoint`.
    public func setListenEndpoint(_ endpoint: String) { core.setListenEndpoint(endpoint) }

    public func start() {
        outbox.append(contentsOf: core.start(now: now))
    }

    /// Serves a space from an open replica, joining its overlay through `contacts`.
    nonisolated(nonsending) public func open(_ replica: Replica<M>, trust: TrustPolicy, contacts: [PeerAddress]) async throws {
        let key = DiscoveryKey(space: replica.space)
        replicas[key] = replica
        let state = try await replica.servingState()
        let members = Set(state.members)
        reportedMembers[key] = members
        let local = LocalSpace(space: replica.space, trust: trust, stored: state.stored, heads: state.heads, members: members,
                               snapshots: localSnapshots(replica), contacts: contacts, writesGenesis: replica.feed == replica.space)
        await handle(.spaceOpened(local))
    }

    /// Stops serving a space (the replica stays open; the caller closes it).
    nonisolated(nonsending) public func close(_ key: DiscoveryKey) async {
        await handle(.spaceClosed(key))
        replicas[key] = nil
    }

    /// Appends ops to this node's feed in a space and broadcasts the batch.
    @discardableResult
    nonisolated(nonsending) public func append(_ ops: [[UInt8]], in key: DiscoveryKey) async throws -> UInt64 {
        guard let replica = replicas[key] else { throw ReplicaError(.closed) }
        let batch = try await replica.appendBatch(ops)
        stats.entriesAppended += UInt64(batch.count)
        await handle(.appended(key, batch))
        return batch.head.seq
    }

    /// Admits a writer (genesis writer only) and broadcasts the control
    /// entry; returns its seq in the genesis feed.
    @discardableResult
    nonisolated(nonsending) public func admit(_ writer: PublicKey, in key: DiscoveryKey) async throws -> UInt64 {
        guard let replica = replicas[key] else { throw ReplicaError(.closed) }
        let batch = try await replica.admit(writer)
        stats.entriesAppended += UInt64(batch.count)
        await handle(.appended(key, batch))
        if let input = await membersInput(in: key) { await handle(input) }
        return batch.head.seq
    }

    /// Takes a snapshot now and offers it to peers.
    nonisolated(nonsending) public func snapshotNow(in key: DiscoveryKey) async throws -> SnapshotSummary {
        guard let replica = replicas[key] else { throw ReplicaError(.closed) }
        let summary = try await replica.snapshotNow()
        await handle(.snapshotsChanged(key, localSnapshots(replica)))
        return summary
    }

    /// Offers snapshots the replica took on its own (by its snapshot policy)
    /// since the core last heard; a no-op when nothing changed.
    nonisolated(nonsending) public func refreshSnapshots(in key: DiscoveryKey) async {
        guard let replica = replicas[key], replica.storedSnapshotIDs != reportedSnapshots[key] else { return }
        await handle(.snapshotsChanged(key, localSnapshots(replica)))
    }

    /// Feeds an input to the core and carries out everything it asks for.
    nonisolated(nonsending) public func handle(_ input: NodeInput) async {
        if case .received(_, let frame) = input {
            stats.framesReceived += 1
            stats.bytesReceived += UInt64(frame.count)
        }
        await run(core.handle(input, now: now))
    }

    nonisolated(nonsending) private func run(_ first: [NodeOutput]) async {
        var pending = first[...]
        while let output = pending.popFirst() {
            for input in await perform(output) {
                pending.append(contentsOf: core.handle(input, now: now))
            }
        }
    }

    /// Carries out one output; returns the inputs that report its outcome.
    nonisolated(nonsending) private func perform(_ output: NodeOutput) async -> [NodeInput] {
        switch output {
        case .send(let peer, let frame):
            emit(frame, to: peer)
        case .connect, .disconnect, .schedule, .event:
            outbox.append(output)
        case .ingest(let key, let batch):
            return await ingest(batch, in: key)
        case .serveRange(let key, let request, let peer, let maxEntries):
            await serve(request, in: key, to: peer, maxEntries: maxEntries)
        case .serveChunks(let key, let ids, let peer):
            serveChunks(ids, in: key, to: peer)
        case .streamSnapshot(let key, let manifest, let peer):
            guard let replica = replicas[key] else { break }
            // The index chunks go even if a leaf list cannot be read: the
            // joiner then asks for what it still lacks.
            let ids = (try? replica.chunkIDs(of: manifest)) ?? manifest.index.map(\.id)
            for batch in Self.streamBatches(ids.count) {
                await drainOutbox?()
                serveChunks(Array(ids[batch]), in: key, to: peer)
            }
        case .install(let key, let manifest, let chunks):
            return await install(manifest, chunks: chunks, in: key)
        case .audit(let key, let manifest):
            guard let replica = replicas[key] else { break }
            stats.audits += 1
            guard let reportLater else { return await Self.audit(manifest, by: replica, in: key) }
            Self.audit(manifest, by: replica, in: key, after: auditWhenIdle, then: reportLater)
        case .storeEvidence(let key, let evidence):
            storeEvidence(evidence, in: key)
        }
        return []
    }

    // MARK: Storage effects

    nonisolated(nonsending) private func ingest(_ batch: VerifiedBatch, in key: DiscoveryKey) async -> [NodeInput] {
        guard let replica = replicas[key] else { return [] }
        let admitted: [PublicKey]?
        do {
            // Control entries of the genesis feed may change who the members are.
            admitted = try await replica.ingestTrackingMembers(batch)
            stats.entriesIngested += UInt64(batch.count)
            stats.batchesIngested += 1
        } catch {
            stats.ingestFailures += 1
            let tip = (try? await replica.storedTip(of: batch.feed)) ?? .genesis(of: batch.feed)
            return [.ingestFailed(key, feed: batch.feed, tip: tip, reason: "\(error)")]
        }
        guard let admitted, let members = membersInput(Set(admitted), in: key) else { return [] }
        return [members]
    }

    nonisolated(nonsending) private func membersInput(in key: DiscoveryKey) async -> NodeInput? {
        guard let replica = replicas[key] else { return nil }
        return membersInput(Set(await replica.admittedFeeds), in: key)
    }

    private func membersInput(_ members: Set<PublicKey>, in key: DiscoveryKey) -> NodeInput? {
        guard members != reportedMembers[key] else { return nil }
        reportedMembers[key] = members
        return .membersChanged(key, members)
    }

    nonisolated(nonsending) private func serve(_ request: FeedRangeRequest, in key: DiscoveryKey, to peer: PublicKey, maxEntries: Int) async {
        guard let replica = replicas[key] else { return }
        let reply: SyncMessage
        do {
            switch try await replica.answer(rangeOf: request.feed, after: request.after, through: request.through,
                                            maxEntries: maxEntries) {
            case .pruned(let through):
                reply = .unavailable(request, reason: .pruned(through: through))
            case .range(let batch):
                reply = .range(feed: request.feed, after: request.after, range: batch.encodedRange())
                stats.rangesServed += 1
            case .notHeld:
                reply = .unavailable(request, reason: .notHeld)
            }
        } catch {
            reply = .unavailable(request, reason: .notHeld)
        }
        send(.space(key, .sync(reply)), to: peer)
    }

    /// Chunks read from the store at once while streaming a snapshot.
    static var streamBatch: Int { 256 }

    /// The batches a stream of `count` chunks goes out in: 16 chunks first,
    /// doubling up to `streamBatch`, so the joiner starts checking chunks
    /// while the rest are still read. (Streaming W1 with 256 from the start,
    /// the first chunk reached the joiner about 8 ms after the request; now
    /// it takes about 2.)
    static func streamBatches(_ count: Int) -> [Range<Int>] {
        var batches = [Range<Int>]()
        var start = 0
        var size = 16
        while start < count {
            batches.append(start..<min(count, start + size))
            start += size
            size = min(size * 2, streamBatch)
        }
        return batches
    }

    private func serveChunks(_ ids: [Hash], in key: DiscoveryKey, to peer: PublicKey) {
        guard let replica = replicas[key] else { return }
        let chunks = (try? replica.compressedChunks(ids)) ?? Array(repeating: nil, count: ids.count)
        for (id, chunk) in zip(ids, chunks) {
            if let chunk {
                stats.chunksServed += 1
                send(.space(key, .snapshot(.chunk(id: id, compressed: chunk))), to: peer)
            } else {
                send(.space(key, .snapshot(.chunkMissing(id))), to: peer)
            }
        }
    }

    nonisolated(nonsending) private func install(_ manifest: SnapshotManifest, chunks: [Hash: DownloadedChunk], in key: DiscoveryKey) async -> [NodeInput] {
        guard let replica = replicas[key] else { return [] }
        let id = manifest.id
        do {
            try await replica.install(manifest, chunks: chunks.mapValues { ($0.rawSize, $0.compressed) })
            stats.snapshotsInstalled += 1
        } catch {
            return [.installed(key, manifest: id, error: "\(error)")]
        }
        // The snapshot can now be offered, and its admissions make members.
        var inputs: [NodeInput] = [.installed(key, manifest: id, error: nil), .snapshotsChanged(key, localSnapshots(replica))]
        if let members = await membersInput(in: key) { inputs.append(members) }
        return inputs
    }

    private static func audit(_ manifest: SnapshotManifest, by replica: Replica<M>, in key: DiscoveryKey,
                              after idle: (@Sendable (DiscoveryKey) async -> Void)?,
                              then report: @escaping @Sendable ([NodeInput]) async -> Void) {
        Task {
            await idle?(key)
            await report(await audit(manifest, by: replica, in: key))
        }
    }

    private static func audit(_ manifest: SnapshotManifest, by replica: Replica<M>, in key: DiscoveryKey) async -> [NodeInput] {
        let verdict: AuditVerdict
        var attestation: Attestation?
        switch (try? await replica.audit(manifest)) ?? .cannotAudit("audit failed") {
        case .consistent:
            verdict = .consistent
            let signed = await replica.attest(manifest)
            try? await replica.save(signed)
            attestation = signed
        case .inconsistent: verdict = .inconsistent
        case .cannotAudit: verdict = .cannotAudit
        }
        return [.audited(key, manifest: manifest, verdict: verdict, attestation: attestation)]
    }

    private func storeEvidence(_ evidence: EvidenceMessage, in key: DiscoveryKey) {
        guard let replica = replicas[key] else { return }
        let bytes = WireCodec.encode(.space(key, .evidence(evidence)))
        let name = Hash.of(bytes, domain: ProtocolDomains.evidence).hex + ".evidence"
        let directory = Path.join(replica.directory, "evidence")
        try? Directory.create(directory, durable: false)
        try? Directory.writeAtomically(bytes, to: Path.join(directory, name), durable: false)
    }

    private func send(_ message: WireMessage, to peer: PublicKey) { emit(WireCodec.encode(message), to: peer) }

    /// Every frame leaves through here, so the counters see each one once.
    private func emit(_ frame: [UInt8], to peer: PublicKey) {
        stats.framesSent += 1
        stats.bytesSent += UInt64(frame.count)
        outbox.append(.send(to: peer, frame: frame))
    }

    private func localSnapshots(_ replica: Replica<M>) -> [LocalSnapshot] {
        let key = DiscoveryKey(space: replica.space)
        let ids = replica.storedSnapshotIDs
        // Snapshots of its own that are new since the last report (not the
        // ones found on disk when the space opened) were made here.
        if let reported = reportedSnapshots[key] {
            stats.snapshotsMade += ids.subtracting(reported).filter { replica.storedManifest($0)?.signer == replica.feed }.count
        }
        reportedSnapshots[key] = ids
        return replica.storedSnapshots.map { LocalSnapshot(manifest: $0, attestations: replica.attestations(of: $0.stateRoot)) }
    }
}
