import SheafCollections
import SheafCrypto
import SheafFeeds
import SheafFiles
import SheafModels
@testable import SheafReplica
import Testing

/// Item 2: who may write to a space.
@Suite struct AdmissionTests {
    /// The genesis writer admits B; B learns of it from the genesis feed,
    /// writes, and its entries apply on both nodes.
    @Test func admittedWriterAppliesOnBothNodes() async throws {
        try await withTemporaryDirectory { dir in
            let g = testKeyPair(10), b = testKeyPair(11), c = testKeyPair(12)
            let space = g.publicKey
            let genesis = try await openReplica(ObjectStore.self, Path.join(dir, "g"), space: space, identity: g)
            let writer = try await openReplica(ObjectStore.self, Path.join(dir, "b"), space: space, identity: b)

            // Only the genesis writer admits or removes; a feed not admitted cannot write.
            #expect(await replicaErrorCode { try await writer.admit(c.publicKey) }?.isNotGenesisWriter == true)
            #expect(await replicaErrorCode { try await writer.remove(g.publicKey) }?.isNotGenesisWriter == true)
            #expect(await replicaErrorCode { try await writer.append(put("early", ["v": .int(0)])) }?.isNotAdmitted == true)
            #expect(try await writer.storedLength(b.publicKey) == 0)

            try await genesis.append(put("g1", ["v": .int(1)]))
            try await genesis.admit(b.publicKey)
            #expect(await genesis.admittedFeeds == [g.publicKey, b.publicKey])

            // B still cannot write before it has seen its admission.
            #expect(await replicaErrorCode { try await writer.append(put("early", ["v": .int(0)])) }?.isNotAdmitted == true)
            try await transfer(g.publicKey, from: genesis, to: writer)
            #expect(await writer.admittedFeeds == [g.publicKey, b.publicKey])
            #expect(try await writer.read { $0.object("g1")?.fields["v"] } == .int(1))

            try await writer.append(put("b1", ["v": .int(2)]))
            try await writer.append([put("b2", ["v": .int(3)]), ObjectStore.Op.delete(id: "g1").encoded])
            // B's first entry names the genesis entry that admitted it.
            let first = try await writer.feedLog(b.publicKey).entry(at: 1)
            #expect(first.dependencies == [Dependency(feed: space, seq: 2)])

            try await transfer(b.publicKey, from: writer, to: genesis)
            for replica in [genesis, writer] {
                #expect(try await replica.read { $0.object("b1")?.fields["v"] } == .int(2))
                #expect(try await replica.read { $0.object("b2")?.fields["v"] } == .int(3))
                #expect(try await replica.read { $0.object("g1") } == nil)
                #expect(try await replica.view().delivered == [space: 2, b.publicKey: 3])
            }
            // Same entries, same state root (invariant 1).
            #expect(try await genesis.stateRoot() == writer.stateRoot())
            #expect(try await genesis.read { $0.records } == writer.read { $0.records })
            await genesis.close()
            await writer.close()
        }
    }

    /// Entries of a feed the genesis writer never admitted are delivered
    /// (they count in the frontier) but never applied.
    @Test func neverAdmittedFeedIsNeverApplied() async throws {
        try await withTemporaryDirectory { dir in
            let g = testKeyPair(20), intruder = testKeyPair(21)
            let space = g.publicKey
            let genesis = try await openReplica(ObjectStore.self, dir, space: space, identity: g)
            try await genesis.append(put("mine", ["v": .int(1)]))
            let recordsBefore = try await genesis.read { $0.records }
            let changes = await genesis.changes()

            var forger = FeedWriter(keyPair: intruder)
            let batch = try forger.append([
                modelDraft(put("mine", ["v": .int(666)]), dependencies: [Dependency(feed: space, seq: 1)]),
                modelDraft(put("theirs", ["v": .int(666)])),
                EntryDraft(payload: SpacePayload.admit(intruder.publicKey).encoded),
                // A Lamport time at the top of the range must not leak into our clock.
                modelDraft(put("late", ["v": .int(666)]), observedLamport: UInt64.max - 1),
            ], timestamp: 1)
            try await genesis.ingest(batch)

            let seen = await collect(changes, count: 4)
            #expect(seen.map(\.seq) == [1, 2, 3, 4])
            #expect(seen.allSatisfy { $0.feed == intruder.publicKey && $0.effect == .notAdmitted })
            #expect(try await genesis.read { $0.records } == recordsBefore)
            #expect(try await genesis.read { $0.object("mine")?.fields["v"] } == .int(1))
            #expect(await genesis.admittedFeeds == [space])
            #expect(try await genesis.view().delivered[intruder.publicKey] == 4)

            // Our own writes go on, and win as they should.
            try await genesis.append(put("mine", ["v": .int(2)]))
            #expect(try await genesis.read { $0.object("mine")?.fields["v"] } == .int(2))
            #expect(try await genesis.read { $0.liveCount } == 1)

            // Still nothing after a restart (full replay) either.
            await genesis.close()
            let reopened = try await openReplica(ObjectStore.self, dir, space: space, identity: g)
            #expect(await reopened.startup.source == .fullReplay)
            #expect(try await reopened.read { $0.list().map(\.id) } == ["mine"])
            try await reopened.append(put("after", ["v": .int(3)]))
            #expect(try await reopened.read { $0.liveCount } == 2)
            await reopened.close()
        }
    }

    /// After `remove(B)`, B's entries that acknowledge the removal are not
    /// applied; entries concurrent with it still are.
    @Test func removedWriterEntriesAcknowledgingRemovalAreNotApplied() async throws {
        try await withTemporaryDirectory { dir in
            let g = testKeyPair(30), b = testKeyPair(31)
            let space = g.publicKey
            let genesis = try await openReplica(ObjectStore.self, Path.join(dir, "g"), space: space, identity: g)
            let writer = try await openReplica(ObjectStore.self, Path.join(dir, "b"), space: space, identity: b)
            try await genesis.admit(b.publicKey)
            try await transfer(space, from: genesis, to: writer)
            try await writer.append(put("b1", ["v": .int(1)]))
            try await transfer(b.publicKey, from: writer, to: genesis)
            #expect(try await genesis.read { $0.object("b1") } != nil)

            try await genesis.remove(b.publicKey)  // genesis seq 2
            #expect(await genesis.admittedFeeds == [space])
            // B has not seen the removal: this entry is concurrent with it and applies.
            try await writer.append(put("b2", ["v": .int(2)]))
            try await transfer(b.publicKey, from: writer, to: genesis)
            #expect(try await genesis.read { $0.object("b2") } != nil)

            // Once B has seen it, its replica refuses to write.
            try await transfer(space, from: genesis, to: writer)
            #expect(await writer.admittedFeeds == [space])
            #expect(await replicaErrorCode { try await writer.append(put("b3", ["v": .int(3)])) }?.isNotAdmitted == true)

            // An entry of B that acknowledges the removal (written by a B
            // that ignores its replica's refusal) is not applied anywhere.
            let log = try await writer.feedLog(b.publicKey)
            var rogue = FeedWriter(keyPair: b, resumingAfter: log.tip, lamport: log.lastLamport)
            let batch = try rogue.append([
                modelDraft(put("b3", ["v": .int(3)]), dependencies: [Dependency(feed: space, seq: 2)]),
                modelDraft(ObjectStore.Op.delete(id: "b1").encoded),
            ], timestamp: 5)
            let changes = await genesis.changes()
            let root = try await genesis.read { $0.records }
            try await genesis.ingest(batch)
            let seen = await collect(changes, count: 2)
            #expect(seen.map(\.effect) == [.notAdmitted, .notAdmitted])
            #expect(seen.map(\.seq) == [3, 4])
            #expect(try await genesis.read { $0.records } == root)
            #expect(try await genesis.read { $0.list().map(\.id) } == ["b1", "b2"])

            try await writer.ingest(batch)
            #expect(try await writer.read { $0.list().map(\.id) } == ["b1", "b2"])
            #expect(try await writer.stateRoot() == genesis.stateRoot())

            // Re-admission lets B's next acknowledging entry apply again.
            try await genesis.admit(b.publicKey)  // genesis seq 3
            #expect(await genesis.admittedFeeds == [space, b.publicKey])
            let again = try rogue.append([modelDraft(put("b5", ["v": .int(5)]), dependencies: [Dependency(feed: space, seq: 3)])],
                                         timestamp: 6)
            try await genesis.ingest(again)
            #expect(try await genesis.read { $0.list().map(\.id) } == ["b1", "b2", "b5"])
            await genesis.close()
            await writer.close()
        }
    }

    /// Control ops count only in the genesis feed.
    @Test func controlOpsFromOtherFeedsAreIgnored() async throws {
        try await withTemporaryDirectory { dir in
            let g = testKeyPair(40), b = testKeyPair(41), c = testKeyPair(42)
            let space = g.publicKey
            let genesis = try await openReplica(ObjectStore.self, dir, space: space, identity: g)
            try await genesis.admit(b.publicKey)
            let changes = await genesis.changes()

            var writerB = FeedWriter(keyPair: b)
            try await genesis.ingest(try writerB.append([
                EntryDraft(payload: SpacePayload.admit(c.publicKey).encoded, dependencies: [Dependency(feed: space, seq: 1)]),
                EntryDraft(payload: SpacePayload.remove(space).encoded),
                EntryDraft(payload: SpacePayload.remove(b.publicKey).encoded),
                modelDraft(put("fromB", ["v": .int(1)])),
            ], timestamp: 1))
            var writerC = FeedWriter(keyPair: c)
            try await genesis.ingest(try writerC.append([
                modelDraft(put("fromC", ["v": .int(1)]), dependencies: [Dependency(feed: space, seq: 1), Dependency(feed: b.publicKey, seq: 4)]),
            ], timestamp: 2))

            let seen = await collect(changes, count: 5)
            #expect(seen.count == 5)
            guard seen.count == 5 else { return }
            for change in seen[0..<3] {
                guard case .ignored(let reason) = change.effect else {
                    Issue.record("control op from B had effect \(change.effect)")
                    continue
                }
                #expect(reason.contains("genesis"))
            }
            #expect(seen[3].effect == .applied([RecordKey(Array("ofromB".utf8))]))
            #expect(seen[4].feed == c.publicKey)
            #expect(seen[4].effect == .notAdmitted)
            #expect(await genesis.admittedFeeds == [space, b.publicKey])
            #expect(try await genesis.read { $0.list().map(\.id) } == ["fromB"])
            // The genesis writer is still the genesis writer.
            try await genesis.append(put("g", ["v": .int(1)]))
            #expect(try await genesis.read { $0.object("g") } != nil)
            await genesis.close()
        }
    }
}
