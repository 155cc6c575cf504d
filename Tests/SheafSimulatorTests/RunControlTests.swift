import SheafProtocol
import SheafSimulator
import Testing

@MainActor @Suite struct RunControlTests {
    @Test func eventGuardStopsARunawayHost() async throws {
        var config = Simulation.Configuration(seed: 1)
        config.maxEvents = 1_000
        let net = await Network(config, nodes: 1)
        net.hosts[0].onTimer = { token, io in io.schedule(after: .zero, token: token) }
        try net.io(0).schedule(after: .zero, token: 1)
        let status = await net.sim.run(until: ms(1_000))
        #expect(status == .eventLimit)
        #expect(net.sim.stats.eventsProcessed == 1_000)
        #expect(net.sim.now == .zero)
    }

    @Test func stopWhenEndsTheRunEarly() async throws {
        let net = await Network(Simulation.Configuration(seed: 1))
        try await net.connect(0, 1)
        for i: UInt8 in 0..<10 { try net.io(0).send(to: net.ids[1], [i]) }
        let host = net.hosts[1]
        let status = await net.sim.run(until: ms(60_000)) { host.received.count >= 3 }
        #expect(status == .stopped)
        #expect(host.received == [[0], [1], [2]])
        #expect(net.sim.pendingEvents > 0)
    }

    @Test func quietAndTimedRunsSetTheClock() async throws {
        let net = await Network(Simulation.Configuration(seed: 1), nodes: 1)
        try net.io(0).schedule(after: .milliseconds(30), token: 1)
        #expect(await net.sim.runUntilQuiet(maxTime: ms(10)) == .reachedTime)
        #expect(net.sim.now == ms(10))
        #expect(await net.sim.runUntilQuiet(maxTime: ms(1_000)) == .quiet)
        #expect(net.sim.now == ms(30))
        #expect(await net.sim.run(until: ms(500)) == .reachedTime)
        #expect(net.sim.now == ms(500))
    }

    @Test func cancelledTimersDoNotFire() async throws {
        let net = await Network(Simulation.Configuration(seed: 1), nodes: 1)
        let io = try net.io(0)
        io.schedule(after: .milliseconds(10), token: 1)
        io.schedule(after: .milliseconds(20), token: 1)
        io.schedule(after: .milliseconds(15), token: 2)
        io.cancelTimers(token: 1)
        io.schedule(after: .milliseconds(30), token: 1)
        await net.sim.runUntilQuiet(maxTime: ms(1_000))
        #expect(net.hosts[0].times(of: .timer(1)) == [ms(30)])
        #expect(net.hosts[0].times(of: .timer(2)) == [ms(15)])
    }

    @Test func scheduledActionsRunAtTheirTime() async {
        let sim = Simulation(seed: 1)
        var seen: [NodeTime] = []
        sim.at(ms(250)) { sim in seen.append(sim.now) }
        sim.at(ms(100)) { sim in seen.append(sim.now) }
        await sim.runUntilQuiet(maxTime: ms(1_000))
        #expect(seen == [ms(100), ms(250)])
    }

    @Test func hostsDrawFromTheRunsGenerator() async throws {
        func draws(seed: UInt64) async throws -> [UInt64] {
            let net = await Network(Simulation.Configuration(seed: seed), nodes: 2)
            return try (0..<4).map { i in try net.io(i % 2).random { $0.next() } }
        }
        let first = try await draws(seed: 7)
        #expect(try await draws(seed: 7) == first)
        #expect(try await draws(seed: 8) != first)
        #expect(Set(first).count == 4)
    }
}
