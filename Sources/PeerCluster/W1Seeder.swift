import Logging
import SheafDaemon
import SheafModels
import SheafReplica
import SheafWorkloads

/// Fills a node's data directory with W1 history before its daemon starts,
/// as if the node had created the space and received every writer's
/// entries: a snapshot after all but the tail, the tail after it.
public enum W1Seeder {
    /// Returns the entries written (W1's model entries plus the admissions).
    @discardableResult
    public static func seed(_ data: DataDirectory, workload: W1, tailPercent: Int = 1, progress: (String) -> Void = { _ in }) async throws -> Int {
        let directory = try data.prepareCreatedSpace(genesis: workload.genesis)
        let replica = try await Replica<ObjectStore>.open(directory: directory, space: workload.space, identity: workload.genesis,
                                                          options: ReplicaOptions(durability: .none, snapshotEveryEntries: nil),
                                                          logger: Logger(label: "sheaf.seed", factory: { _ in SwiftLogNoOpLogHandler() }))
        let snapshotAt = workload.entries - workload.entries * tailPercent / 100
        var written = 0
        var modelEntries = 0
        var snapshotted = false
        var batches = try workload.batches()
        while let batch = try batches.next() {
            try await replica.ingest(batch)
            written += batch.count
            if batch.feed != workload.space { modelEntries += batch.count }
            if modelEntries % 100_000 < batch.count { progress("seeding: \(modelEntries) of \(workload.entries) W1 entries") }
            if !snapshotted, modelEntries >= snapshotAt {
                _ = try await replica.snapshotNow()
                snapshotted = true
            }
        }
        if !snapshotted { _ = try await replica.snapshotNow() }
        await replica.close()
        return written
    }
}
