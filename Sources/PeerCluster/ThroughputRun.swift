import SheafControl
import SheafDaemon
import SheafProtocol
import SheafWorkloads

/// Replication rate between two processes: a seed holding history, a
/// fresh node fetching all of it.
public struct ThroughputRun: Sendable {
    public var entries: Int
    public var valueBytes: Int
    public var executable: String
    public var workDirectory: String

    public init(entries: Int, valueBytes: Int, executable: String, workDirectory: String) {
        self.entries = entries
        self.valueBytes = valueBytes
        self.executable = executable
        self.workDirectory = workDirectory
    }

    public struct Result: Sendable {
        public var seconds: Double
        public var bytes: UInt64
        public var stateRootsEqual: Bool
        public var receiverPeakResidentMB: Double?
        public var entries: Int

        public var megabytesPerSecond: Double { seconds > 0 ? Double(bytes) / 1e6 / seconds : 0 }
        public var entriesPerSecond: Double { seconds > 0 ? Double(entries) / seconds : 0 }
    }

    public func run(say: @Sendable (String) -> Void, status: @Sendable (String) -> Void) async throws -> Result {
        let seedData = DataDirectory(workDirectory + "/seed")
        try seedData.initialize()
        let workload = W1(entries: entries, valueLength: valueBytes)
        say("Seeding \(entries) entries of \(valueBytes)-byte values…")
        try await W1Seeder.seed(seedData, workload: workload, progress: status)
        let seed = try PeerProcess(name: "seed", executable: executable, data: seedData, logLevel: "warning")
        var receiver: PeerProcess?
        do {
            let seedControl = try await seed.connect()
            let target = try await seedControl.space(workload.space.hex)
            let node = try PeerProcess(name: "receiver", executable: executable, data: DataDirectory(workDirectory + "/receiver"),
                                       join: [seed.listen], extra: ["--snapshot-every", "0", "--snapshot-interval", "0"],
                                       logLevel: "warning")
            receiver = node
            let control = try await node.connect()
            while try await control.status().neighbours.isEmpty { try await Task.sleep(for: .milliseconds(20)) }
            let before = try await control.status().bytesIn
            let clock = ContinuousClock()
            let start = clock.now
            say("Replicating to a fresh node…")
            _ = try await control.joinSpace(JoinSpaceRequest(space: workload.space.hex, trust: "replay"))
            var space = try await control.space(workload.space.hex)
            while space.entries < target.entries {
                status("replicating: \(space.entries) of \(target.entries) entries, \(String(format: "%.1f", (clock.now - start).seconds)) s")
                try await Task.sleep(for: .milliseconds(10))
                space = try await control.space(workload.space.hex)
                guard (clock.now - start) < .seconds(1800) else { throw ControlError(.unavailable, "replication did not finish in 30 minutes") }
            }
            let seconds = (clock.now - start).seconds
            let bytes = try await control.status().bytesIn - before
            let result = Result(seconds: seconds, bytes: bytes, stateRootsEqual: space.stateRoot == target.stateRoot,
                                receiverPeakResidentMB: node.peakResidentMB, entries: entries)
            await node.stop()
            await seed.stop()
            return result
        } catch {
            await receiver?.stop(grace: .seconds(5))
            await seed.stop(grace: .seconds(5))
            throw error
        }
    }
}
