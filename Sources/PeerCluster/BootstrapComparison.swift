import Foundation
import PeerCLI
import SheafControl
import SheafDaemon
import SheafProtocol
import SheafRandom
import SheafWorkloads

/// The comparison the demo and `sheaf-bench net-bootstrap` make: a space
/// with history on running nodes; one fresh node joins by snapshot, another
/// by replay; how long each takes to be caught up, and what it downloads.
public struct BootstrapComparison: Sendable {
    public struct Options: Sendable {
        /// Model entries in the space.
        public var entries: Int
        /// Nodes holding the space. With `seedOffline` the first holds W1's
        /// history from the start; otherwise every node writes through the API.
        public var nodes: Int
        public var seedOffline: Bool
        public var executable: String
        public var workDirectory: String
        public var batch = 2_000
        public var logLevel = "warning"
        /// Fresh joiners of each kind, alternating; the median of each is reported.
        public var runs = 1

        public init(entries: Int, nodes: Int, seedOffline: Bool, executable: String, workDirectory: String) {
            self.entries = entries
            self.nodes = nodes
            self.seedOffline = seedOffline
            self.executable = executable
            self.workDirectory = workDirectory
        }
    }

    public struct Joined: Codable, Sendable {
        /// Seconds from the join request until queryable, and until caught up.
        public var queryableSeconds: Double
        public var readySeconds: Double
        public var bytesReceived: UInt64
        public var stateRoot: String
        public var peakResidentMB: Double?
    }

    public struct Result: Codable, Sendable {
        public var entries: Int
        public var snapshot: Joined
        public var replay: Joined
        public var stateRoot: String
        public var snapshotCompressedBytes: UInt64
        public var seedPeakResidentMB: Double?

        public var speedup: Double { snapshot.readySeconds > 0 ? replay.readySeconds / snapshot.readySeconds : 0 }
        public var stateRootsEqual: Bool { snapshot.stateRoot == stateRoot && replay.stateRoot == stateRoot }

        /// The last line the demo and the benchmark print.
        public var json: String {
            func f(_ x: Double) -> String { String(format: "%.3f", x) }
            return "{\"entries\":\(entries),\"ready_s_snapshot\":\(f(snapshot.readySeconds)),\"ready_s_replay\":\(f(replay.readySeconds)),"
                + "\"speedup\":\(String(format: "%.2f", speedup)),\"bytes_snapshot\":\(snapshot.bytesReceived),"
                + "\"bytes_replay\":\(replay.bytesReceived),\"state_roots_equal\":\(stateRootsEqual),"
                + "\"queryable_s_snapshot\":\(f(snapshot.queryableSeconds)),\"queryable_s_replay\":\(f(replay.queryableSeconds)),"
                + "\"snapshot_compressed_bytes\":\(snapshotCompressedBytes),"
                + "\"seed_peak_rss_mb\":\(seedPeakResidentMB.map { String(format: "%.1f", $0) } ?? "null")}"
        }
    }

    public let options: Options
    public let say: @Sendable (String) -> Void
    /// Redraws one status line in place (a terminal) or prints it now and then.
    public let status: @Sendable (String) -> Void

    public init(options: Options, say: @escaping @Sendable (String) -> Void, status: @escaping @Sendable (String) -> Void) {
        self.options = options
        self.say = say
        self.status = status
    }

    public func run() async throws -> Result {
        var nodes: [PeerProcess] = []
        do {
            let result = try await run(cluster: &nodes)
            for node in nodes { await node.stop() }
            return result
        } catch {
            for node in nodes { await node.stop(grace: .seconds(5)) }
            throw error
        }
    }

    private func run(cluster nodes: inout [PeerProcess]) async throws -> Result {
        let space: String
        if options.seedOffline {
            let seedData = DataDirectory(options.workDirectory + "/seed")
            try seedData.initialize()
            let workload = W1(entries: options.entries)
            say("Seeding a W1 space of \(options.entries) entries (\(workload.writers) writers) on the seed node…")
            try await W1Seeder.seed(seedData, workload: workload, progress: status)
            nodes.append(try PeerProcess(name: "seed", executable: options.executable, data: seedData, logLevel: options.logLevel))
            try await nodes[0].connect()
            space = workload.space.hex
        } else {
            space = try await buildCluster(&nodes)
        }
        let target = try await nodes[0].control().space(space)
        say("Space \(space.prefix(12))… holds \(target.entries) entries; root \(target.stateRoot.prefix(16))…; newest snapshot "
            + "\(target.newestSnapshot.map { "\($0.entries) entries, \(Format.bytes($0.compressedBytes))" } ?? "none")")
        let contacts = nodes.map(\.listen)

        let joiner = JoinRun(executable: options.executable, workDirectory: options.workDirectory, logLevel: options.logLevel)
        var snapshots: [Joined] = []
        var replays: [Joined] = []
        let runs = max(1, options.runs)
        for run in 1...runs {
            let suffix = runs > 1 ? "-\(run)" : ""
            let of = runs > 1 ? " (run \(run) of \(runs))" : ""
            say("Starting a fresh node that joins by snapshot\(of)…")
            snapshots.append(try await joiner.run(name: "joiner-snapshot" + suffix, space: space, trust: "member", contacts: contacts,
                                                  target: target, until: .rootVerified, say: say, status: status))
            say("Starting a fresh node that joins by replaying every feed\(of)…")
            replays.append(try await joiner.run(name: "joiner-replay" + suffix, space: space, trust: "replay", contacts: contacts,
                                                target: target, until: .rootVerified, say: say, status: status))
        }
        let bySnapshot = Self.median(snapshots)
        let byReplay = Self.median(replays)
        return Result(entries: options.entries, snapshot: bySnapshot, replay: byReplay, stateRoot: target.stateRoot,
                      snapshotCompressedBytes: target.newestSnapshot?.compressedBytes ?? 0, seedPeakResidentMB: nodes[0].peakResidentMB)
    }

    /// The join with the median time to caught up (the upper one of two middles).
    static func median(_ joins: [Joined]) -> Joined {
        let sorted = joins.sorted { $0.readySeconds < $1.readySeconds }
        return sorted[sorted.count / 2]
    }

    /// Starts the cluster, creates the space, admits every node, writes a
    /// W1-shaped workload through the API, snapshots, then writes a 1% tail.
    private func buildCluster(_ nodes: inout [PeerProcess]) async throws -> String {
        say("Starting \(options.nodes) nodes on loopback…")
        for index in 0..<options.nodes {
            let data = DataDirectory(options.workDirectory + "/node\(index)")
            let node = try PeerProcess(name: "node\(index)", executable: options.executable, data: data,
                                       join: nodes.first.map { [$0.listen] } ?? [], logLevel: options.logLevel)
            try await node.connect()
            nodes.append(node)
        }
        let creator = try nodes[0].control()
        let space = try await creator.createSpace().space
        for node in nodes.dropFirst() {
            let control = try node.control()
            _ = try await control.joinSpace(JoinSpaceRequest(space: space, trust: "member"))
            _ = try await creator.admit(try await control.status().node, to: space)
        }
        for node in nodes {
            try await poll(until: "\(node.name) may write") {
                let status = try await node.control().space(space)
                return status.writer && status.ready
            }
        }

        let head = options.entries - options.entries / 100
        try await write(range: 0..<head, to: space, on: nodes)
        try await converge(space, nodes)
        say("Taking snapshots on every node…")
        for node in nodes { _ = try await node.control().snapshotNow(in: space) }
        // Each node audits the others' snapshots (re-deriving their roots from
        // its own history) and attests the ones that hold: let the audits run
        // (each node has attested one) so the joiners meet a settled cluster.
        do {
            try await poll(until: "the nodes attest each other's snapshots", timeout: .seconds(60)) {
                for node in nodes {
                    guard let newest = try await node.control().space(space).newestSnapshot, newest.attestations >= min(1, nodes.count - 1) else { return false }
                }
                return true
            }
        } catch {
            say("Not every snapshot was attested within a minute; going on")
        }
        try await write(range: head..<options.entries, to: space, on: nodes)
        try await converge(space, nodes)
        return space
    }

    /// W1-shaped puts (one field of one of 10,000 objects to a 64-character
    /// value), spread over the nodes, in batches.
    private func write(range: Range<Int>, to space: String, on nodes: [PeerProcess]) async throws {
        let clock = ContinuousClock()
        let start = clock.now
        let batch = options.batch
        let status = self.status
        try await withThrowingTaskGroup(of: Int.self) { group in
            for (index, node) in nodes.enumerated() {
                let control = try node.control()
                let mine = stride(from: range.lowerBound + index * batch, to: range.upperBound, by: batch * nodes.count)
                group.addTask {
                    var written = 0
                    for first in mine {
                        let puts = (first..<min(first + batch, range.upperBound)).map(Self.put)
                        _ = try await control.putBatch(PutBatchRequest(puts: puts), in: space)
                        written += puts.count
                    }
                    return written
                }
            }
            var total = 0
            for try await written in group {
                total += written
                status("writing: \(total) of \(range.count) entries")
            }
        }
        let seconds = (clock.now - start).seconds
        say("Wrote \(range.count) entries in \(String(format: "%.1f", seconds)) s (\(Int(Double(range.count) / max(seconds, 0.001))) entries/s)")
    }

    /// Entry `n` of the workload: deterministic, W1's shape (see `SheafWorkloads.W1`).
    static func put(_ n: Int) -> PutBatchRequest.Put {
        var rng = SplitMix64(seed: UInt64(n) &* 0x9E37_79B9_7F4A_7C15 &+ 1)
        let value = String(decoding: rng.alphanumeric(64), as: UTF8.self)
        return PutBatchRequest.Put(id: "obj-\(rng.below(10_000))", fields: ["f\(rng.below(8))": .string(value)])
    }

    private func converge(_ space: String, _ nodes: [PeerProcess]) async throws {
        try await poll(until: "the nodes converge", timeout: .seconds(600)) {
            var roots = Set<String>()
            var entries = Set<UInt64>()
            for node in nodes {
                let status = try await node.control().space(space)
                roots.insert(status.stateRoot)
                entries.insert(status.entries)
            }
            status("converging: entries per node \(entries.sorted())")
            return roots.count == 1 && entries.count == 1
        }
    }
}
