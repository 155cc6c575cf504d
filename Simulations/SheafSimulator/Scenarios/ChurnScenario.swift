import SheafCrypto
import SheafProtocol

/// Writers crash and restart (their disks kept, with a torn record at the
/// end of their own log) while everyone writes. No acknowledged write may
/// be lost, and after the churn stops everyone converges.
@MainActor
struct ChurnScenario {
    let options: ScenarioOptions

    func run() async throws -> ScenarioResult {
        let count = max(3, options.nodes ?? 8)
        let writesPerNode = options.entries ?? 20
        let link = LinkProfile(latency: .constant(options.latency), loss: options.loss ?? 0.01)
        let cluster = try Cluster(seed: options.seed, link: link, bandwidth: options.bandwidth, entries: 0)
        defer { cluster.cleanUp() }
        let peers = makeWriters(cluster, count: count)
        try await cluster.admit(peers, genesis: peers[0], everyone: peers)
        try await cluster.openReplicas()
        scheduleWrites(cluster, peers, perNode: writesPerNode, from: 0.5, until: 10)

        // A crash every second between 1 s and 9 s; each node comes back 0.5-2.5 s later.
        var crashes = 0
        for second in 1...9 {
            let victim = peers[1 + cluster.sim.random { Int($0.next() % UInt64(count - 1)) }]
            guard let node = victim.node else { continue }
            let down = cluster.sim.random { Double($0.next() % 2000) / 1000 } + 0.5
            cluster.sim.at(NodeTime(seconds: Double(second)), .crash(node))
            cluster.sim.at(NodeTime(seconds: Double(second) + down), .restart(node))
            crashes += 1
        }
        let quietFrom = NodeTime(seconds: 12)
        _ = await cluster.sim.run(until: quietFrom)
        _ = await cluster.sim.run(until: NodeTime(seconds: options.maxSimSeconds)) { cluster.storedConverged(peers) }
        let converged = cluster.storedConverged(peers)
        let convergedAt = cluster.sim.now
        if !converged { cluster.debugDump(peers) }
        _ = await cluster.sim.run(until: cluster.sim.now + .seconds(1))

        var lost = 0
        for peer in peers { lost += await cluster.lostWrites(peer).count }
        let acknowledged = peers.reduce(0) { $0 + $1.acknowledged.count }
        let roots = await cluster.stateRoots(peers)
        var violations = await cluster.checkInvariants(honest: peers)
        if !converged { violations.append("nodes did not converge after the churn") }
        if roots.count != 1 { violations.append("\(roots.count) distinct state roots after convergence") }

        var report = baseReport(.churn, options, cluster, ok: violations.isEmpty)
        report["nodes"] = .int(count)
        report["crashes"] = .int(crashes)
        report["acked"] = .int(acknowledged)
        report["acked_lost"] = .int(lost)
        report["converged"] = .bool(converged)
        report["quiet_to_converged_s"] = .double(converged ? convergedAt.since(quietFrom).seconds : -1)
        return ScenarioResult(report: report, violations: violations,
                              svg: options.svg ? progressChart(cluster, title: "churn: crashes between 1 s and 9 s") : nil)
    }
}
