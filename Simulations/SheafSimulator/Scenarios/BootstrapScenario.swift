import SheafCrypto
import SheafFeeds
import SheafProtocol

/// Three nodes hold a W1-shaped space and a snapshot of it. A newcomer
/// joins by snapshot; once it is ready, another joins by replaying every
/// feed. Ready means holding everything the space holds.
@MainActor
struct BootstrapScenario {
    let options: ScenarioOptions

    func run() async throws -> ScenarioResult {
        let entries = options.entries ?? 20_000
        let link = LinkProfile(latency: .constant(options.latency))
        let cluster = try Cluster(seed: options.seed, link: link, bandwidth: options.bandwidth, entries: entries)
        defer { cluster.cleanUp() }
        // The existing nodes are the genesis writer and two admitted writers,
        // so their snapshots are signed by members.
        let writers = cluster.workload.writerKeys
        let first = cluster.addPeer(identity: cluster.workload.genesis)
        let second = cluster.addPeer(identity: writers[0], contacts: [first])
        let third = cluster.addPeer(identity: writers[1], contacts: [first])
        let existing = [first, second, third]
        let snapshotAfter = options.tail > 0 ? Int(Double(entries) * (1 - options.tail)) : nil
        let target = try await cluster.seedHistory(into: existing, snapshotAfter: snapshotAfter)

        let limit = NodeTime(seconds: options.maxSimSeconds)
        // Let the existing nodes find each other first.
        _ = await cluster.sim.run(until: NodeTime(seconds: 1))

        let joinedBySnapshot = cluster.addPeer(identity: cluster.keyPair(100), trust: .member, contacts: [first],
                                               startAt: cluster.sim.now)
        let snapshotStart = cluster.sim.now
        _ = await cluster.sim.run(until: limit) { cluster.reaches(joinedBySnapshot, target) }
        let snapshotReady = cluster.reaches(joinedBySnapshot, target) ? cluster.sim.now : nil
        let queryableAt = cluster.monitor.readyTime(of: joinedBySnapshot.node!)

        let joinedByReplay = cluster.addPeer(identity: cluster.keyPair(101), trust: .replay, contacts: [second],
                                             startAt: cluster.sim.now + .milliseconds(500))
        let replayStart = cluster.sim.now + .milliseconds(500)
        _ = await cluster.sim.run(until: limit) { cluster.reaches(joinedByReplay, target) }
        let replayReady = cluster.reaches(joinedByReplay, target) ? cluster.sim.now : nil

        // Let the in-flight deliveries settle before comparing states.
        _ = await cluster.sim.run(until: cluster.sim.now + .seconds(1))
        let roots = await cluster.stateRoots([first, joinedBySnapshot, joinedByReplay])
        var violations = await cluster.checkInvariants(honest: cluster.peers)
        if snapshotReady == nil { violations.append("the snapshot newcomer never caught up") }
        if replayReady == nil { violations.append("the replay newcomer never caught up") }
        if roots.count != 1 { violations.append("state roots differ: \(roots.count) distinct") }

        let stats = cluster.sim.stats
        let readySnapshot = snapshotReady.map { $0.since(snapshotStart).seconds } ?? -1
        let readyReplay = replayReady.map { $0.since(replayStart).seconds } ?? -1
        var report = baseReport(.bootstrap, options, cluster, ok: violations.isEmpty)
        report["entries"] = .int(entries)
        report["ready_s_snapshot"] = .double(readySnapshot)
        report["queryable_s_snapshot"] = .double(queryableAt.map { $0.since(snapshotStart).seconds } ?? -1)
        report["ready_s_replay"] = .double(readyReplay)
        report["speedup"] = .double(readySnapshot > 0 && readyReplay > 0 ? readyReplay / readySnapshot : 0)
        report["bytes_snapshot"] = .int(stats.nodes[joinedBySnapshot.node!.index].bytesReceived)
        report["bytes_replay"] = .int(stats.nodes[joinedByReplay.node!.index].bytesReceived)
        let snapshotBytes = first.replica?.storedSnapshots.first?.compressedBytes ?? 0
        report["snapshot_compressed_bytes"] = .int(Int(snapshotBytes))
        report["ideal_s_snapshot"] = .double(Double(snapshotBytes) / Double(options.bandwidth) + options.latency.seconds)
        report["state_roots_equal"] = .bool(roots.count == 1)
        return ScenarioResult(report: report, violations: violations,
                              svg: options.svg ? progressChart(cluster, title: "bootstrap: snapshot vs replay") : nil)
    }
}
