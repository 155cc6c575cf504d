import ArgumentParser
import Foundation
import Logging
import SheafCrypto
import SheafFeedLog
import SheafFeeds
import SheafFiles
import SheafModels
import SheafReplica
import SheafWorkloads

/// W1 restart: open the space from its feeds alone, then from its newest
/// snapshot plus a 1% tail. Each open runs in a fresh child process, so its
/// time and peak memory are its own.
struct Restart: CheckedCommand {
    static let configuration = CommandConfiguration(
        commandName: "restart",
        abstract: "Restart a W1 space from history versus from a snapshot plus a tail.")

    @Option(help: "W1 entries.") var entries = 1_000_000
    @Option(help: "Percent of entries written after the snapshot.") var tailPercent = 1.0
    @Option(help: "W1 seed.") var seed: UInt64 = 1
    @Option(help: "Directory to build the space in (default: temporary).") var directory: String?
    @Option(help: "Timed opens per path; the median is reported.") var runs = 3

    func runMeasured() throws {
        let temporary = TemporaryDirectory(prefix: "sheaf-bench-restart")
        let dir = directory ?? temporary.path
        let tailStart = Int(Double(entries) * (1 - tailPercent / 100))
        // Batches no larger than half the tail, so small runs have a tail too
        // (at 1M entries this is W1's usual 1000).
        let w1 = W1(entries: entries, seed: seed, batchSize: min(1000, max(1, (entries - tailStart) / 2)))

        // 1. History up to the snapshot point, straight into the feed logs.
        progress("restart: writing \(entries) W1 entries (\(w1.writers) writers, \(w1.objects) objects)")
        var tail: [VerifiedBatch] = []
        do {
            let store = try FeedStore(directory: dir, options: .init(durability: .none))
            var written = 0
            try w1.forEachBatch { batch in
                if written >= tailStart && batch.feed != w1.space { tail.append(batch); return true }
                try store.log(batch.feed).append(batch)
                if batch.feed != w1.space { written += batch.count }
                return true
            }
            store.close()
        }

        // 2. A snapshot at that point, taken by the replica itself.
        progress("restart: replaying \(tailStart) entries once to take the snapshot")
        let options = ReplicaOptions(durability: .none, snapshotEveryEntries: nil)
        let summary = try blocking {
            let replica = try await Replica<ObjectStore>.open(directory: dir, space: w1.space, identity: w1.genesis,
                                                              options: options, logger: Logger(label: "bench"))
            let summary = try await replica.snapshotNow()
            await replica.close()
            return summary
        }

        // 3. The tail after the snapshot.
        do {
            let store = try FeedStore(directory: dir, options: .init(durability: .none))
            for batch in tail { try store.log(batch.feed).append(batch) }
            store.close()
        }
        let historyBytes = try directorySize(Path.join(dir, "feeds"))

        // 4. Open from the feeds alone: the snapshots are moved aside.
        progress("restart: opening from the feeds alone (child process)")
        let snapshots = Path.join(dir, "snapshots")
        let aside = Path.join(dir, "snapshots.aside")
        try Directory.rename(snapshots, to: aside)
        let replay = try median((0..<max(1, runs)).map { _ in try runChild(["restart-open", "--directory", dir, "--seed", String(seed)]) })
        try Directory.removeTree(snapshots)
        try Directory.rename(aside, to: snapshots)

        // 5. Open from the snapshot plus the tail.
        progress("restart: opening from the snapshot plus the \(tailPercent)% tail (child process)")
        let fromSnapshot = try median((0..<max(1, runs)).map { _ in try runChild(["restart-open", "--directory", dir, "--seed", String(seed)]) })
        guard fromSnapshot.replayed > 0 || tailStart == entries else { throw ValidationError("the tail was empty") }
        guard fromSnapshot.sourceIsSnapshot else {
            throw ValidationError("the snapshot was not used: \(fromSnapshot.source)")
        }
        guard replay.root == fromSnapshot.root else {
            throw ValidationError("state roots differ: replay \(replay.root), snapshot \(fromSnapshot.root)")
        }
        guard replay.delivered == UInt64(entries + w1.writers), fromSnapshot.delivered == replay.delivered else {
            throw ValidationError("delivered \(replay.delivered) / \(fromSnapshot.delivered) entries, expected \(entries + w1.writers)")
        }

        progress("restart: replay \(String(format: "%.3f", replay.seconds)) s, snapshot \(String(format: "%.3f", fromSnapshot.seconds)) s, root \(replay.root.prefix(16))")
        var report = Report(bench: "restart")
        report.add("workload", "W1")
        report.add("entries", entries)
        report.add("runs", max(1, runs))
        report.add("history_bytes", Int(historyBytes))
        report.add("snapshot_bytes", Int(summary.manifest.compressedBytes) + summary.manifest.encoded.count)
        report.add("state_raw_bytes", Int(summary.manifest.rawBytes))
        report.add("replay_s", replay.seconds)
        report.add("snapshot_s", fromSnapshot.seconds)
        report.add("speedup", replay.seconds / fromSnapshot.seconds)
        report.add("snapshot_load_s", fromSnapshot.loadSeconds)
        report.add("snapshot_tail_s", fromSnapshot.tailSeconds)
        report.add("snapshot_root_s", fromSnapshot.rootSeconds)
        report.add("tail_entries", fromSnapshot.replayed)
        report.add("state_roots_equal", true)
        report.add("peak_rss_mb", fromSnapshot.peakRSS)
        report.add("peak_rss_mb_replay", replay.peakRSS)
        report.print()
    }

    /// The run with the median time (all runs must agree on the root).
    private func median(_ results: [OpenResult]) throws -> OpenResult {
        guard Set(results.map(\.root)).count == 1 else { throw ValidationError("runs disagree on the state root") }
        return results.sorted { $0.seconds < $1.seconds }[results.count / 2]
    }

    struct OpenResult {
        var seconds: Double
        var root: String
        var delivered: UInt64
        var replayed: Int
        var peakRSS: Double
        var source: String
        /// The open's phases: loading the snapshot, replaying the tail, the state root.
        var loadSeconds: Double
        var tailSeconds: Double
        var rootSeconds: Double
    }

    private func runChild(_ arguments: [String]) throws -> OpenResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe")
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0,
              let line = String(decoding: data, as: UTF8.self).split(separator: "\n").last,
              let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
              let seconds = object["seconds"] as? Double, let root = object["root"] as? String,
              let delivered = object["delivered"] as? Int, let replayed = object["replayed"] as? Int,
              let rss = object["peak_rss_mb"] as? Double, let source = object["source"] as? String,
              let load = object["load_s"] as? Double, let tail = object["replay_s"] as? Double,
              let rootSeconds = object["root_s"] as? Double
        else { throw ValidationError("child \(arguments.joined(separator: " ")) failed") }
        return OpenResult(seconds: seconds, root: root, delivered: UInt64(delivered), replayed: replayed, peakRSS: rss, source: source,
                          loadSeconds: load, tailSeconds: tail, rootSeconds: rootSeconds)
    }
}

extension Restart.OpenResult {
    var sourceIsSnapshot: Bool { source == "snapshot" }
}

/// Child of `restart`: opens the space once, computes its verified state root.
///
/// Async all the way: blocking a thread of Swift's cooperative pool (one per
/// core) while the open runs would leave it one core short, unlike a daemon.
struct RestartOpen: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "restart-open", abstract: "Internal: one timed open.",
                                                    shouldDisplay: false)

    @Option var directory: String
    @Option var seed: UInt64 = 1

    func run() async throws {
        try checkKnownAnswers()
        let w1 = W1(seed: seed)
        let clock = ContinuousClock()
        let start = clock.now
        let replica = try await Replica<ObjectStore>.open(
            directory: directory, space: w1.space, identity: w1.genesis,
            options: ReplicaOptions(durability: .none, snapshotEveryEntries: nil), logger: Logger(label: "bench"))
        let opened = clock.now
        let root = try await replica.stateRoot()
        let elapsed = seconds(clock.now - start)
        let rootSeconds = seconds(clock.now - opened)
        let startup = await replica.startup
        let delivered = await replica.deliveredCount
        await replica.close()
        let source: String = if case .snapshot = startup.source { "snapshot" } else { "replay" }
        var report = Report(bench: "restart-open")
        report.add("seconds", elapsed)
        report.add("root", root.hex)
        report.add("delivered", Int(delivered))
        report.add("replayed", startup.replayed)
        report.add("source", source)
        report.add("load_s", seconds(startup.loadDuration))
        report.add("replay_s", seconds(startup.replayDuration))
        report.add("root_s", rootSeconds)
        report.add("peak_rss_mb", peakRSSMegabytes())
        report.print()
    }
}

/// Runs async work from a synchronous command and waits for it.
func blocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let box = ResultBox<T>()
    let done = DispatchSemaphore(value: 0)
    Task {
        do { box.set(.success(try await body())) } catch { box.set(.failure(error)) }
        done.signal()
    }
    done.wait()
    return try box.get()
}

final class ResultBox<T: Sendable>: @unchecked Sendable {
    private var result: Result<T, Error>?
    private let lock = NSLock()
    func set(_ r: Result<T, Error>) { lock.lock(); result = r; lock.unlock() }
    func get() throws -> T {
        lock.lock(); defer { lock.unlock() }
        guard let result else { throw ValidationError("no result") }
        return try result.get()
    }
}

/// Bytes of every file under `path`.
func directorySize(_ path: String) throws -> UInt64 {
    var total: UInt64 = 0
    for name in try Directory.list(path) {
        let child = Path.join(path, name)
        if Directory.isDirectory(child) {
            total += try directorySize(child)
        } else {
            let fd = try FileDescriptor.open(child, .readOnly)
            total += try fd.size()
            fd.close()
        }
    }
    return total
}
