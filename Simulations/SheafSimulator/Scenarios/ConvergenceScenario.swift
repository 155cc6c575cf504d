import SheafCrypto
import SheafFeeds
import SheafModels
import SheafProtocol
import SheafReplica

/// `--nodes` writers on lossy links write while the network is split in
/// two, then the partition heals and the writes stop; every node must end
/// with the same entries and the same state.
@MainActor
struct ConvergenceScenario {
    let options: ScenarioOptions

    func run() async throws -> ScenarioResult {
        let count = max(2, options.nodes ?? 16)
        let loss = options.loss ?? 0.1
        let writesPerNode = options.entries ?? 10
        let cluster = try Cluster(seed: options.seed, link: LinkProfile(latency: .constant(options.latency), loss: loss),
                                  bandwidth: options.bandwidth, entries: 0)
        defer { cluster.cleanUp() }
        let peers = makeWriters(cluster, count: count)
        try await cluster.admit(peers, genesis: peers[0], everyone: peers)
        try await cluster.openReplicas()

        // Writes spread over [0.5 s, 6 s); the network is split during [2 s, 6 s).
        let healAt = NodeTime(seconds: 6)
        scheduleWrites(cluster, peers, perNode: writesPerNode, from: 0.5, until: 5.9)
        let half = Set(peers.prefix(count / 2).compactMap(\.node))
        let rest = Set(peers.dropFirst(count / 2).compactMap(\.node))
        cluster.sim.at(NodeTime(seconds: 2), .partition(half, rest, symmetric: true))
        cluster.sim.at(healAt, .heal)

        _ = await cluster.sim.run(until: healAt)
        let limit = NodeTime(seconds: options.maxSimSeconds)
        _ = await cluster.sim.run(until: limit) { cluster.storedConverged(peers) }
        let converged = cluster.storedConverged(peers)
        let convergedAt = cluster.sim.now
        if !converged { cluster.debugDump(peers) }
        cluster.debugReports()
        _ = await cluster.sim.run(until: cluster.sim.now + .seconds(1))
        let roots = await cluster.stateRoots(peers)

        var violations = await cluster.checkInvariants(honest: peers)
        if !converged { violations.append("nodes did not converge by \(options.maxSimSeconds) simulated seconds after the heal") }
        if roots.count != 1 { violations.append("\(roots.count) distinct state roots after convergence") }
        let expected = count * writesPerNode + (count - 1)
        let stored = peers[0].storedFrontier.entryCount
        if converged && Int(stored) != expected { violations.append("converged on \(stored) entries, \(expected) were written") }

        var report = baseReport(.convergence, options, cluster, ok: violations.isEmpty)
        report["nodes"] = .int(count)
        report["loss"] = .double(loss)
        report["converged"] = .bool(converged)
        report["distinct_roots"] = .int(roots.count)
        report["heal_to_converged_s"] = .double(converged ? convergedAt.since(healAt).seconds : -1)
        report["entries"] = .int(Int(stored))
        return ScenarioResult(report: report, violations: violations,
                              svg: options.svg ? progressChart(cluster, title: "convergence: partition at 2 s, heal at 6 s") : nil)
    }
}

/// Writer nodes: node 0 holds the genesis key; each joins through a random
/// earlier node (an attacker, through a random earlier honest one).
@MainActor
func makeWriters(_ cluster: Cluster, count: Int, behaviours: [Int: Behaviour] = [:]) -> [SimPeer] {
    var peers: [SimPeer] = []
    for index in 0..<count {
        let identity = index == 0 ? cluster.workload.genesis : cluster.keyPair(index)
        // Attackers join through honest nodes: one that joined through another
        // attacker could be banned by it before any honest node saw its attack.
        let behaviour = behaviours[index] ?? .honest
        let candidates = behaviour == .honest ? peers : peers.filter { $0.behaviour == .honest }
        let contacts = candidates.isEmpty ? [] : [candidates[cluster.sim.random { Int($0.next() % UInt64(candidates.count)) }]]
        peers.append(cluster.addPeer(identity: identity, contacts: contacts, behaviour: behaviour))
    }
    return peers
}

/// Each peer writes `perNode` single-op batches at random times in [from, until).
@MainActor
func scheduleWrites(_ cluster: Cluster, _ peers: [SimPeer], perNode: Int, from: Double, until: Double) {
    for (index, peer) in peers.enumerated() {
        for write in 0..<perNode {
            let at = from + (until - from) * Double(cluster.sim.random { $0.next() % 1_000_000 }) / 1_000_000
            cluster.sim.at(NodeTime(seconds: at)) { sim in
                guard let node = peer.node, peer.isUp else { return }
                let op = ObjectStore.Op.put(id: "obj-\(index)-\(write % 7)", fields: ["f\(write % 3)": .string("v\(index).\(write)")])
                _ = try? await peer.write([op.encoded], sim.io(for: node))
            }
        }
    }
}
