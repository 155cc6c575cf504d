import SheafCrypto
import SheafFeeds
import SheafFiles
import SheafModels
@testable import SheafReplica
import SheafSnapshots
import Testing

/// Fills an object store with `count` objects, `perBatch` puts per append.
func fillObjects<M>(_ replica: Replica<M>, count: Int, from start: Int = 0, perBatch: Int = 100,
                    value: (Int) -> String = { "value-\($0)" }) async throws {
    var i = start
    while i < start + count {
        let n = min(perBatch, start + count - i)
        try await replica.append((i..<(i + n)).map { put("obj-\($0)", ["v": .string(value($0)), "n": .int(Int64($0))]) })
        i += n
    }
}

/// Item 4: taking snapshots.
@Suite struct SnapshotTests {
    @Test func snapshotNowWritesAManifestWithTheStateRoot() async throws {
        try await withTemporaryDirectory { dir in
            let g = testKeyPair(80)
            let replica = try await openReplica(ObjectStore.self, dir, space: g.publicKey, identity: g)
            #expect(replica.storedSnapshots.isEmpty)
            try await fillObjects(replica, count: 300)
            let summary = try await replica.snapshotNow()
            let manifest = summary.manifest
            #expect(replica.storedSnapshots.map(\.id) == [manifest.id])
            #expect(RawFile.exists(Path.join(dir, "snapshots/manifests/\(manifest.id.hex).manifest")))
            #expect(manifest.space == g.publicKey)
            #expect(manifest.model == ObjectStore.descriptor.name)
            #expect(manifest.modelVersion == ObjectStore.descriptor.version)
            #expect(manifest.content == .records)
            #expect(manifest.signer == g.publicKey)
            try manifest.verifySignature()
            #expect(manifest.recordCount == 300)
            #expect(manifest.frontier == (try await replica.frontier()))
            #expect(manifest.frontier.entryCount == 300)
            #expect(manifest.stateRoot == (try await replica.stateRoot()))
            #expect(manifest.stateRoot == (try await replica.stateRoot(recomputeFully: true)))
            #expect(summary.newChunks > 0)
            #expect(summary.bytesWritten > 0)
            #expect(summary.leavesEncoded == Int(manifest.leafCount))

            // The state root moves with the state, and both ways of computing it agree.
            try await replica.append(put("obj-7", ["v": .string("changed")]))
            let moved = try await replica.stateRoot()
            #expect(moved != manifest.stateRoot)
            #expect(moved == (try await replica.stateRoot(recomputeFully: true)))
            await replica.close()
        }
    }

    @Test func incrementalSnapshotRewritesOnlyWhatChanged() async throws {
        try await withTemporaryDirectory { dir in
            let g = testKeyPair(81)
            let replica = try await openReplica(ObjectStore.self, dir, space: g.publicKey, identity: g)
            try await fillObjects(replica, count: 2000)
            let first = try await replica.snapshotNow()
            #expect(first.leavesEncoded == Int(first.manifest.leafCount))
            #expect(first.manifest.leafCount > 50)

            try await replica.append([put("obj-5", ["v": .string("x")]), put("obj-1234", ["w": .bool(true)]),
                                      ObjectStore.Op.delete(id: "obj-1999").encoded])
            let second = try await replica.snapshotNow()
            #expect(second.manifest.frontier.entryCount == 2003)
            #expect(second.leavesEncoded >= 1)
            #expect(second.leavesEncoded <= 9)
            #expect(second.bytesWritten * 10 < first.bytesWritten)
            #expect(second.newChunks < first.newChunks)
            #expect(second.manifest.stateRoot == (try await replica.stateRoot(recomputeFully: true)))
            #expect(replica.storedSnapshots.map(\.id) == [second.manifest.id, first.manifest.id])

            // Nothing changed: nothing new but the manifest.
            let third = try await replica.snapshotNow()
            #expect(third.leavesEncoded == 0)
            #expect(third.newChunks == 0)
            #expect(third.manifest.stateRoot == second.manifest.stateRoot)
            await replica.close()

            // The incremental snapshot loads on its own.
            let reopened = try await openReplica(ObjectStore.self, dir, space: g.publicKey, identity: g)
            #expect(await reopened.startup.source.isSnapshot)
            #expect(await reopened.startup.rejected.isEmpty)
            #expect(try await reopened.read { $0.object("obj-5")?.fields["v"] } == .string("x"))
            #expect(try await reopened.read { $0.liveCount } == 1999)
            #expect(try await reopened.stateRoot() == second.manifest.stateRoot)
            await reopened.close()
        }
    }

    @Test func automaticSnapshotsEveryNEntries() async throws {
        try await withTemporaryDirectory { dir in
            let g = testKeyPair(82)
            let replica = try await openReplica(ObjectStore.self, dir, space: g.publicKey, identity: g,
                                                options: fastOptions(snapshotEveryEntries: 50, snapshotsKept: 3))
            for i in 0..<40 { try await replica.append(put("o\(i)", ["v": .int(Int64(i))])) }
            try await Task.sleep(for: .milliseconds(50))
            #expect(replica.storedSnapshots.isEmpty)
            for i in 40..<130 { try await replica.append(put("o\(i)", ["v": .int(Int64(i))])) }
            #expect(await eventually { replica.storedSnapshots.count >= 1 })
            let first = try #require(replica.storedSnapshots.first).frontier.entryCount
            #expect(first >= 50)
            // Another N entries, another snapshot.
            for i in 130..<190 { try await replica.append(put("o\(i)", ["v": .int(Int64(i))])) }
            #expect(await eventually { (replica.storedSnapshots.first?.frontier.entryCount ?? 0) >= first + 50 })
            let snapshots = replica.storedSnapshots
            #expect(snapshots.count >= 2 && snapshots.count <= 3)
            // Each automatic snapshot is a consistent one: reopening from it gives the live state.
            while await replica.isSnapshotting { try await Task.sleep(for: .milliseconds(5)) }
            let root = try await replica.stateRoot()
            await replica.close()
            let reopened = try await openReplica(ObjectStore.self, dir, space: g.publicKey, identity: g)
            let startup = await reopened.startup
            #expect(startup.source.isSnapshot)
            #expect(startup.rejected.isEmpty)
            #expect(try await reopened.stateRoot() == root)
            #expect(try await reopened.read { $0.liveCount } == 190)
            await reopened.close()
        }
    }

    @Test func automaticSnapshotsOnATimer() async throws {
        try await withTemporaryDirectory { dir in
            let g = testKeyPair(83)
            let replica = try await openReplica(ObjectStore.self, dir, space: g.publicKey, identity: g,
                                                options: fastOptions(snapshotInterval: .milliseconds(30)))
            try await replica.append(put("a", ["v": .int(1)]))
            #expect(await eventually { replica.storedSnapshots.first?.frontier.entryCount == 1 })
            try await replica.append(put("b", ["v": .int(2)]))
            #expect(await eventually { replica.storedSnapshots.first?.frontier.entryCount == 2 })
            let newest = replica.storedSnapshots.first?.id
            // Nothing new delivered: no new snapshot.
            try await Task.sleep(for: .milliseconds(200))
            #expect(replica.storedSnapshots.first?.id == newest)
            await replica.close()
        }
    }

    @Test func snapshotsKeptIsRespected() async throws {
        try await withTemporaryDirectory { dir in
            let g = testKeyPair(84)
            let replica = try await openReplica(ObjectStore.self, dir, space: g.publicKey, identity: g,
                                                options: fastOptions(snapshotsKept: 2))
            var ids: [Hash] = []
            for round in 0..<5 {
                try await fillObjects(replica, count: 50, from: round * 50)
                ids.append(try await replica.snapshotNow().manifest.id)
                #expect(replica.storedSnapshots.count == min(round + 1, 2))
            }
            #expect(replica.storedSnapshots.map(\.id) == [ids[4], ids[3]])
            let manifestFiles = try Directory.list(Path.join(dir, "snapshots/manifests")).filter { $0.hasSuffix(".manifest") }
            #expect(Set(manifestFiles) == Set([ids[4], ids[3]].map { $0.hex + ".manifest" }))
            let root = try await replica.stateRoot()
            await replica.close()

            // What is left still loads: the newest, and (alone) the one before it.
            var reopened = try await openReplica(ObjectStore.self, dir, space: g.publicKey, identity: g)
            #expect(await reopened.startup.source == .snapshot(id: ids[4].hex, entries: 250))
            #expect(try await reopened.stateRoot() == root)
            await reopened.close()
            try RawFile.remove(Path.join(dir, "snapshots/manifests/\(ids[4].hex).manifest"))
            reopened = try await openReplica(ObjectStore.self, dir, space: g.publicKey, identity: g)
            #expect(await reopened.startup.source == .snapshot(id: ids[3].hex, entries: 200))
            #expect(await reopened.startup.rejected.isEmpty)
            #expect(await reopened.startup.replayed == 50)
            #expect(try await reopened.stateRoot() == root)
            await reopened.close()
        }
    }

    /// Snapshots asked for while one runs are taken one after another, each
    /// building on the one before (never two jobs at once on a stale base).
    @Test func concurrentSnapshotRequestsRunOneAtATime() async throws {
        try await withTemporaryDirectory { dir in
            let g = testKeyPair(86)
            let replica = try await openReplica(ObjectStore.self, dir, space: g.publicKey, identity: g,
                                                options: fastOptions(snapshotsKept: 1))
            try await fillObjects(replica, count: 3000, perBatch: 500)
            try await replica.snapshotNow()
            try await replica.append((0..<50).map { put("obj-\($0 * 60)", ["v": .string("a")]) })
            let first = Task { try await replica.snapshotNow() }
            while !(await replica.isSnapshotting) && replica.storedSnapshots.first?.frontier.entryCount != 3050 {
                await Task.yield()
            }
            try await replica.append((0..<50).map { put("obj-\($0 * 60 + 1)", ["v": .string("b")]) })
            let second = Task { try await replica.snapshotNow() }
            let third = Task { try await replica.snapshotNow() }
            let summaries = [try await first.value, try await second.value, try await third.value]
            #expect(summaries[0].manifest.frontier.entryCount == 3050)
            #expect(summaries[1].manifest.frontier.entryCount == 3100)
            #expect(summaries[2].manifest.frontier.entryCount == 3100)
            // Whichever of the last two ran second found nothing left to encode.
            #expect(min(summaries[1].leavesEncoded, summaries[2].leavesEncoded) == 0)
            let root = try await replica.stateRoot()
            await replica.close()
            let reopened = try await openReplica(ObjectStore.self, dir, space: g.publicKey, identity: g)
            #expect(await reopened.startup.source.isSnapshot)
            #expect(await reopened.startup.rejected.isEmpty)
            #expect(await reopened.startup.replayed == 0)
            #expect(try await reopened.stateRoot() == root)
            await reopened.close()
        }
    }

    /// The count policy takes one snapshot per N entries, not one per
    /// delivery while the first is being scheduled.
    @Test func countPolicyDoesNotPileUpSnapshots() async throws {
        try await withTemporaryDirectory { dir in
            let g = testKeyPair(87)
            let replica = try await openReplica(ObjectStore.self, dir, space: g.publicKey, identity: g,
                                                options: fastOptions(snapshotEveryEntries: 20, snapshotsKept: 1000))
            for i in 0..<200 { try await replica.append(put("o\(i)", ["v": .int(Int64(i))])) }
            #expect(await eventually { replica.storedSnapshots.count >= 1 })
            // Let every scheduled snapshot finish.
            var stable = 0
            var last = -1
            while stable < 20 {
                try await Task.sleep(for: .milliseconds(10))
                let now = replica.storedSnapshots.count
                if now == last, !(await replica.isSnapshotting) { stable += 1 } else { stable = 0 }
                last = now
            }
            let snapshots = replica.storedSnapshots
            #expect(snapshots.count <= 200 / 20)
            #expect(Set(snapshots.map(\.frontier.entryCount)).count == snapshots.count)
            await replica.close()
        }
    }

    /// Appends and reads go on while a snapshot is written.
    @Test func appendsProceedWhileSnapshotting() async throws {
        try await withTemporaryDirectory { dir in
            let g = testKeyPair(85)
            let replica = try await openReplica(ObjectStore.self, dir, space: g.publicKey, identity: g)
            try await fillObjects(replica, count: 4000, perBatch: 500)
            let snapshot = Task { try await replica.snapshotNow() }
            // Once the job runs, write and read while it does.
            while !(await replica.isSnapshotting) && replica.storedSnapshots.isEmpty { await Task.yield() }
            var whileRunning = 0
            var appended: [UInt64] = []
            for i in 0..<200 {
                let running = await replica.isSnapshotting
                appended.append(try await replica.append(put("late-\(i)", ["v": .int(Int64(i))])))
                #expect(try await replica.read { $0.object("late-\(i)") } != nil)
                if running, await replica.isSnapshotting { whileRunning += 1 }
            }
            let summary = try await snapshot.value
            #expect(appended == Array(4001...4200))
            #expect(whileRunning > 0)
            #expect(summary.manifest.frontier.entryCount >= 4000)
            #expect(summary.manifest.frontier.entryCount < 4200)
            #expect(try await replica.read { $0.liveCount } == 4200)
            let root = try await replica.stateRoot()
            #expect(try await replica.stateRoot(recomputeFully: true) == root)
            await replica.close()

            // The snapshot holds exactly its frontier: snapshot + tail is the live state.
            let reopened = try await openReplica(ObjectStore.self, dir, space: g.publicKey, identity: g)
            let startup = await reopened.startup
            #expect(startup.source == .snapshot(id: summary.manifest.id.hex, entries: summary.manifest.frontier.entryCount))
            #expect(UInt64(startup.replayed) == 4200 - summary.manifest.frontier.entryCount)
            #expect(try await reopened.stateRoot() == root)
            await reopened.close()
        }
    }
}
