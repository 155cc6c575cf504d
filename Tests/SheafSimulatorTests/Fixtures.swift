import SheafProtocol
import SheafSimulator
import Testing

/// `milliseconds` as a point in virtual time.
func ms(_ milliseconds: Double) -> NodeTime {
    NodeTime(nanoseconds: UInt64(milliseconds * 1_000_000))
}

/// Recording hosts added to a fresh simulation, started at time zero.
@MainActor struct Network {
    let sim: Simulation
    let hosts: [RecordingHost]
    let ids: [SimNodeID]

    init(_ configuration: Simulation.Configuration, nodes: Int = 2) async {
        let sim = Simulation(configuration)
        let hosts = (0..<nodes).map { _ in RecordingHost() }
        ids = hosts.map { sim.addNode($0) }
        (self.sim, self.hosts) = (sim, hosts)
        await sim.run(until: .zero)
    }

    func io(_ node: Int) throws -> SimIO { try #require(hosts[node].io) }

    /// Connects `a` to `b` and runs until the handshake is done.
    func connect(_ a: Int, _ b: Int) async throws {
        try io(a).connect(to: ids[b])
        _ = await sim.runUntilQuiet(maxTime: sim.now + .seconds(5))
        try #require(sim.isConnected(ids[a], ids[b]) && sim.isConnected(ids[b], ids[a]))
    }

    /// Runs until quiet and returns how long after `sent` each message
    /// reached `node`.
    func delays(to node: Int, since sent: NodeTime) async -> [Duration] {
        await sim.runUntilQuiet(maxTime: sim.now + .seconds(100))
        return hosts[node].receivedTimes.map { $0.since(sent) }
    }
}
