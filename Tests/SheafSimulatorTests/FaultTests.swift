import SheafProtocol
import SheafSimulator
import Testing

@MainActor @Suite struct FaultTests {
    static func config(seed: UInt64 = 1, _ link: LinkProfile = LinkProfile()) -> Simulation.Configuration {
        Simulation.Configuration(seed: seed, link: link)
    }

    /// Sends `count` numbered messages from node 0 to node 1, `gap` apart.
    static func stream(_ net: Network, count: Int, gap: Duration = .zero) async throws {
        for i in 0..<count {
            try net.io(0).send(to: net.ids[1], [UInt8(i % 256), UInt8(i / 256)])
            if gap > .zero { await net.sim.run(until: net.sim.now + gap) }
        }
        await net.sim.runUntilQuiet(maxTime: net.sim.now + .seconds(100))
    }

    // MARK: Link faults

    @Test func lossRateIsAsConfigured() async throws {
        let net = await Network(Self.config(LinkProfile(loss: 0.1)))
        try await net.connect(0, 1)
        try await Self.stream(net, count: 10_000)
        let received = net.hosts[1].received.count
        let stats = net.sim.stats.nodes[0]
        // Mean 9,000, standard deviation 30: five sigmas either way.
        #expect((8_850...9_150).contains(received))
        #expect(stats.droppedByLoss + received == 10_000)
        #expect(stats.messagesSent == 10_000)
        #expect(net.sim.stats.nodes[1].messagesReceived == received)
    }

    @Test func duplicationRateIsAsConfigured() async throws {
        let net = await Network(Self.config(LinkProfile(duplication: 0.2)))
        try await net.connect(0, 1)
        try await Self.stream(net, count: 5_000)
        let extra = net.hosts[1].received.count - 5_000
        #expect((860...1_140).contains(extra))
        #expect(net.sim.stats.nodes[0].duplicated == extra)
        #expect(Set(net.hosts[1].received).count == 5_000)
    }

    @Test func reorderingRateIsAsConfigured() async throws {
        let link = LinkProfile(reordering: Reordering(probability: 0.2, maxDelay: .milliseconds(100)))
        let net = await Network(Self.config(link))
        try await net.connect(0, 1)
        try await Self.stream(net, count: 5_000, gap: .milliseconds(1))
        let order = net.hosts[1].received.map { Int($0[0]) + 256 * Int($0[1]) }
        #expect(order.sorted() == Array(0..<5_000))
        var highest = -1, late = 0
        for value in order {
            if value < highest { late += 1 }
            highest = max(highest, value)
        }
        let held = net.sim.stats.nodes[0].reordered
        #expect((850...1_150).contains(held))
        // Almost every held-back message is overtaken by the next one.
        #expect(late <= held && Double(late) >= 0.9 * Double(held))
    }

    // MARK: Partitions

    @Test func symmetricPartitionBlocksBothWaysUntilHealed() async throws {
        let net = await Network(Self.config())
        try await net.connect(0, 1)
        net.sim.partition([net.ids[0]], [net.ids[1]], symmetric: true)
        try net.io(0).send(to: net.ids[1], [1])
        try net.io(1).send(to: net.ids[0], [2])
        await net.sim.runUntilQuiet(maxTime: ms(10_000))
        #expect(net.hosts[0].received.isEmpty && net.hosts[1].received.isEmpty)
        #expect(net.sim.stats.total.droppedByPartition == 2)

        net.sim.heal()
        try net.io(0).send(to: net.ids[1], [3])
        try net.io(1).send(to: net.ids[0], [4])
        await net.sim.runUntilQuiet(maxTime: ms(20_000))
        #expect(net.hosts[1].received == [[3]])
        #expect(net.hosts[0].received == [[4]])
    }

    @Test func asymmetricPartitionBlocksOneWay() async throws {
        let net = await Network(Self.config())
        try await net.connect(0, 1)
        net.sim.partition([net.ids[0]], [net.ids[1]], symmetric: false)
        try net.io(0).send(to: net.ids[1], [1])
        try net.io(1).send(to: net.ids[0], [2])
        await net.sim.runUntilQuiet(maxTime: ms(10_000))
        #expect(net.hosts[1].received.isEmpty)
        #expect(net.hosts[0].received == [[2]])
        #expect(net.sim.stats.nodes[0].droppedByPartition == 1)
        #expect(net.sim.stats.nodes[1].droppedByPartition == 0)
    }

    @Test func messagesInFlightAcrossANewPartitionAreDropped() async throws {
        let net = await Network(Self.config())
        try await net.connect(0, 1)
        try net.io(0).send(to: net.ids[1], [1])
        net.sim.at(net.sim.now + .milliseconds(10), .partition([net.ids[0]], [net.ids[1]], symmetric: true))
        await net.sim.runUntilQuiet(maxTime: ms(10_000))
        #expect(net.hosts[1].received.isEmpty)
        #expect(net.sim.stats.nodes[0].droppedByPartition == 1)
    }

    @Test func handshakesFailAcrossPartitionsAndIsolation() async throws {
        let net = await Network(Self.config(), nodes: 3)
        net.sim.partition([net.ids[0]], [net.ids[2]], symmetric: false)
        net.sim.isolate(net.ids[1])
        let start = net.sim.now
        try net.io(2).connect(to: net.ids[0])  // the reply path is blocked
        try net.io(0).connect(to: net.ids[1])
        await net.sim.runUntilQuiet(maxTime: ms(10_000))
        #expect(net.hosts[2].times(of: .connectFailed(net.ids[0])) == [start + .seconds(1)])
        #expect(net.hosts[0].times(of: .connectFailed(net.ids[1])) == [start + .seconds(1)])
        #expect(net.sim.connections(of: net.ids[0]).isEmpty)

        net.sim.heal()
        try await net.connect(2, 0)
        try await net.connect(0, 1)
    }

    // MARK: Crashes

    @Test func crashDropsConnectionsTimersAndDeliveries() async throws {
        let net = await Network(Self.config())
        try await net.connect(0, 1)
        let t0 = net.sim.now
        let staleIO = try net.io(0)
        staleIO.schedule(after: .milliseconds(100), token: 5)
        try net.io(1).schedule(after: .milliseconds(100), token: 6)
        try net.io(1).send(to: net.ids[0], [9])  // arrives after the crash
        net.sim.at(t0 + .milliseconds(20), .crash(net.ids[0]))
        await net.sim.runUntilQuiet(maxTime: ms(10_000))

        #expect(!net.sim.isAlive(net.ids[0]))
        #expect(net.hosts[0].times(of: .crashed) == [t0 + .milliseconds(20)])
        #expect(net.hosts[0].times(of: .timer(5)).isEmpty)
        #expect(net.hosts[0].received.isEmpty)
        #expect(net.sim.stats.nodes[1].droppedClosed == 1)
        #expect(net.hosts[1].times(of: .timer(6)) == [t0 + .milliseconds(100)])
        // Noticed after twice the 50 ms latency.
        #expect(net.hosts[1].times(of: .disconnected(net.ids[0])) == [t0 + .milliseconds(120)])
        #expect(net.sim.connections(of: net.ids[0]).isEmpty && net.sim.connections(of: net.ids[1]).isEmpty)
        #expect(!staleIO.isCurrent && !staleIO.send(to: net.ids[1], [1]))

        try net.io(1).connect(to: net.ids[0])
        let failedAt = net.sim.now
        await net.sim.runUntilQuiet(maxTime: ms(20_000))
        #expect(net.hosts[1].times(of: .connectFailed(net.ids[0])) == [failedAt + .seconds(1)])

        await net.sim.restart(net.ids[0])
        #expect(net.sim.isAlive(net.ids[0]))
        #expect(net.hosts[0].times(of: .restarted) == [net.sim.now])
        try await net.connect(0, 1)
        try net.io(0).send(to: net.ids[1], [2])
        await net.sim.runUntilQuiet(maxTime: ms(30_000))
        #expect(net.hosts[1].received == [[2]])
    }

    @Test func restartOfARunningNodeIsAReboot() async throws {
        let net = await Network(Self.config(), nodes: 3)
        try await net.connect(0, 1)
        try await net.connect(2, 0)
        let t0 = net.sim.now
        await net.sim.restart(net.ids[0])
        await net.sim.runUntilQuiet(maxTime: ms(10_000))
        #expect(net.hosts[0].log.suffix(2).map(\.event) == [.crashed, .restarted])
        #expect(net.hosts[1].times(of: .disconnected(net.ids[0])) == [t0 + .milliseconds(100)])
        #expect(net.hosts[2].times(of: .disconnected(net.ids[0])) == [t0 + .milliseconds(100)])
        #expect(net.sim.connections(of: net.ids[0]).isEmpty)
    }

    // MARK: Connections

    @Test func disconnectReachesThePeerAfterEarlierMessages() async throws {
        let net = await Network(Self.config())
        try await net.connect(0, 1)
        for i: UInt8 in 1...3 { try net.io(0).send(to: net.ids[1], [UInt8](repeating: i, count: 100_000)) }
        try net.io(0).disconnect(from: net.ids[1])
        #expect(try !net.io(0).send(to: net.ids[1], [4]))
        await net.sim.runUntilQuiet(maxTime: ms(10_000))
        let events = net.hosts[1].log.map(\.event).filter {
            switch $0 {
            case .started, .connected: false
            default: true
            }
        }
        #expect(events.count == 4)
        #expect(events.last == .disconnected(net.ids[0]))
        #expect(net.hosts[1].received.map(\.first) == [1, 2, 3])
        #expect(net.hosts[0].times(of: .disconnected(net.ids[1])).isEmpty)
        #expect(net.sim.stats.nodes[0].droppedNoConnection == 1)
    }

    @Test func crossingHandshakesMakeOneConnection() async throws {
        let net = await Network(Self.config(seed: 4, LinkProfile(latency: .uniform(.milliseconds(10), .milliseconds(90)))))
        try net.io(0).connect(to: net.ids[1])
        try net.io(1).connect(to: net.ids[0])
        await net.sim.runUntilQuiet(maxTime: ms(10_000))
        let connects = net.hosts.map { $0.log.filter { if case .connected = $0.event { true } else { false } }.count }
        #expect(connects == [1, 1])
        #expect(net.sim.isConnected(net.ids[0], net.ids[1]) && net.sim.isConnected(net.ids[1], net.ids[0]))
    }
}
