import SheafCrypto
@testable import SheafFeedLog
import SheafFeeds
import SheafFiles
import SheafModels
@testable import SheafReplica
import Testing

/// Ingest writes a batch that continues its log on a helper thread while it
/// applies the batch; audits replay history off the actor, a window at a time.
@Suite struct IngestTests {
    /// A genesis writer holding `objects` objects written 10 per batch, and
    /// an empty replica of its space that will ingest them (identity `key + 1`).
    struct Pair {
        let space: PublicKey
        let targetKey: KeyPair
        let source: Replica<ObjectStore>
        let target: Replica<ObjectStore>

        init(_ dir: String, key: Int, objects: Int) async throws {
            let g = testKeyPair(key)
            space = g.publicKey
            targetKey = testKeyPair(key + 1)
            source = try await openReplica(ObjectStore.self, Path.join(dir, "g"), space: space, identity: g)
            try await fillObjects(source, count: objects, perBatch: 10)
            target = try await openReplica(ObjectStore.self, Path.join(dir, "t"), space: space, identity: targetKey)
        }

        func reopenTarget(_ dir: String) async throws -> Replica<ObjectStore> {
            try await openReplica(ObjectStore.self, Path.join(dir, "t"), space: space, identity: targetKey)
        }
    }

    /// Batches that continue the log are stored and applied alike, whichever
    /// thread wrote them: the ingesting replica ends with the writer's state
    /// and log, and reopening it gives the same state from disk.
    @Test func ingestedBatchesAreStoredAndApplied() async throws {
        try await withTemporaryDirectory { dir in
            let pair = try await Pair(dir, key: 700, objects: 300)
            let (g, source, target) = (pair.space, pair.source, pair.target)
            let total = try await source.storedLength(g)
            var after: UInt64 = 0
            while after < total {
                let batch = try await source.storedRange(g, after: after, through: min(total, after + 10))
                try await target.ingest(batch)
                after = batch.head.seq
            }
            #expect(try await target.storedLength(g) == total)
            #expect(await target.deliveredCount == total)
            let root = try await source.stateRoot()
            #expect(try await target.stateRoot() == root)
            await target.close()
            let reopened = try await pair.reopenTarget(dir)
            #expect(try await reopened.stateRoot() == root)
            await reopened.close()
            await source.close()
        }
    }

    /// A log write that fails leaves the state ahead of the log (the batch
    /// was applied meanwhile). The replica then refuses every call, so no
    /// snapshot claims history the disk lacks; reopening holds what the log holds.
    @Test func aFailedWriteStopsTheReplicaUntilReopened() async throws {
        try await withTemporaryDirectory { dir in
            let pair = try await Pair(dir, key: 710, objects: 20)
            let (g, source, target) = (pair.space, pair.source, pair.target)
            let first = try await source.storedRange(g, after: 0, through: 10)
            try await target.ingest(first)
            let held = first.head.seq
            // The log refuses the next write (as after an I/O error).
            try await target.feedLog(g).close()
            let next = try await source.storedRange(g, after: held, through: try await source.storedLength(g))
            let failed = await replicaErrorCode { try await target.ingest(next) }
            guard case .feedLog = failed else {
                Issue.record("a failed write must throw the log's error, got \(String(describing: failed))")
                return
            }
            // Stopped: reads and snapshots refuse too.
            guard case .feedLog = await replicaErrorCode({ _ = try await target.stateRoot() }) else {
                Issue.record("a replica whose write failed must refuse reads")
                return
            }
            guard case .feedLog = await replicaErrorCode({ _ = try await target.snapshotNow() }) else {
                Issue.record("a replica whose write failed must refuse snapshots")
                return
            }
            await target.close()
            let reopened = try await pair.reopenTarget(dir)
            #expect(try await reopened.storedLength(g) == held)
            #expect(await reopened.deliveredCount == held)
            try await reopened.ingest(next)
            #expect(try await reopened.stateRoot() == (try await source.stateRoot()))
            await reopened.close()
            await source.close()
        }
    }

    /// An audit reads history a window at a time: a frontier past several
    /// windows of two feeds whose entries depend on each other still
    /// re-derives the signed root, and one entry short does not.
    @Test func auditsReplayHistoryAcrossWindows() async throws {
        try await withTemporaryDirectory { dir in
            let space = try await TwoWriterSpace.make(dir, key: 720)
            let window = Int(Replica<ObjectStore>.auditWindow)
            // Interleaved writes, each batch after the other feed's last: causal links across feeds.
            for round in 0..<3 {
                try await fillObjects(space.genesis, count: window / 2 + 7, from: 10_000 * (round + 1), perBatch: 500)
                try await transfer(space.space, from: space.genesis, to: space.writer)
                try await fillObjects(space.writer, count: window / 3, from: 10_000 * (round + 1) + 5_000, perBatch: 500)
                try await transfer(space.w.publicKey, from: space.writer, to: space.genesis)
            }
            let manifest = try await space.writer.snapshotNow().manifest
            #expect(manifest.frontier.seq(of: space.space) > UInt64(window))
            #expect(try await space.genesis.audit(manifest) == .consistent)
            #expect(try await space.writer.audit(manifest) == .consistent)
            await space.close()
        }
    }
}
