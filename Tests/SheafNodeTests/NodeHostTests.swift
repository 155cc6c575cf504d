import SheafCodec
import SheafCrypto
import SheafFeeds
import SheafFiles
import SheafModels
@testable import SheafNode
import SheafProtocol
import SheafReplica
import SheafSnapshots
import Testing

/// A NodeHost driving real replicas: what it serves, and two hosts joining
/// each other by snapshot and by replay.
@Suite struct NodeHostTests {
    let genesis = testKeyPair(seed: 900)
    var space: PublicKey { genesis.publicKey }
    var discovery: DiscoveryKey { DiscoveryKey(space: space) }

    /// A peer played by the test, with an open channel to `host`.
    struct Peer {
        let key = testKeyPair(seed: 901).publicKey
        let session = Hash.of(Array("peer session".utf8), domain: HashDomain("test"))

        func frame(_ message: WireMessage) -> NodeInput { .received(from: key, frame: WireCodec.encode(message)) }

        func connect(to host: NodeHost<ObjectStore>, space: PublicKey) async {
            await host.handle(.connected(node: key, session: session, outbound: true))
            await host.handle(frame(.hello(Hello(address: PeerAddress(node: key, endpoint: "peer")))))
            await host.handle(frame(.open(OpenSpace(space: space, session: session, sender: key))))
            _ = host.takeOutbox()
        }

        /// The sync answers the host sent this peer.
        func answers(from host: NodeHost<ObjectStore>) -> [SyncMessage] {
            host.takeOutbox().compactMap { output in
                guard case .send(key, let frame) = output, case .space(_, .sync(let message)) = try? WireCodec.decode(frame) else { return nil }
                return message
            }
        }
    }

    func ask(_ request: FeedRangeRequest, of host: NodeHost<ObjectStore>, as peer: Peer) async -> [SyncMessage] {
        await host.handle(peer.frame(.space(discovery, .sync(.request(request)))))
        return peer.answers(from: host)
    }

    /// A streamed snapshot goes out in batches that start small, so the
    /// joiner has chunks to check while the seed reads the rest, and grow
    /// to the full batch; together they cover every chunk once, in order.
    @Test func streamBatchesStartSmallAndCoverEveryChunk() {
        #expect(NodeHost<ObjectStore>.streamBatches(0).isEmpty)
        #expect(NodeHost<ObjectStore>.streamBatches(5) == [0..<5])
        let batches = NodeHost<ObjectStore>.streamBatches(1385)
        #expect(batches.prefix(5).map(\.count) == [16, 32, 64, 128, 256])
        #expect(batches.dropFirst(4).dropLast().allSatisfy { $0.count == NodeHost<ObjectStore>.streamBatch })
        #expect(batches.first?.lowerBound == 0 && batches.last?.upperBound == 1385)
        #expect(zip(batches, batches.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound })
    }

    @Test func servesVerifiableRangesAndSaysWhatItCannot() async throws {
        try await withTemporaryDirectory { dir in
            let replica = try await openReplica(dir, space: space, identity: genesis)
            for i in 0..<4 { try await replica.append((0..<5).map { put("obj-\(i)-\($0)", "v") }) }
            let host = NodeHost<ObjectStore>(identity: genesis, config: NodeConfig(), seed: 1)
            host.start()
            try await host.open(replica, trust: .replay, contacts: [])
            let peer = Peer()
            await peer.connect(to: host, space: space)

            let answers = await ask(FeedRangeRequest(feed: space, after: 5, through: 12), of: host, as: peer)
            guard case .range(let feed, let after, let range) = answers.first, answers.count == 1 else {
                Issue.record("expected one range, got \(answers)")
                return
            }
            #expect(feed == space && after == 5)
            let anchor = FeedAnchor(seq: 5, hash: try #require(try await replica.entryHash(of: space, at: 5)))
            let batch = try RangeVerifier.verify(encodedRange: range, from: anchor, feed: space)
            #expect(batch.head.seq == 10)
            #expect(host.stats.rangesServed == 1)

            // Nothing held there, or a feed it does not hold.
            let beyond = FeedRangeRequest(feed: space, after: 20, through: 30)
            #expect(await ask(beyond, of: host, as: peer) == [.unavailable(beyond, reason: .notHeld)])
            let stranger = FeedRangeRequest(feed: testKeyPair(seed: 999).publicKey, after: 0, through: 3)
            #expect(await ask(stranger, of: host, as: peer) == [.unavailable(stranger, reason: .notHeld)])
            await replica.close()
        }
    }

    @Test func prunedHistoryIsAnsweredAsPruned() async throws {
        try await withTemporaryDirectory { dir in
            let replica = try await openReplica(dir, space: space, identity: genesis, compact: true)
            for i in 0..<150 { try await replica.append(put("obj-\(i)", String(repeating: "x", count: 40))) }
            _ = try await replica.snapshotNow()
            let pruned = try await replica.prunedThrough(space)
            #expect(pruned > 0)
            let host = NodeHost<ObjectStore>(identity: genesis, config: NodeConfig(), seed: 1)
            host.start()
            try await host.open(replica, trust: .replay, contacts: [])
            let peer = Peer()
            await peer.connect(to: host, space: space)
            let early = FeedRangeRequest(feed: space, after: 0, through: 150)
            #expect(await ask(early, of: host, as: peer) == [.unavailable(early, reason: .pruned(through: pruned))])
            let late = FeedRangeRequest(feed: space, after: pruned, through: 150)
            let answers = await ask(late, of: host, as: peer)
            guard case .range(_, pruned, _) = answers.first else {
                Issue.record("expected a range after the pruned history, got \(answers)")
                return
            }
            await replica.close()
        }
    }

    @Test func aBatchLargerThanTheRangeLimitIsServedWhole() async throws {
        try await withTemporaryDirectory { dir in
            let replica = try await openReplica(dir, space: space, identity: genesis)
            try await replica.append((0..<20).map { put("big-\($0)", "v") })
            var config = NodeConfig()
            config.maxRangeEntries = 8
            let host = NodeHost<ObjectStore>(identity: genesis, config: config, seed: 1)
            host.start()
            try await host.open(replica, trust: .replay, contacts: [])
            let peer = Peer()
            await peer.connect(to: host, space: space)
            // What a peer's planner asks: at most maxRangeEntries. The batch is
            // the smallest range that can be verified, so it comes whole.
            let answers = await ask(FeedRangeRequest(feed: space, after: 0, through: 8), of: host, as: peer)
            guard case .range(_, 0, let range) = answers.first else {
                Issue.record("a batch of 20 entries must still be served, got \(answers)")
                return
            }
            let batch = try RangeVerifier.verify(encodedRange: range, from: .genesis(of: space), feed: space)
            #expect(batch.count == 20)
            await replica.close()
        }
    }

    /// Moves every entry of `feed` that `destination` lacks, as one range.
    func transfer(_ feed: PublicKey, from source: Replica<ObjectStore>, to destination: Replica<ObjectStore>) async throws {
        let have = try await destination.storedTip(of: feed).seq
        let total = try await source.storedTip(of: feed).seq
        guard total > have,
              let batch = try await source.servableRange(of: feed, after: have, through: total, maxEntries: Int(total - have)) else { return }
        try await destination.ingest(batch)
    }

    /// The genesis writer admits a writer, which writes 300 entries; the
    /// genesis host snapshots them, then 3 more arrive. A newcomer host joins
    /// it with `trust`; returns once the newcomer holds everything.
    func join(trust: TrustPolicy, in dir: String, newcomerHost: (NodeHost<ObjectStore>) -> Void = { _ in })
        async throws -> (network: HostNetwork, source: Replica<ObjectStore>, newcomer: Replica<ObjectStore>)
    {
        let network = HostNetwork()
        let writerKey = testKeyPair(seed: 903)
        let source = try await openReplica(Path.join(dir, "source"), space: space, identity: genesis)
        let writer = try await openReplica(Path.join(dir, "writer"), space: space, identity: writerKey)
        try await source.admit(writerKey.publicKey)
        try await transfer(space, from: source, to: writer)
        for i in 0..<30 { try await writer.append((0..<10).map { put("obj-\(i)-\($0)", "value \(i)") }) }
        try await transfer(writerKey.publicKey, from: writer, to: source)
        _ = try await source.snapshotNow()
        for i in 0..<3 { try await writer.append([put("tail-\(i)", "after the snapshot")]) }
        try await transfer(writerKey.publicKey, from: writer, to: source)
        await writer.close()
        let a = network.addHost(genesis, seed: 1)
        try await network.open(source, at: a, trust: .replay)

        let newcomer = try await openReplica(Path.join(dir, "newcomer"), space: space, identity: testKeyPair(seed: 902))
        let b = network.addHost(testKeyPair(seed: 902), seed: 2)
        newcomerHost(network.hosts[b])
        try await network.open(newcomer, at: b, trust: trust, contacts: [a])
        let target = try await source.storedFrontier()
        #expect(target.entryCount == 304)
        await network.run(until: NodeTime(nanoseconds: 30_000_000_000)) {
            (try? await newcomer.storedFrontier()) == target
        }
        #expect(try await newcomer.storedFrontier() == target)
        #expect(try await newcomer.stateRoot() == (try await source.stateRoot()))
        return (network, source, newcomer)
    }

    @Test func aNewcomerJoinsFromTheSnapshotThenFollowsNewWrites() async throws {
        try await withTemporaryDirectory { dir in
            let (network, source, newcomer) = try await join(trust: .member, in: dir)
            let (a, b) = (0, 1)
            #expect(network.hosts[b].stats.snapshotsInstalled == 1)
            #expect(network.events[b].contains(.spaceReady(discovery, fromSnapshot: true)))
            #expect(newcomer.storedSnapshots.map(\.id) == source.storedSnapshots.map(\.id))
            // History the snapshot covers was not fetched entry by entry, not
            // even the genesis feed's (the genesis key signed the snapshot, so
            // no membership is needed to trust it): only the tail.
            #expect(try await newcomer.prunedThrough(testKeyPair(seed: 903).publicKey) == 300)
            #expect(try await newcomer.prunedThrough(space) == 1)
            #expect(network.hosts[b].stats.entriesIngested == 3)
            // The contact streamed the snapshot: every chunk once, none asked for.
            let manifest = try #require(source.storedSnapshots.first)
            #expect(network.hosts[a].stats.chunksServed == manifest.index.count + Int(manifest.leafCount))

            // A new write reaches it by broadcast.
            try await network.act(on: a) { host in _ = try await host.append([put("late", "news")], in: discovery) }
            await network.run(until: network.now + .seconds(1))
            #expect(try await newcomer.read { $0.object("late")?.fields["v"] } == .string("news"))
            #expect(try await newcomer.stateRoot() == (try await source.stateRoot()))
            await newcomer.close()
            await source.close()
        }
    }

    @Test func aQuorumNewcomerFetchesTheGenesisFeedBeforeInstalling() async throws {
        try await withTemporaryDirectory { dir in
            // Attestations count only from members: the genesis feed says who they are.
            let (network, source, newcomer) = try await join(trust: .quorum(1), in: dir)
            let b = 1
            #expect(network.hosts[b].stats.snapshotsInstalled == 1)
            #expect(try await newcomer.prunedThrough(testKeyPair(seed: 903).publicKey) == 300)
            #expect(try await newcomer.prunedThrough(space) == 0)
            #expect(network.hosts[b].stats.entriesIngested == 1 + 3)
            await newcomer.close()
            await source.close()
        }
    }

    /// With an owner that takes outcomes later (as the daemon does), a host
    /// starts an audit and goes on: the verdict, with the attestation the
    /// node signed, comes back through `reportLater`, not from the call.
    @Test func auditOutcomesComeBackThroughReportLater() async throws {
        try await withTemporaryDirectory { dir in
            let reports = AuditReports()
            let (network, source, newcomer) = try await join(trust: .replay, in: dir) { host in
                host.reportLater = { inputs in await reports.add(inputs) }
            }
            let manifest = try #require(source.storedSnapshots.first)
            // Holding the history now, the newcomer audits what it is offered next.
            await network.run(until: network.now + .seconds(10))
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(10)
            while await reports.verdict(of: manifest.id) == nil, clock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
            let report = try #require(await reports.verdict(of: manifest.id), "no audit reported later")
            #expect(report.verdict == .consistent)
            #expect(report.attestation?.stateRoot == manifest.stateRoot)
            #expect(report.attestation?.signer == testKeyPair(seed: 902).publicKey)
            #expect(network.hosts[1].stats.audits >= 1)
            await newcomer.close()
            await source.close()
        }
    }

    /// An owner may hold a background audit back (the daemon does while
    /// it catches up): nothing of the audit is done or reported until
    /// `auditWhenIdle` returns, and then the verdict comes as usual.
    @Test func anAuditWaitsForItsOwnerToLetItStart() async throws {
        try await withTemporaryDirectory { dir in
            let reports = AuditReports()
            let gate = AuditGate()
            let (network, source, newcomer) = try await join(trust: .replay, in: dir) { host in
                host.reportLater = { inputs in await reports.add(inputs) }
                host.auditWhenIdle = { key in await gate.pass(key) }
            }
            let manifest = try #require(source.storedSnapshots.first)
            await network.run(until: network.now + .seconds(10))
            let clock = ContinuousClock()
            var deadline = clock.now + .seconds(10)
            while await gate.waiting.isEmpty, clock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
            let asked = await gate.waiting
            #expect(!asked.isEmpty && asked.allSatisfy { $0 == discovery }, "the audit never asked to start")
            try await Task.sleep(for: .milliseconds(200))
            #expect(await reports.verdict(of: manifest.id) == nil, "reported while held back")
            await gate.open()
            deadline = clock.now + .seconds(10)
            while await reports.verdict(of: manifest.id) == nil, clock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
            #expect(await reports.verdict(of: manifest.id)?.verdict == .consistent)
            await newcomer.close()
            await source.close()
        }
    }

    @Test func aReplayingNewcomerFetchesEveryEntry() async throws {
        try await withTemporaryDirectory { dir in
            let (network, source, newcomer) = try await join(trust: .replay, in: dir)
            let b = 1
            #expect(network.hosts[b].stats.snapshotsInstalled == 0)
            #expect(network.hosts[b].stats.entriesIngested == 304)
            #expect(try await newcomer.prunedThrough(testKeyPair(seed: 903).publicKey) == 0)
            await newcomer.close()
            await source.close()
        }
    }
}

/// Audit outcomes a host reported through `reportLater`.
actor AuditReports {
    private var verdicts: [Hash: (verdict: AuditVerdict, attestation: Attestation?)] = [:]

    func add(_ inputs: [NodeInput]) {
        for case .audited(_, let manifest, let verdict, let attestation) in inputs { verdicts[manifest.id] = (verdict, attestation) }
    }

    func verdict(of id: Hash) -> (verdict: AuditVerdict, attestation: Attestation?)? { verdicts[id] }
}

/// Holds audits back until opened, noting which spaces asked.
actor AuditGate {
    private(set) var waiting: [DiscoveryKey] = []
    private var isOpen = false
    private var held: [CheckedContinuation<Void, Never>] = []

    func pass(_ key: DiscoveryKey) async {
        waiting.append(key)
        if isOpen { return }
        await withCheckedContinuation { held.append($0) }
    }

    func open() {
        isOpen = true
        for continuation in held { continuation.resume() }
        held = []
    }
}
