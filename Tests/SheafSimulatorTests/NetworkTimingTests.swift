import SheafProtocol
import SheafRandom
import Testing

@testable import SheafSimulator

@MainActor @Suite struct NetworkTimingTests {
    static let fast = Simulation.Configuration(seed: 1, link: LinkProfile(latency: .constant(.milliseconds(50))))
    static let megabyte = [UInt8](repeating: 7, count: 1_000_000)
    /// 1 MB plus the 40-byte overhead through a 10 MB/s link: 100.004 ms.
    static let transfer = Duration.nanoseconds(100_004_000)

    @Test func connectTakesOneLatencyOnBothEnds() async throws {
        let net = await Network(Self.fast)
        try net.io(0).connect(to: net.ids[1])
        await net.sim.runUntilQuiet(maxTime: ms(1_000))
        #expect(net.hosts[0].times(of: .connected(net.ids[1], outbound: true)) == [ms(50)])
        #expect(net.hosts[1].times(of: .connected(net.ids[0], outbound: false)) == [ms(50)])
    }

    @Test func megabyteArrivesAfterTransferPlusLatency() async throws {
        let net = await Network(Self.fast)
        try await net.connect(0, 1)
        let sent = net.sim.now
        try net.io(0).send(to: net.ids[1], Self.megabyte)
        #expect(await net.delays(to: 1, since: sent) == [Self.transfer + .milliseconds(50)])
        #expect(net.hosts[1].received == [Self.megabyte])
    }

    @Test func messagesQueueOnTheSendersUplink() async throws {
        let net = await Network(Self.fast)
        try await net.connect(0, 1)
        let sent = net.sim.now
        try net.io(0).send(to: net.ids[1], Self.megabyte)
        try net.io(0).send(to: net.ids[1], Self.megabyte)
        #expect(await net.delays(to: 1, since: sent) == [Self.transfer + .milliseconds(50), Self.transfer * 2 + .milliseconds(50)])
    }

    @Test func sendersShareTheReceiversDownlink() async throws {
        let net = await Network(Self.fast, nodes: 3)
        try await net.connect(0, 2)
        try await net.connect(1, 2)
        let sent = net.sim.now
        try net.io(0).send(to: net.ids[2], Self.megabyte)
        try net.io(1).send(to: net.ids[2], Self.megabyte)
        #expect(await net.delays(to: 2, since: sent) == [Self.transfer + .milliseconds(50), Self.transfer * 2 + .milliseconds(50)])
    }

    @Test func slowerDownlinkSetsThePace() async throws {
        let net = await Network(Self.fast)
        net.sim.setBandwidth(net.ids[1], uplink: 10_000_000, downlink: 1_000_000)
        try await net.connect(0, 1)
        let sent = net.sim.now
        try net.io(0).send(to: net.ids[1], Self.megabyte)
        // The first byte lands after 50 ms; the downlink then needs 1.00004 s.
        #expect(await net.delays(to: 1, since: sent) == [.nanoseconds(1_050_040_000)])
    }

    @Test func jitterDoesNotReorderAConnection() async throws {
        let link = LinkProfile(latency: .uniform(.milliseconds(10), .milliseconds(200)))
        let net = await Network(Simulation.Configuration(seed: 3, link: link))
        try await net.connect(0, 1)
        for i in 0..<500 {
            try net.io(0).send(to: net.ids[1], [UInt8(i % 256), UInt8(i / 256)])
            await net.sim.run(until: net.sim.now + .microseconds(200))
        }
        await net.sim.runUntilQuiet(maxTime: ms(100_000))
        let order = net.hosts[1].received.map { Int($0[0]) + 256 * Int($0[1]) }
        #expect(order == Array(0..<500))
    }

    @Test func perPairOverridesAreDirected() async throws {
        let net = await Network(Self.fast)
        net.sim.setLink(from: net.ids[1], to: net.ids[0], LinkProfile(latency: .constant(.milliseconds(5))))
        try await net.connect(0, 1)
        let sent = net.sim.now
        try net.io(0).send(to: net.ids[1], [1])
        try net.io(1).send(to: net.ids[0], [2])
        let tiny = Duration.nanoseconds(4_100)  // 41 wire bytes at 10 MB/s, streamed
        #expect(await net.delays(to: 1, since: sent) == [.milliseconds(50) + tiny])
        #expect(await net.delays(to: 0, since: sent) == [.milliseconds(5) + tiny])
    }

    @Test func latencyDistributionsStayInRange() {
        var rng = SplitMix64(seed: 9)
        let uniform = LatencyDistribution.uniform(.milliseconds(10), .milliseconds(30))
        let samples = (0..<10_000).map { _ in uniform.sample(&rng) }
        #expect(samples.allSatisfy { (10_000_000...30_000_000).contains($0) })
        let mean = Double(samples.reduce(0, +)) / Double(samples.count)
        #expect(abs(mean - 20e6) < 0.3e6)

        let normal = LatencyDistribution.normal(mean: .milliseconds(50), stddev: .milliseconds(10))
        let values = (0..<10_000).map { _ in Double(normal.sample(&rng)) }
        let average = values.reduce(0, +) / Double(values.count)
        let variance = values.map { ($0 - average) * ($0 - average) }.reduce(0, +) / Double(values.count)
        #expect(abs(average - 50e6) < 0.5e6)
        #expect(abs(variance.squareRoot() - 10e6) < 0.5e6)

        let clamped = LatencyDistribution.normal(mean: .milliseconds(1), stddev: .milliseconds(5))
        let draws = (0..<1_000).map { _ in clamped.sample(&rng) }
        #expect(draws.contains(0))
        #expect(draws.allSatisfy { $0 < 31_000_000 })
        #expect(LatencyDistribution.constant(.milliseconds(7)).sample(&rng) == 7_000_000)
    }

    @Test func transmitTimeRoundsUp() {
        #expect(Simulation.transmitTime(1_000_040, rate: 10_000_000) == 100_004_000)
        #expect(Simulation.transmitTime(1, rate: 3) == 333_333_334)
        #expect(Simulation.transmitTime(0, rate: 3) == 0)
    }
}
