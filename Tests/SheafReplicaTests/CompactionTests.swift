import SheafCrypto
import SheafFeedLog
import SheafFeeds
import SheafFiles
import SheafModels
@testable import SheafReplica
import Testing

/// The `.pruned` code of a thrown `FeedLogError`, or nil.
func prunedError(_ body: () throws -> Void) -> (seq: UInt64, through: UInt64)? {
    do { try body() } catch let error as FeedLogError {
        if case .pruned(let seq, let through) = error.code { return (seq, through) }
    } catch {}
    return nil
}

/// Item 7: compaction of entries every kept snapshot covers.
@Suite struct CompactionTests {
    @Test func coveredSegmentsArePrunedAndRestartStillWorks() async throws {
        try await withTemporaryDirectory { dir in
            let g = testKeyPair(110), peer = testKeyPair(111)
            let space = g.publicKey
            let options = fastOptions(snapshotsKept: 1, compactCoveredEntries: true, segmentBytes: 4096)
            var replica = try await openReplica(ObjectStore.self, Path.join(dir, "g"), space: space, identity: g, options: options)
            // One entry per batch, so every seq has a signed head.
            for i in 0..<200 { try await replica.append(put("obj-\(i)", ["v": .string(String(repeating: "x", count: 40))])) }
            var log = try await replica.feedLog(space)
            let segmentsBefore = log.segmentCount
            #expect(segmentsBefore > 5)
            #expect(log.prunedAnchor == nil)
            // What a peer could have fetched before compaction.
            var early: [VerifiedBatch] = []
            for seq in 1...200 { early.append(try await replica.storedRange(space, after: UInt64(seq - 1), through: UInt64(seq))) }

            let snapshot = try await replica.snapshotNow().manifest
            let pruned = try #require(log.prunedAnchor)
            #expect(pruned.seq > 0)
            #expect(pruned.seq <= snapshot.frontier.seq(of: space))
            #expect(log.segmentCount < segmentsBefore)
            #expect(pruned.hash == early[Int(pruned.seq) - 1].head.hash)
            let readPruned = prunedError { _ = try log.entry(at: 1) }
            #expect(readPruned?.seq == 1)
            #expect(readPruned?.through == pruned.seq)
            #expect(prunedError { _ = try log.entry(at: pruned.seq) } != nil)
            #expect(try log.entry(at: pruned.seq + 1).seq == pruned.seq + 1)

            for i in 200..<230 { try await replica.append(put("obj-\(i)", ["v": .int(Int64(i))])) }
            let root = try await replica.stateRoot()
            let frontier = try await replica.frontier()
            await replica.close()

            // Restart: from the snapshot, replaying only the tail.
            replica = try await openReplica(ObjectStore.self, Path.join(dir, "g"), space: space, identity: g, options: options)
            let startup = await replica.startup
            #expect(startup.source == .snapshot(id: snapshot.id.hex, entries: 200))
            #expect(startup.replayed == 30)
            #expect(try await replica.stateRoot() == root)
            #expect(try await replica.frontier() == frontier)
            log = try await replica.feedLog(space)
            #expect(log.prunedAnchor == pruned)
            #expect(prunedError { _ = try log.entry(at: 1) } != nil)
            #expect(try await replica.append(put("after", [:])) == 231)

            // A peer that has entries up to the pruned point verifies and applies the rest from us.
            let other = try await openReplica(ObjectStore.self, Path.join(dir, "peer"), space: space, identity: peer)
            for batch in early.prefix(Int(pruned.seq)) { try await other.ingest(batch) }
            try await transfer(space, from: replica, to: other)
            #expect(try await other.storedLength(space) == 231)
            #expect(try await other.stateRoot() == replica.stateRoot())
            #expect(try await other.read { $0.liveCount } == 231)
            await other.close()
            await replica.close()
        }
    }

    /// `compact()` prunes only what every kept snapshot covers.
    @Test func compactKeepsWhatTheOldestKeptSnapshotNeeds() async throws {
        try await withTemporaryDirectory { dir in
            let g = testKeyPair(112)
            let space = g.publicKey
            let options = fastOptions(snapshotsKept: 2, segmentBytes: 4096)
            let replica = try await openReplica(ObjectStore.self, dir, space: space, identity: g, options: options)
            for i in 0..<120 { try await replica.append(put("obj-\(i)", ["v": .string(String(repeating: "y", count: 40))])) }
            let first = try await replica.snapshotNow().manifest
            for i in 120..<240 { try await replica.append(put("obj-\(i)", ["v": .string(String(repeating: "z", count: 40))])) }
            try await replica.snapshotNow()
            let log = try await replica.feedLog(space)
            #expect(log.prunedAnchor == nil)  // compaction is off: nothing pruned by the snapshots

            try await replica.compact()
            let pruned = try #require(log.prunedAnchor)
            #expect(pruned.seq > 0)
            #expect(pruned.seq <= first.frontier.seq(of: space))
            #expect(prunedError { _ = try log.entry(at: 1) } != nil)
            #expect(try log.entry(at: first.frontier.seq(of: space) + 1).seq == 121)
            let root = try await replica.stateRoot()
            await replica.close()

            // Either kept snapshot still loads on its own.
            let reopened = try await openReplica(ObjectStore.self, dir, space: space, identity: g, options: options)
            #expect(await reopened.startup.replayed == 0)
            #expect(try await reopened.stateRoot() == root)
            await reopened.close()
            for name in try Directory.list(Path.join(dir, "snapshots/manifests")) where !name.hasPrefix(first.id.hex) {
                try RawFile.remove(Path.join(Path.join(dir, "snapshots/manifests"), name))
            }
            let fromOlder = try await openReplica(ObjectStore.self, dir, space: space, identity: g, options: options)
            #expect(await fromOlder.startup.source == .snapshot(id: first.id.hex, entries: 120))
            #expect(await fromOlder.startup.replayed == 120)
            #expect(try await fromOlder.stateRoot() == root)
            await fromOlder.close()
        }
    }
}
