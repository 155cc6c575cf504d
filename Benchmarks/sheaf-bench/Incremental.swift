import ArgumentParser
import Logging
import SheafCrypto
import SheafModels
import SheafReplica
import SheafWorkloads

/// A state of many objects, one full snapshot, then a few changed objects
/// and a second snapshot: what the second costs, and what snapshots cost a
/// writer appending meanwhile.
struct Incremental: CheckedCommand {
    static let configuration = CommandConfiguration(
        commandName: "incremental",
        abstract: "Full versus incremental snapshot of a large object store, and the append stall while writing.",
        discussion: """
            Objects are W1-shaped (fields f0… with 64-character values). While each snapshot is written, \
            a writer keeps appending single-entry batches (durability none, so the figure is what the \
            snapshot itself costs it) to the objects that will count as changed.
            """)

    @Option(help: "Objects in the state.") var objects = 1_000_000
    @Option(help: "Objects changed between the two snapshots.") var changed = 1_000
    @Option(help: "Fields per object.") var fields = 8
    @Option(help: "Characters per field value.") var valueLength = 64
    @Option(help: "Seed.") var seed: UInt64 = 7

    func validate() throws {
        guard objects > 0, changed > 0, changed <= objects, fields > 0, fields <= 64 else {
            throw ValidationError("need 0 < --changed ≤ --objects and 1 ≤ --fields ≤ 64")
        }
    }

    func runMeasured() throws {
        let temporary = TemporaryDirectory(prefix: "sheaf-bench-incremental")
        let objects = self.objects, changed = self.changed, fields = self.fields, valueLength = self.valueLength, seed = self.seed
        let path = temporary.path
        let result = try blocking { () async throws -> [String: Double] in
            var rng = SplitMix64(seed: seed)
            let identity = KeyPair(seed: rng.bytes(32))!
            let replica = try await Replica<ObjectStore>.open(
                directory: path, space: identity.publicKey, identity: identity,
                options: ReplicaOptions(durability: .none, snapshotEveryEntries: nil, snapshotsKept: 2),
                logger: Logger(label: "bench"))

            progress("incremental: building \(objects) objects with \(fields) fields")
            func put(_ id: Int, _ rng: inout SplitMix64) -> [UInt8] {
                var values: [String: FieldValue] = [:]
                for f in 0..<fields { values["f\(f)"] = .string(String(decoding: rng.alphanumeric(valueLength), as: UTF8.self)) }
                return ObjectStore.Op.put(id: "obj-\(id)", fields: values).encoded
            }
            var next = 0
            while next < objects {
                let n = min(1000, objects - next)
                try await replica.append((0..<n).map { put(next + $0, &rng) })
                next += n
                if next % max(1, objects / 10) < n { progress("  \(next) objects") }
            }
            let changedIDs = Array(Set((0..<changed * 4).map { _ in rng.below(objects) }).prefix(changed)).sorted()
            precondition(changedIDs.count == changed, "could not draw \(changed) distinct objects")

            // Appends racing a snapshot: each one timed.
            let stall = StallMeter()
            func appendWhile(_ work: @escaping @Sendable () async throws -> SnapshotSummary) async throws -> SnapshotSummary {
                let task = Task { try await work() }
                var writerRNG = SplitMix64(seed: seed &+ 99)
                var i = 0
                while true {
                    let op = put(changedIDs[i % changedIDs.count], &writerRNG)
                    let clock = ContinuousClock()
                    let start = clock.now
                    try await replica.append(op)
                    stall.record(seconds(clock.now - start))
                    i += 1
                    if await !replica.isSnapshotting && i > 1 { break }
                }
                stall.appends += i
                return try await task.value
            }

            progress("incremental: full snapshot")
            let full = try await appendWhile { try await replica.snapshotNow() }
            // Every chosen object changes at least once before the second snapshot.
            var changeRNG = SplitMix64(seed: seed &+ 1)
            try await replica.append(changedIDs.map { put($0, &changeRNG) })

            progress("incremental: incremental snapshot after \(changed) objects changed")
            let incremental = try await appendWhile { try await replica.snapshotNow() }

            let incrementalRoot = try await replica.stateRoot()
            let fullRoot = try await replica.stateRoot(recomputeFully: true)
            await replica.close()
            guard incrementalRoot == fullRoot else { throw ValidationError("incremental and full state roots differ") }
            progress("incremental: full \(full.bytesWritten) bytes in \(seconds(full.duration)) s, incremental \(incremental.bytesWritten) bytes in \(seconds(incremental.duration)) s (\(incremental.leavesEncoded) leaves encoded)")
            return [
                "full_bytes": Double(Int(full.manifest.compressedBytes) + full.manifest.encoded.count),
                "full_s": seconds(full.duration),
                "incremental_bytes": Double(incremental.bytesWritten),
                "incremental_s": seconds(incremental.duration),
                "leaves_total": Double(incremental.manifest.leafCount),
                "leaves_encoded": Double(incremental.leavesEncoded),
                "max_append_stall_ms": stall.max * 1000,
                "appends_during_snapshots": Double(stall.appends),
            ]
        }

        var report = Report(bench: "incremental")
        report.add("objects", objects)
        report.add("changed", changed)
        report.add("full_bytes", Int(result["full_bytes"] ?? 0))
        report.add("full_s", result["full_s"] ?? 0)
        report.add("incremental_bytes", Int(result["incremental_bytes"] ?? 0))
        report.add("incremental_s", result["incremental_s"] ?? 0)
        report.add("incremental_percent", 100 * (result["incremental_bytes"] ?? 0) / max(1, result["full_bytes"] ?? 1))
        report.add("leaves_encoded", Int(result["leaves_encoded"] ?? 0))
        report.add("leaves_total", Int(result["leaves_total"] ?? 0))
        report.add("max_append_stall_ms", result["max_append_stall_ms"] ?? 0)
        report.add("appends_during_snapshots", Int(result["appends_during_snapshots"] ?? 0))
        report.add("roots_equal", true)
        report.add("peak_rss_mb", peakRSSMegabytes())
        report.print()
    }
}

/// The longest single append seen.
final class StallMeter: @unchecked Sendable {
    var max = 0.0
    var appends = 0
    func record(_ seconds: Double) { if seconds > max { max = seconds } }
}
