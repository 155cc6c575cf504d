import SheafCrypto
import SheafProtocol

/// Honest writers share a space with one node of each misbehaviour. Every
/// attack must be detected by an honest node, no forged entry may be
/// stored, and the honest nodes must agree on every feed that is not forked.
/// A newcomer requiring a quorum of two joins late, with a liar offering.
@MainActor
struct ByzantineScenario {
    let options: ScenarioOptions

    func run() async throws -> ScenarioResult {
        let honestCount = max(3, options.nodes ?? 6)
        let attackers = Behaviour.attacks
        let link = LinkProfile(latency: .constant(options.latency), loss: options.loss ?? 0)
        let cluster = try Cluster(seed: options.seed, link: link, bandwidth: options.bandwidth, entries: 0)
        defer { cluster.cleanUp() }
        var behaviours: [Int: Behaviour] = [:]
        for (offset, attack) in attackers.enumerated() { behaviours[honestCount + offset] = attack }
        let everyone = makeWriters(cluster, count: honestCount + attackers.count, behaviours: behaviours)
        let honest = Array(everyone.prefix(honestCount))
        // Admitted writers: the honest ones, and the attackers that need to be members to attack.
        let members = everyone.filter { [.honest, .equivocator, .liar, .withholder].contains($0.behaviour) }
        try await cluster.admit(members, genesis: everyone[0], everyone: everyone)
        try await cluster.openReplicas()
        scheduleWrites(cluster, members.filter { $0.behaviour != .equivocator }, perNode: options.entries ?? 10, from: 0.5, until: 6)
        for peer in members {
            cluster.sim.at(NodeTime(seconds: 6.5)) { sim in
                guard let node = peer.node, peer.isUp else { return }
                try? await peer.snapshot(sim.io(for: node))
            }
        }
        var newcomer: SimPeer?
        cluster.sim.at(NodeTime(seconds: 9)) { _ in
            newcomer = cluster.addPeer(identity: cluster.keyPair(500), trust: .quorum(2), contacts: [honest[1]], startAt: cluster.sim.now)
        }
        _ = await cluster.sim.run(until: NodeTime(seconds: 20))
        // Honest data must converge: attackers' own feeds (forked, withheld) are not compared.
        let forked = Set(everyone.filter { $0.behaviour != .honest }.map(\.identity.publicKey))
        let group = honest + (newcomer.map { [$0] } ?? [])
        let attackersByKind = everyone.filter { $0.behaviour != .honest }
        _ = await cluster.sim.run(until: NodeTime(seconds: options.maxSimSeconds)) {
            cluster.storedConverged(group, excluding: forked) && attackersByKind.allSatisfy { detected($0, cluster) }
        }
        let converged = cluster.storedConverged(group, excluding: forked)
        cluster.debugDump(group)
        cluster.debugReports()

        var caught = 0
        var undetected: [String] = []
        for attacker in everyone where attacker.behaviour != .honest {
            if detected(attacker, cluster) { caught += 1 } else { undetected.append(attacker.behaviour.rawValue) }
        }
        let badApplied = await cluster.forgedEntriesStored(by: group).count
        var violations = await cluster.checkInvariants(honest: group)
        if !undetected.isEmpty { violations.append("attacks not detected: \(undetected.joined(separator: ", "))") }
        if !converged { violations.append("honest nodes did not converge on the feeds that are not forked") }
        if newcomer?.isUp != true || newcomer.map({ cluster.monitor.readyTime(of: $0.node!) == nil }) ?? true {
            violations.append("the quorum newcomer never became ready")
        }

        var report = baseReport(.byzantine, options, cluster, ok: violations.isEmpty)
        report["honest"] = .int(honestCount)
        report["attacks"] = .int(attackers.count)
        report["attacks_detected"] = .int(caught)
        report["bad_entries_applied"] = .int(badApplied)
        report["forked_feeds"] = .int(Set(honest.flatMap { $0.host?.core.forkedFeeds(of: cluster.key) ?? [] }).count)
        report["converged"] = .bool(converged)
        return ScenarioResult(report: report, violations: violations,
                              svg: options.svg ? progressChart(cluster, title: "byzantine: one attacker of each kind") : nil)
    }

    /// Whether an honest node caught this attacker at its attack.
    private func detected(_ attacker: SimPeer, _ cluster: Cluster) -> Bool {
        let key = attacker.identity.publicKey
        switch attacker.behaviour {
        case .equivocator: return cluster.monitor.forkDetected(key)
        case .liar: return cluster.monitor.fraudDetected(key)
        default: return cluster.monitor.reported(key, for: attacker.behaviour.detectedAs)
        }
    }
}
