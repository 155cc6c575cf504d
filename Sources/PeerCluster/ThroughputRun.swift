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
        do {
            let target = try await seed.connect().space(workload.space.hex)
            say("Replicating to a fresh node…")
            let joiner = JoinRun(executable: executable, workDirectory: workDirectory, logLevel: "warning")
            let joined = try await joiner.run(name: "receiver", space: workload.space.hex, trust: "replay", contacts: [seed.listen],
                                              target: target, until: .entriesStored, say: say, status: status)
            await seed.stop()
            return Result(seconds: joined.readySeconds, bytes: joined.bytesReceived, stateRootsEqual: joined.stateRoot == target.stateRoot,
                          receiverPeakResidentMB: joined.peakResidentMB, entries: entries)
        } catch {
            await seed.stop(grace: .seconds(5))
            throw error
        }
    }
}
