import Foundation
import SheafCrypto
import SheafModels
import SheafProtocol

/// `--nodes` nodes (default 1000) form the overlay; after it settles and a
/// few warm-up broadcasts shape the trees, one writer publishes entries and
/// the run measures how they spread: hops, and copies each node received.
@MainActor
struct ScaleScenario {
    let options: ScenarioOptions

    func run() async throws -> ScenarioResult {
        let count = max(4, options.nodes ?? 1000)
        let broadcasts = options.entries ?? 10
        let link = LinkProfile(latency: .uniform(.milliseconds(20), .milliseconds(80)), loss: options.loss ?? 0)
        var config = NodeConfig()
        // Trees, not anti-entropy, must carry the entries here.
        config.antiEntropyInterval = .seconds(30)
        let cluster = try Cluster(seed: options.seed, link: link, bandwidth: options.bandwidth, entries: 0, config: config)
        defer { cluster.cleanUp() }
        var peers: [SimPeer] = []
        for index in 0..<count {
            let identity = index == 0 ? cluster.workload.genesis : cluster.keyPair(index)
            let contacts = peers.isEmpty ? [] : [peers[cluster.sim.random { Int($0.next() % UInt64(peers.count)) }]]
            // Joins spread over the first ten seconds.
            let start = NodeTime(seconds: Double(index) * 10 / Double(count))
            peers.append(cluster.addPeer(identity: identity, contacts: contacts, startAt: start))
        }
        try await cluster.openReplicas()
        let writer = peers[0]
        func publish(_ n: Int, at seconds: Double) {
            cluster.sim.at(NodeTime(seconds: seconds)) { sim in
                guard let node = writer.node else { return }
                let op = ObjectStore.Op.put(id: "news-\(n)", fields: ["text": .string("entry \(n)")])
                _ = try? await writer.write([op.encoded], sim.io(for: node))
            }
        }
        let warmUp = 5
        for n in 0..<warmUp { publish(n, at: 25 + Double(n)) }
        let measureFrom = 25 + Double(warmUp) + 2
        _ = await cluster.sim.run(until: NodeTime(seconds: measureFrom))
        let before = peers.map { $0.host?.core.counters ?? ProtocolCounters() }
        for n in 0..<broadcasts { publish(warmUp + n, at: measureFrom + 1 + Double(n)) }
        let end = NodeTime(seconds: measureFrom + 1 + Double(broadcasts) + 5)
        _ = await cluster.sim.run(until: end)

        let expected = UInt64(warmUp + broadcasts)
        let delivered = peers.filter { $0.storedFrontier.seq(of: writer.identity.publicKey) >= expected }.count
        let after = peers.map { $0.host?.core.counters ?? ProtocolCounters() }
        var payload = 0, control = 0, maxHops = 0
        for (index, (a, b)) in zip(before, after).enumerated() where index != 0 {
            payload += b.payloadMessages - a.payloadMessages
            control += b.controlMessages - a.controlMessages
            maxHops = max(maxHops, Int(b.maxDeliveryRound))
        }
        let receivers = Double(count - 1) * Double(broadcasts)
        let hopBound = 2 * Int(log2(Double(count)).rounded(.up))
        var violations = await cluster.checkInvariants(honest: Array(peers.prefix(50)))
        if delivered != count { violations.append("\(count - delivered) nodes missed entries") }
        if maxHops > hopBound { violations.append("an entry took \(maxHops) hops, more than 2·log2(N) = \(hopBound)") }

        var report = baseReport(.scale, options, cluster, ok: violations.isEmpty)
        report["nodes"] = .int(count)
        report["broadcasts"] = .int(broadcasts)
        report["all_delivered"] = .bool(delivered == count)
        report["max_hops"] = .int(maxHops)
        report["payload_messages_per_node"] = .double(Double(payload) / receivers)
        report["control_messages_per_node"] = .double(Double(control) / receivers)
        return ScenarioResult(report: report, violations: violations,
                              svg: options.svg ? progressChart(cluster, title: "scale: \(count) nodes") : nil)
    }
}
