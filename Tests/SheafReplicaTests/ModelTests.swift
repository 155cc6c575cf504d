import SheafCollections
import SheafCrypto
import SheafFiles
import SheafModels
@testable import SheafReplica
import SheafSnapshots
import Testing

/// Item 1: models driven through a replica.
@Suite struct ModelTests {
    @Test func objectStoreOpsApplyAndReadBack() async throws {
        try await withTemporaryDirectory { dir in
            let genesis = testKeyPair(1)
            let replica = try await openReplica(ObjectStore.self, dir, space: genesis.publicKey, identity: genesis)
            #expect(try await replica.append(put("a", ["name": .string("alpha"), "n": .int(1)])) == 1)
            try await replica.append([
                put("b", ["name": .string("beta")]),
                put("c", ["flag": .bool(true)]),
                ObjectStore.Op.setParent(id: "b", parent: "a").encoded,
            ])
            let before = try await replica.view()
            #expect(try await replica.append(ObjectStore.Op.delete(id: "c").encoded) == 5)
            try await replica.append(put("a", ["n": .int(2), "blob": .bytes([1, 2, 3])]))

            let a = try await replica.read { $0.object("a") }
            #expect(a?.fields == ["name": .string("alpha"), "n": .int(2), "blob": .bytes([1, 2, 3])])
            #expect(try await replica.read { $0.object("c") } == nil)
            #expect(try await replica.read { $0.liveCount } == 2)
            #expect(try await replica.read { $0.children(of: "a").map(\.id) } == ["b"])
            #expect(try await replica.read { $0.object("b")?.parent } == "a")

            // A view taken earlier is immutable: it still shows c and n = 1.
            #expect(try before.read { $0.object("c")?.fields } == ["flag": .bool(true)])
            #expect(try before.read { $0.object("a")?.fields["n"] } == .int(1))
            #expect(before.delivered == [genesis.publicKey: 4])
            let now = try await replica.view()
            #expect(try now.read { $0.list().map(\.id) } == ["a", "b"])
            #expect(now.delivered == [genesis.publicKey: 6])
            #expect(await replica.deliveredCount == 6)
            await replica.close()
        }
    }

    @Test func countersAndTimelineThroughReplicas() async throws {
        try await withTemporaryDirectory { dir in
            let genesis = testKeyPair(2)
            let counters = try await openReplica(Counters.self, Path.join(dir, "c"), space: genesis.publicKey, identity: genesis)
            try await counters.append([
                Counters.Op.add(name: "x", delta: 5).encoded,
                Counters.Op.add(name: "y", delta: -2).encoded,
                Counters.Op.add(name: "x", delta: -8).encoded,
            ])
            try await counters.append(Counters.Op.add(name: "z", delta: 1).encoded)
            #expect(try await counters.read { $0.value("x") } == -3)
            #expect(try await counters.read { $0.all.map(\.name) } == ["x", "y", "z"])
            #expect(try await counters.read { $0.all.map(\.value) } == [-3, -2, 1])
            let countersSnapshot = try await counters.snapshotNow().manifest
            #expect(countersSnapshot.model == "sheaf.counters")
            #expect(countersSnapshot.recordCount == 3)
            try await counters.append(Counters.Op.add(name: "y", delta: 10).encoded)
            await counters.close()
            let countersAgain = try await openReplica(Counters.self, Path.join(dir, "c"), space: genesis.publicKey, identity: genesis)
            #expect(await countersAgain.startup.source == .snapshot(id: countersSnapshot.id.hex, entries: 4))
            #expect(await countersAgain.startup.replayed == 1)
            #expect(try await countersAgain.read { $0.all.map(\.value) } == [-3, 8, 1])
            await countersAgain.close()

            let timeline = try await openReplica(Timeline.self, Path.join(dir, "t"), space: genesis.publicKey, identity: genesis)
            for body in ["first", "second", "third"] { try await timeline.append(Timeline.op(Array(body.utf8))) }
            let events = try await timeline.read { $0.events() }
            #expect(events.map { String(decoding: $0.body, as: UTF8.self) } == ["first", "second", "third"])
            #expect(events.map(\.seq) == [1, 2, 3])
            #expect(events.allSatisfy { $0.feed == genesis.publicKey })
            #expect(events.map(\.lamport) == events.map(\.lamport).sorted())
            #expect(try await timeline.read { $0.latest(1).map(\.seq) } == [3])
            let timelineSnapshot = try await timeline.snapshotNow().manifest
            await timeline.close()
            let timelineAgain = try await openReplica(Timeline.self, Path.join(dir, "t"), space: genesis.publicKey, identity: genesis)
            #expect(await timelineAgain.startup.source == .snapshot(id: timelineSnapshot.id.hex, entries: 3))
            #expect(try await timelineAgain.read { $0.events() } == events)
            try await timelineAgain.append(Timeline.op(Array("fourth".utf8)))
            #expect(try await timelineAgain.read { $0.events().map(\.seq) } == [1, 2, 3, 4])
            await timelineAgain.close()
        }
    }

    /// A model that cannot encode its state still gets snapshots (of its
    /// ops) and restarts from them to the same state.
    @Test func modelWithoutSnapshotSupportSnapshotsItsEntries() async throws {
        try await withTemporaryDirectory { dir in
            let genesis = testKeyPair(3)
            let space = genesis.publicKey
            var replica = try await openReplica(Jottings.self, dir, space: space, identity: genesis)
            for i in 0..<40 { try await replica.append(Jottings.note("n\(i)")) }
            try await replica.append([Jottings.maxOp(7), Jottings.maxOp(3), Jottings.maxOp(11)])
            let summary = try await replica.snapshotNow()
            #expect(summary.manifest.content == .entries)
            #expect(summary.manifest.model == "test.jottings")
            #expect(summary.manifest.frontier.entryCount == 43)
            #expect(summary.manifest.recordCount == 43)
            let rootAtSnapshot = try await replica.stateRoot()
            #expect(summary.manifest.stateRoot == rootAtSnapshot)
            #expect(try await replica.stateRoot(recomputeFully: true) == rootAtSnapshot)
            let texts = try await replica.read { $0.texts }
            #expect(texts == (0..<40).map { "n\($0)" })
            #expect(try await replica.read { $0.highest } == 11)
            await replica.close()

            replica = try await openReplica(Jottings.self, dir, space: space, identity: genesis)
            var startup = await replica.startup
            #expect(startup.source == .snapshot(id: summary.manifest.id.hex, entries: 43))
            #expect(startup.replayed == 0)
            #expect(try await replica.read { $0.texts } == texts)
            #expect(try await replica.read { $0.highest } == 11)
            #expect(try await replica.read { $0.notes.map(\.seq) } == Array(1...40))
            #expect(try await replica.stateRoot(recomputeFully: true) == rootAtSnapshot)

            // Entries after the snapshot replay on top of it.
            try await replica.append([Jottings.note("late"), Jottings.maxOp(20)])
            let expected = try await replica.read { $0.notes }
            let root = try await replica.stateRoot()
            #expect(try await replica.stateRoot(recomputeFully: true) == root)
            #expect(root != rootAtSnapshot)
            await replica.close()

            replica = try await openReplica(Jottings.self, dir, space: space, identity: genesis)
            startup = await replica.startup
            #expect(startup.source.snapshotID == summary.manifest.id.hex)
            #expect(startup.replayed == 2)
            #expect(try await replica.read { $0.notes } == expected)
            #expect(try await replica.read { $0.highest } == 20)
            #expect(try await replica.stateRoot() == root)
            // The writer resumes after its stored entries.
            #expect(try await replica.append(Jottings.note("again")) == 46)
            await replica.close()
        }
    }
}
