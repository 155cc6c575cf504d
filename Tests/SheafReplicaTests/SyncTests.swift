import SheafCrypto
import SheafFeedLog
import SheafFeeds
import SheafFiles
import SheafModels
@testable import SheafReplica
import SheafSnapshots
import Testing

/// A space of two writers: the genesis writer `g` admits `w`; `g` writes
/// 60 objects in batches of 10 (signed heads at 1, 11, 21, ..., 61), `w`
/// fetches them and writes 20 of its own. Both replicas are open.
struct TwoWriterSpace {
    let g: KeyPair
    let w: KeyPair
    let genesis: Replica<ObjectStore>
    let writer: Replica<ObjectStore>
    var space: PublicKey { g.publicKey }

    static func make(_ dir: String, key: Int, options: ReplicaOptions = fastOptions()) async throws -> TwoWriterSpace {
        let g = testKeyPair(key), w = testKeyPair(key + 1)
        let genesis = try await openReplica(ObjectStore.self, Path.join(dir, "g"), space: g.publicKey, identity: g, options: options)
        let writer = try await openReplica(ObjectStore.self, Path.join(dir, "w"), space: g.publicKey, identity: w, options: options)
        try await genesis.admit(w.publicKey)
        try await fillObjects(genesis, count: 60, perBatch: 10)
        try await transfer(g.publicKey, from: genesis, to: writer)
        try await fillObjects(writer, count: 20, from: 1000, perBatch: 10)
        try await transfer(w.publicKey, from: writer, to: genesis)
        return TwoWriterSpace(g: g, w: w, genesis: genesis, writer: writer)
    }

    func close() async {
        await genesis.close()
        await writer.close()
    }
}

/// Every chunk of a stored snapshot, as a peer would download it: the index
/// chunks the manifest names, then the leaves they name.
func downloadChunks<M>(_ manifest: SnapshotManifest, from replica: Replica<M>) throws -> [Hash: (rawSize: Int, compressed: [UInt8])] {
    var chunks: [Hash: (rawSize: Int, compressed: [UInt8])] = [:]
    for ref in manifest.index {
        let compressed = try #require(try replica.compressedChunks([ref.id]).first ?? nil)
        let raw = try SnapshotReader.verifiedChunk(compressed, id: ref.id, rawSize: ref.rawSize, compressedSize: ref.compressedSize)
        chunks[ref.id] = (ref.rawSize, compressed)
        for leaf in try IndexEntry.decode(raw) {
            chunks[leaf.id] = (leaf.rawSize, try #require(try replica.compressedChunks([leaf.id]).first ?? nil))
        }
    }
    #expect(chunks.count == manifest.index.count + Int(manifest.leafCount))
    return chunks
}

/// The replica calls the protocol driver makes: serving ranges, installing
/// and auditing snapshots.
@Suite struct ReplicaSyncTests {
    // MARK: Serving ranges

    @Test func servableRangeEndsAtAStoredSignedHead() async throws {
        try await withTemporaryDirectory { dir in
            let space = try await TwoWriterSpace.make(dir, key: 300)
            let g = space.genesis
            let feed = space.space
            #expect(try await g.feedLog(feed).signedHeadSeqs == [1, 11, 21, 31, 41, 51, 61])

            func served(after: UInt64, through: UInt64, max: Int = 1000) async throws -> (UInt64, UInt64)? {
                guard let batch = try await g.servableRange(of: feed, after: after, through: through, maxEntries: max) else { return nil }
                // What a peer holding `after` verifies.
                let anchor = after == 0 ? FeedAnchor.genesis(of: feed) : FeedAnchor(seq: after, hash: try #require(try await g.entryHash(of: feed, at: after)))
                let verified = try RangeVerifier.verify(encodedRange: batch.encodedRange(), from: anchor, feed: feed)
                #expect(verified.head == batch.head)
                return (batch.anchor.seq, batch.head.seq)
            }
            // The last head at or before `through`.
            #expect(try await served(after: 1, through: 25)! == (1, 21))
            #expect(try await served(after: 0, through: 61)! == (0, 61))
            #expect(try await served(after: 11, through: 11 + 10)! == (11, 21))
            // None at or before `through`: the first one after it.
            #expect(try await served(after: 1, through: 5)! == (1, 11))
            #expect(try await served(after: 55, through: 56)! == (55, 61))
            // At most `maxEntries`.
            #expect(try await served(after: 1, through: 61, max: 25)! == (1, 21))
            #expect(try await served(after: 1, through: 61, max: 10)! == (1, 11))
            #expect(try await served(after: 1, through: 5, max: 10)! == (1, 11))
            // Unless the next batch alone is larger: it is the smallest range that verifies.
            #expect(try await served(after: 1, through: 61, max: 4)! == (1, 11))
            #expect(try await served(after: 0, through: 61, max: 1)! == (0, 1))
            #expect(try await served(after: 3, through: 5, max: 2)! == (3, 11))
            // Nothing held after `after`, or an empty request.
            #expect(try await served(after: 61, through: 70) == nil)
            #expect(try await served(after: 100, through: 200) == nil)
            #expect(try await served(after: 20, through: 20) == nil)
            #expect(try await g.servableRange(of: testKeyPair(399).publicKey, after: 0, through: 10, maxEntries: 10) == nil)
            await space.close()
        }
    }

    @Test func servableRangeOfPrunedHistoryThrows() async throws {
        try await withTemporaryDirectory { dir in
            let g = testKeyPair(310)
            let options = fastOptions(snapshotsKept: 1, compactCoveredEntries: true, segmentBytes: 4096)
            let replica = try await openReplica(ObjectStore.self, dir, space: g.publicKey, identity: g, options: options)
            for i in 0..<120 { try await replica.append(put("obj-\(i)", ["v": .string(String(repeating: "x", count: 40))])) }
            _ = try await replica.snapshotNow()
            let pruned = try await replica.prunedThrough(g.publicKey)
            #expect(pruned > 1)
            let code = await replicaErrorCode { _ = try await replica.servableRange(of: g.publicKey, after: 0, through: 120, maxEntries: 500) }
            guard case .pruned = code else {
                Issue.record("expected .pruned, got \(String(describing: code))")
                return
            }
            // From the pruned anchor on, it serves.
            let batch = try #require(try await replica.servableRange(of: g.publicKey, after: pruned, through: 120, maxEntries: 500))
            #expect(batch.anchor.seq == pruned)
            #expect(batch.head.seq == 120)
            #expect(try await replica.entryHash(of: g.publicKey, at: pruned) == batch.anchor.hash)
            #expect(try await replica.entryHash(of: g.publicKey, at: 1) == nil)
            await replica.close()
        }
    }

    // MARK: Stored state

    @Test func storedFrontierCountsEntriesWaitingForDependencies() async throws {
        try await withTemporaryDirectory { dir in
            let space = try await TwoWriterSpace.make(dir, key: 320)
            #expect(try await space.genesis.storedFrontier() == (try await space.genesis.frontier()))
            #expect(try await space.genesis.storedFrontier().entryCount == 81)

            // A third replica gets w's feed first: stored, but waiting for g's.
            let n = testKeyPair(322)
            let fresh = try await openReplica(ObjectStore.self, Path.join(dir, "n"), space: space.space, identity: n)
            #expect(try await fresh.storedFrontier().isEmpty)
            try await transfer(space.w.publicKey, from: space.writer, to: fresh)
            let stored = try await fresh.storedFrontier()
            #expect(stored.heads.keys.sorted() == [space.w.publicKey])
            #expect(stored[space.w.publicKey] == (try await space.writer.storedTip(of: space.w.publicKey)))
            #expect(try await fresh.frontier().isEmpty)
            #expect(try await fresh.storedHeads().map(\.seq) == [20])

            try await transfer(space.space, from: space.genesis, to: fresh)
            #expect(try await fresh.storedFrontier() == (try await space.genesis.storedFrontier()))
            #expect(try await fresh.frontier() == (try await space.genesis.frontier()))
            await fresh.close()
            await space.close()
        }
    }

    @Test func entryHashMatchesTheStoredEntries() async throws {
        try await withTemporaryDirectory { dir in
            let space = try await TwoWriterSpace.make(dir, key: 330)
            let feed = space.w.publicKey
            let entries = try await space.genesis.feedLog(feed).entries(from: 1, through: 20)
            for entry in entries { #expect(try await space.genesis.entryHash(of: feed, at: entry.seq) == entry.hash) }
            #expect(try await space.genesis.entryHash(of: feed, at: 0) == nil)
            #expect(try await space.genesis.entryHash(of: feed, at: 21) == nil)
            #expect(try await space.genesis.entryHash(of: testKeyPair(339).publicKey, at: 1) == nil)
            await space.close()
        }
    }

    // MARK: Installing

    @Test func installBuildsTheSourceStateAndSurvivesRestart() async throws {
        try await withTemporaryDirectory { dir in
            let space = try await TwoWriterSpace.make(dir, key: 340)
            // The writer (a member, not the genesis key) takes the snapshot.
            let manifest = try await space.writer.snapshotNow().manifest
            #expect(manifest.signer == space.w.publicKey)
            let chunks = try downloadChunks(manifest, from: space.writer)

            let n = testKeyPair(342)
            let path = Path.join(dir, "n")
            var fresh = try await openReplica(ObjectStore.self, path, space: space.space, identity: n)
            try await fresh.install(manifest, chunks: chunks)
            #expect(try await fresh.stateRoot() == manifest.stateRoot)
            #expect(try await fresh.stateRoot(recomputeFully: true) == manifest.stateRoot)
            #expect(try await fresh.frontier() == manifest.frontier)
            #expect(try await fresh.storedFrontier() == manifest.frontier)
            #expect(Set(await fresh.admittedFeeds) == Set(await space.genesis.admittedFeeds))
            #expect(fresh.storedSnapshots.map(\.id) == [manifest.id])
            #expect(try await fresh.prunedThrough(space.space) == manifest.frontier.seq(of: space.space))
            let startup = await fresh.startup
            #expect(startup.source.snapshotID == manifest.id.hex)

            // Later entries from the source continue from the snapshot's frontier.
            try await fillObjects(space.genesis, count: 15, from: 2000, perBatch: 5)
            try await fillObjects(space.writer, count: 5, from: 3000, perBatch: 5)
            try await transfer(space.space, from: space.genesis, to: fresh)
            try await transfer(space.w.publicKey, from: space.writer, to: fresh)
            try await transfer(space.w.publicKey, from: space.writer, to: space.genesis)
            let expectedRoot = try await space.genesis.stateRoot()
            #expect(try await fresh.stateRoot() == expectedRoot)
            #expect(try await fresh.frontier() == (try await space.genesis.frontier()))
            let value = try await fresh.read { $0.object("obj-2014")?.fields["v"] }
            #expect(value == .string("value-2014"))
            let frontier = try await fresh.frontier()
            await fresh.close()

            // Restart: the installed snapshot (signed by w, trusted because it was installed) loads again.
            #expect(RawFile.exists(Path.join(path, "snapshots/INSTALLED")))
            fresh = try await openReplica(ObjectStore.self, path, space: space.space, identity: n)
            let reopened = await fresh.startup
            #expect(reopened.source == .snapshot(id: manifest.id.hex, entries: manifest.frontier.entryCount))
            #expect(reopened.rejected.isEmpty)
            #expect(reopened.replayed == 20)
            #expect(try await fresh.stateRoot() == expectedRoot)
            #expect(try await fresh.frontier() == frontier)
            await fresh.close()
            await space.close()
        }
    }

    @Test func installAfterTheGenesisFeedArrivedFirst() async throws {
        try await withTemporaryDirectory { dir in
            let space = try await TwoWriterSpace.make(dir, key: 350)
            let manifest = try await space.writer.snapshotNow().manifest
            try await fillObjects(space.genesis, count: 10, from: 4000, perBatch: 10)
            // The joiner fetches the genesis feed (membership) before installing.
            let fresh = try await openReplica(ObjectStore.self, Path.join(dir, "n"), space: space.space, identity: testKeyPair(352))
            try await transfer(space.space, from: space.genesis, to: fresh)
            try await fresh.install(manifest, chunks: try downloadChunks(manifest, from: space.writer))
            #expect(try await fresh.prunedThrough(space.space) == 0)
            #expect(try await fresh.prunedThrough(space.w.publicKey) == 20)
            #expect(try await fresh.frontier() == (try await space.genesis.frontier()))
            #expect(try await fresh.stateRoot() == (try await space.genesis.stateRoot()))
            await fresh.close()
            await space.close()
        }
    }

    @Test func installIsRefusedOverEntriesTheSnapshotDoesNotCover() async throws {
        try await withTemporaryDirectory { dir in
            let space = try await TwoWriterSpace.make(dir, key: 360)
            // A snapshot of the genesis writer's feed alone, taken before w wrote.
            let g = testKeyPair(360)
            let solo = try await openReplica(ObjectStore.self, Path.join(dir, "solo"), space: g.publicKey, identity: testKeyPair(363))
            try await transfer(g.publicKey, from: space.genesis, to: solo)
            let manifest = try await solo.snapshotNow().manifest
            #expect(manifest.frontier.feeds == [g.publicKey])
            let chunks = try downloadChunks(manifest, from: solo)

            // A replica that already holds w's entries cannot take it.
            let holder = try await openReplica(ObjectStore.self, Path.join(dir, "n"), space: g.publicKey, identity: testKeyPair(364))
            try await transfer(g.publicKey, from: space.genesis, to: holder)
            try await transfer(space.w.publicKey, from: space.writer, to: holder)
            let rootBefore = try await holder.stateRoot()
            let code = await replicaErrorCode { try await holder.install(manifest, chunks: chunks) }
            guard case .cannotInstall = code else {
                Issue.record("expected .cannotInstall, got \(String(describing: code))")
                return
            }
            #expect(try await holder.stateRoot() == rootBefore)
            #expect(holder.storedSnapshots.isEmpty)

            // Nor one whose log of a feed stops short of the snapshot's frontier.
            let short = try await openReplica(ObjectStore.self, Path.join(dir, "short"), space: g.publicKey, identity: testKeyPair(365))
            try await short.ingest(try await space.genesis.storedRange(g.publicKey, after: 0, through: 11))
            let shortCode = await replicaErrorCode { try await short.install(manifest, chunks: chunks) }
            guard case .cannotInstall = shortCode else {
                Issue.record("expected .cannotInstall, got \(String(describing: shortCode))")
                return
            }
            #expect(try await short.storedFrontier().entryCount == 11)
            await short.close()
            await holder.close()
            await solo.close()
            await space.close()
        }
    }

    // MARK: Auditing

    @Test func auditJudgesManifestsAgainstLocalHistory() async throws {
        try await withTemporaryDirectory { dir in
            let space = try await TwoWriterSpace.make(dir, key: 370)
            let honest = try await space.writer.snapshotNow().manifest
            #expect(try await space.genesis.audit(honest) == .consistent)

            // The same state root claimed for one entry fewer, re-signed.
            var lying = honest
            let feed = space.space
            let seq = honest.frontier.seq(of: feed) - 1
            var heads = honest.frontier.heads
            heads[feed] = FeedAnchor(seq: seq, hash: try #require(try await space.genesis.entryHash(of: feed, at: seq)))
            lying.frontier = Frontier(heads)
            lying.sign(with: space.w)
            try lying.verifySignature()
            guard case .inconsistent(let derived) = try await space.genesis.audit(lying) else {
                Issue.record("a manifest one entry short must be inconsistent")
                return
            }
            #expect(derived != honest.stateRoot)

            // A replica without the history cannot judge.
            let fresh = try await openReplica(ObjectStore.self, Path.join(dir, "n"), space: space.space, identity: testKeyPair(372))
            guard case .cannotAudit = try await fresh.audit(honest) else {
                Issue.record("an empty replica cannot audit")
                return
            }
            // Nor one that joined from the snapshot (history pruned).
            try await fresh.install(honest, chunks: try downloadChunks(honest, from: space.writer))
            guard case .cannotAudit = try await fresh.audit(honest) else {
                Issue.record("a replica holding only the snapshot cannot audit it")
                return
            }
            await fresh.close()
            await space.close()
        }
    }
}
