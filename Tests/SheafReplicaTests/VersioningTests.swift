import SheafCollections
import SheafCrypto
import SheafFiles
import SheafModels
@testable import SheafReplica
import SheafSnapshots
import Testing

/// Item 6: snapshots of other model versions.
@Suite struct VersioningTests {
    /// A snapshot written by a newer version of the model is not loaded by
    /// an older build: it rebuilds from the feeds and says so.
    @Test func newerVersionSnapshotIsRejectedAndFeedsAreReplayed() async throws {
        try await withTemporaryDirectory { dir in
            let g = testKeyPair(100)
            let newer = try await openReplica(MaxMapV2.self, dir, space: g.publicKey, identity: g)
            for i in 0..<60 { try await newer.append(MaxMapOps.op("k\(i % 20)", UInt64(i * 7 % 50))) }
            let manifest = try await newer.snapshotNow().manifest
            #expect(manifest.modelVersion == 2)
            try await newer.append(MaxMapOps.op("k0", 1000))
            let records = describe(try await newer.read { $0.records })
            await newer.close()

            let older = try await openReplica(MaxMapV1.self, dir, space: g.publicKey, identity: g)
            let startup = await older.startup
            #expect(startup.source == .fullReplay)
            #expect(startup.replayed == 61)
            #expect(startup.rejected.map(\.id) == [manifest.id.hex])
            #expect(startup.rejected.first?.reason.contains("test.maxmap@2") == true)
            #expect(describe(try await older.read { $0.records }) == records)
            #expect(try await older.read { $0.records[RecordKey("k0")] } == 1000)
            // Its own snapshots are of its own version, and load.
            let own = try await older.snapshotNow().manifest
            #expect(own.modelVersion == 1)
            await older.close()
            let again = try await openReplica(MaxMapV1.self, dir, space: g.publicKey, identity: g)
            #expect(await again.startup.source == .snapshot(id: own.id.hex, entries: 61))
            #expect(describe(try await again.read { $0.records }) == records)
            await again.close()
        }
    }

    /// An older version inside `loadableVersions` loads; the next snapshot is
    /// written in full at the current version.
    @Test func olderLoadableVersionSnapshotIsLoaded() async throws {
        try await withTemporaryDirectory { dir in
            let g = testKeyPair(101)
            let v1 = try await openReplica(MaxMapV1.self, dir, space: g.publicKey, identity: g)
            for i in 0..<80 { try await v1.append(MaxMapOps.op("key-\(i % 30)", UInt64(i))) }
            let old = try await v1.snapshotNow().manifest
            #expect(old.modelVersion == 1)
            try await v1.append(MaxMapOps.op("key-1", 500))
            let records = describe(try await v1.read { $0.records })
            await v1.close()

            let v2 = try await openReplica(MaxMapV2.self, dir, space: g.publicKey, identity: g)
            let startup = await v2.startup
            #expect(startup.source == .snapshot(id: old.id.hex, entries: 80))
            #expect(startup.rejected.isEmpty)
            #expect(startup.replayed == 1)
            #expect(describe(try await v2.read { $0.records }) == records)

            let current = try await v2.snapshotNow()
            #expect(current.manifest.modelVersion == 2)
            #expect(current.leavesEncoded == Int(current.manifest.leafCount))
            #expect(current.manifest.stateRoot != old.stateRoot)
            #expect(current.manifest.stateRoot == (try await v2.stateRoot(recomputeFully: true)))
            await v2.close()

            let reopened = try await openReplica(MaxMapV2.self, dir, space: g.publicKey, identity: g)
            #expect(await reopened.startup.source == .snapshot(id: current.manifest.id.hex, entries: 81))
            #expect(describe(try await reopened.read { $0.records }) == records)
            await reopened.close()
        }
    }

    /// The same for a model without snapshot support (entry snapshots).
    @Test func newerVersionEntrySnapshotIsRejected() async throws {
        try await withTemporaryDirectory { dir in
            let g = testKeyPair(102)
            let newer = try await openReplica(JottingsV2.self, dir, space: g.publicKey, identity: g)
            for i in 0..<10 { try await newer.append(Jottings.note("n\(i)")) }
            let manifest = try await newer.snapshotNow().manifest
            #expect(manifest.content == .entries)
            #expect(manifest.modelVersion == 2)
            await newer.close()

            let older = try await openReplica(Jottings.self, dir, space: g.publicKey, identity: g)
            let startup = await older.startup
            #expect(startup.source == .fullReplay)
            #expect(startup.rejected.map(\.id) == [manifest.id.hex])
            #expect(try await older.read { $0.texts } == (0..<10).map { "n\($0)" })
            await older.close()

            // The newer build still loads its own snapshot.
            let upgraded = try await openReplica(JottingsV2.self, dir, space: g.publicKey, identity: g)
            #expect(await upgraded.startup.source == .snapshot(id: manifest.id.hex, entries: 10))
            #expect(try await upgraded.read { $0.inner.texts } == (0..<10).map { "n\($0)" })
            await upgraded.close()
        }
    }
}
