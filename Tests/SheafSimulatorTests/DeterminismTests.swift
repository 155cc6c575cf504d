import SheafCrypto
import SheafProtocol
import SheafSimulator
import Testing

@MainActor @Suite struct DeterminismTests {
    struct Outcome: Equatable {
        var hash: Hash
        var stats: [SimNodeStats]
        var heard: [[SimSample]]
        var events: Int
    }

    /// Eight chatty nodes over a lossy, jittery, duplicating, reordering
    /// network, with a partition, a crash, an isolation and their repairs.
    static func run(seed: UInt64, marker: UInt8 = 0, peekAt: NodeTime? = nil) async -> Outcome {
        let link = LinkProfile(
            latency: .normal(mean: .milliseconds(40), stddev: .milliseconds(15)),
            loss: 0.05, duplication: 0.05,
            reordering: Reordering(probability: 0.1, maxDelay: .milliseconds(80)))
        let sim = Simulation(Simulation.Configuration(seed: seed, link: link, bandwidth: 1_000_000))
        let hosts = (0..<8).map { _ in ChattyHost(peers: 8) }
        for host in hosts { host.marker = marker }
        let ids = hosts.map { sim.addNode($0) }
        sim.setLink(from: ids[0], to: ids[1], LinkProfile(latency: .uniform(.milliseconds(5), .milliseconds(300))))
        sim.at(.init(nanoseconds: 2_000_000_000), .partition(Set(ids[0..<4]), Set(ids[4...]), symmetric: true))
        sim.at(.init(nanoseconds: 3_000_000_000), .crash(ids[2]))
        sim.at(.init(nanoseconds: 4_000_000_000), .heal)
        sim.at(.init(nanoseconds: 5_000_000_000), .restart(ids[2]))
        sim.at(.init(nanoseconds: 6_000_000_000), .isolate(ids[5]))
        sim.at(.init(nanoseconds: 7_000_000_000), .heal)
        if let peekAt {
            await sim.run(until: peekAt)
            _ = sim.traceHash
        }
        let status = await sim.run(until: .init(nanoseconds: 8_000_000_000))
        #expect(status == .reachedTime)
        return Outcome(
            hash: sim.traceHash, stats: sim.stats.nodes,
            heard: ids.map { sim.samples("heard", of: $0) }, events: sim.stats.eventsProcessed)
    }

    @Test func sameSeedSameRun() async {
        let first = await Self.run(seed: 42)
        let second = await Self.run(seed: 42)
        #expect(first == second)
        // The run did exercise the network.
        let total = first.stats.reduce(0) { $0 + $1.messagesReceived }
        #expect(total > 500)
        #expect(first.stats.contains { $0.droppedByLoss > 0 } && first.stats.contains { $0.droppedByPartition > 0 })
        #expect(first.stats.contains { $0.duplicated > 0 } && first.stats.contains { $0.reordered > 0 })
    }

    @Test func differentSeedDifferentHash() async {
        let first = await Self.run(seed: 42)
        let other = await Self.run(seed: 43)
        #expect(first.hash != other.hash)
    }

    @Test func traceCoversMessageContent() async {
        let plain = await Self.run(seed: 42)
        let marked = await Self.run(seed: 42, marker: 1)
        // Same sizes and choices, different bytes.
        #expect(plain.stats == marked.stats)
        #expect(plain.hash != marked.hash)
    }

    @Test func readingTheHashMidRunChangesNothing() async {
        let straight = await Self.run(seed: 42)
        let peeked = await Self.run(seed: 42, peekAt: .init(nanoseconds: 3_500_000_000))
        #expect(straight == peeked)
    }
}
