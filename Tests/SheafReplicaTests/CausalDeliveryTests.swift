import SheafCollections
import SheafCrypto
import SheafFeeds
import SheafFiles
import SheafModels
@testable import SheafReplica
import Testing

/// Item 3: entries are applied in causal order, with a bounded buffer.
@Suite struct CausalDeliveryTests {
    @Test func dependentEntryWaitsForItsDependency() async throws {
        try await withTemporaryDirectory { dir in
            let g = testKeyPair(50), b = testKeyPair(51), c = testKeyPair(52)
            let space = g.publicKey
            let genesis = try await openReplica(ObjectStore.self, dir, space: space, identity: g)
            try await genesis.admit(b.publicKey)
            try await genesis.admit(c.publicKey)
            let changes = await genesis.changes()

            var writerB = FeedWriter(keyPair: b)
            let fromB = try writerB.append([
                modelDraft(put("x", ["v": .string("b")]), dependencies: [Dependency(feed: space, seq: 1)], observedLamport: 2),
                modelDraft(put("y", ["v": .string("b")])),
            ], timestamp: 1)
            var writerC = FeedWriter(keyPair: c)
            let fromC = try writerC.append([
                modelDraft(put("x", ["v": .string("c")]),
                           dependencies: [Dependency(feed: space, seq: 2), Dependency(feed: b.publicKey, seq: 2)], observedLamport: 10),
            ], timestamp: 2)

            // C's entry arrives first: stored, but not applied.
            try await genesis.ingest(fromC)
            #expect(try await genesis.storedLength(c.publicKey) == 1)
            #expect(try await genesis.read { $0.object("x") } == nil)
            #expect(try await genesis.view().delivered[c.publicKey] == nil)
            #expect(await genesis.deliveredCount == 2)

            // Its dependency arrives: both apply, dependency first.
            try await genesis.ingest(fromB)
            let seen = await collect(changes, count: 3)
            #expect(seen.map(\.feed) == [b.publicKey, b.publicKey, c.publicKey])
            #expect(seen.map(\.seq) == [1, 2, 1])
            #expect(seen.map(\.effect) == [.applied([RecordKey("ox")]), .applied([RecordKey("oy")]), .applied([RecordKey("ox")])])
            #expect(try await genesis.read { $0.object("x")?.fields["v"] } == .string("c"))
            #expect(try await genesis.view().delivered == [space: 2, b.publicKey: 2, c.publicKey: 1])

            // Ingesting a batch already held changes nothing.
            let root = try await genesis.stateRoot()
            try await genesis.ingest(fromC)
            try await genesis.ingest(fromB)
            #expect(try await genesis.stateRoot() == root)
            #expect(await genesis.deliveredCount == 5)
            try await genesis.append(put("marker", [:]))
            let next = await collect(changes, count: 1)
            #expect(next.map(\.feed) == [space])
            #expect(next.map(\.seq) == [3])
            await genesis.close()
        }
    }

    /// A flood of entries whose dependency is missing is refused beyond the
    /// bound (backpressure) without losing anything: once the dependency is
    /// there and the flood is sent again, everything applies, also after a restart.
    @Test func boundedBufferRefusesFloodButLosesNothing() async throws {
        try await withTemporaryDirectory { dir in
            let g = testKeyPair(60), b = testKeyPair(61), c = testKeyPair(62), d = testKeyPair(63)
            let space = g.publicKey
            let options = fastOptions(maxWaitingEntries: 5)
            var genesis = try await openReplica(ObjectStore.self, dir, space: space, identity: g, options: options)
            try await genesis.admit(b.publicKey)
            try await genesis.admit(c.publicKey)
            try await genesis.admit(d.publicKey)

            var writerB = FeedWriter(keyPair: b)
            let b1 = try writerB.append([modelDraft(put("b1", [:]), dependencies: [Dependency(feed: space, seq: 1)])], timestamp: 1)
            let b2 = try writerB.append([modelDraft(put("b2", [:]))], timestamp: 2)

            // C: ten entries in batches of two, all after B's first entry.
            var writerC = FeedWriter(keyPair: c)
            var batchesC: [VerifiedBatch] = []
            for i in 0..<5 {
                let deps = i == 0 ? [Dependency(feed: space, seq: 2), Dependency(feed: b.publicKey, seq: 1)] : []
                batchesC.append(try writerC.append([modelDraft(put("c\(2 * i)", [:]), dependencies: deps),
                                                    modelDraft(put("c\(2 * i + 1)", [:]))], timestamp: 10))
            }
            // D: one batch of ten, after B's second entry.
            var writerD = FeedWriter(keyPair: d)
            let batchD = try writerD.append((0..<10).map { i in
                modelDraft(put("d\(i)", [:]), dependencies: i == 0 ? [Dependency(feed: space, seq: 3), Dependency(feed: b.publicKey, seq: 2)] : [])
            }, timestamp: 20)

            var refused = 0
            for batch in batchesC {
                if let code = await replicaErrorCode({ try await genesis.ingest(batch) }) {
                    #expect(code.isBackpressure, "unexpected \(code)")
                    refused += 1
                }
            }
            #expect(refused >= 1)
            let floodD = await replicaErrorCode { try await genesis.ingest(batchD) }
            #expect(floodD?.isBackpressure == true)
            #expect(try await genesis.read { $0.liveCount } == 0)

            // The dependency gets in although the buffer is full.
            try await genesis.ingest(b1)
            #expect(try await genesis.read { $0.object("b1") } != nil)
            for batch in batchesC { try await genesis.ingest(batch) }
            #expect(try await genesis.read { $0.list().map(\.id) } == ["b1"] + (0..<10).map { "c\($0)" })
            #expect(try await genesis.view().delivered[c.publicKey] == 10)

            try await genesis.ingest(b2)
            try await genesis.ingest(batchD)
            let ids = ["b1", "b2"] + (0..<10).map { "c\($0)" } + (0..<10).map { "d\($0)" }
            #expect(try await genesis.read { $0.list().map(\.id) } == ids)
            #expect(try await genesis.view().delivered == [space: 3, b.publicKey: 2, c.publicKey: 10, d.publicKey: 10])
            let root = try await genesis.stateRoot()
            await genesis.close()

            // A restart with the same small bound replays every stored entry.
            genesis = try await openReplica(ObjectStore.self, dir, space: space, identity: g, options: options)
            #expect(await genesis.startup.source == .fullReplay)
            #expect(await genesis.startup.replayed == 25)
            #expect(try await genesis.read { $0.list().map(\.id) } == ids)
            #expect(try await genesis.stateRoot() == root)
            try await genesis.append(put("after", [:]))
            #expect(try await genesis.read { $0.liveCount } == ids.count + 1)
            await genesis.close()
        }
    }

    /// Entries blocked on a missing dependency never block the node's own writes.
    @Test func ownWritesProceedWhileBufferIsFull() async throws {
        try await withTemporaryDirectory { dir in
            let g = testKeyPair(70), b = testKeyPair(71)
            let space = g.publicKey
            let genesis = try await openReplica(ObjectStore.self, dir, space: space, identity: g,
                                                options: fastOptions(maxWaitingEntries: 2))
            try await genesis.admit(b.publicKey)
            var writerB = FeedWriter(keyPair: b)
            // Depends on a genesis entry that does not exist yet.
            let blocked = try writerB.append([modelDraft(put("b0", [:]), dependencies: [Dependency(feed: space, seq: 3)]),
                                              modelDraft(put("b1", [:]))], timestamp: 1)
            try await genesis.ingest(blocked)
            #expect(try await genesis.read { $0.liveCount } == 0)
            try await genesis.append(put("g2", [:]))
            try await genesis.append(put("g3", [:]))
            #expect(try await genesis.read { $0.list().map(\.id) } == ["b0", "b1", "g2", "g3"])
            try await genesis.append([put("g4", [:]), put("g5", [:]), put("g6", [:])])
            #expect(try await genesis.read { $0.liveCount } == 7)
            await genesis.close()
        }
    }
}
