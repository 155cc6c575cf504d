import SheafCrypto
import SheafFeedLog
import SheafFeeds
import SheafFiles
import Testing

/// `start(after:)`: a log that continues from a snapshot's frontier, its
/// earlier history held only by the snapshot.
@Suite("FeedLog start(after:)")
struct FeedLogStartAfterTests {
    let options = FeedStore.Options(durability: .none, segmentBytes: 4096)

    /// A writer's first `count` entries, signed but never stored: the history
    /// a snapshot covers. Returns the model (its writer continues after them).
    func history(key: Int, count: Int) throws -> FeedModel {
        var model = FeedModel(keyPair: testKeyPair(key))
        _ = try model.sign(testDrafts(batch: 0, count: count))
        return model
    }

    @Test("an empty log starts after an anchor: length, tip, pruned history, and the next batch")
    func emptyLogStarts() throws {
        try withTemporaryDirectory { dir in
            let store = try FeedStore(directory: dir, options: options)
            defer { store.close() }
            var model = try history(key: 40, count: 5)
            let anchor = model.anchor(at: 5)
            let log = try store.log(model.feed)
            try log.start(after: anchor)

            #expect(log.length == 5)
            #expect(log.tip == anchor)
            #expect(log.prunedAnchor == anchor)
            #expect(log.latestHead == nil)
            #expect(log.signedHeadSeqs.isEmpty)
            #expect(try log.hash(at: 5) == anchor.hash)
            for seq: UInt64 in 1...5 {
                #expect(log.isPruned(seq))
                let error = #expect(throws: FeedLogError.self) { try log.entry(at: seq) }
                #expect(error?.code == .pruned(seq: seq, through: 5))
            }
            #expect(!log.isPruned(6))

            // The writer's next batch continues from the anchor and is stored.
            let batch = try model.append(3, to: log)
            #expect(batch.anchor == anchor)
            #expect(log.length == 8)
            #expect(log.tip == batch.head.anchor)
            #expect(log.latestHead == batch.head)
            #expect(try log.entries(from: 6, through: 8) == Array(model.entries[5..<8]))
            let served = try log.range(after: 5, through: 8)
            #expect(served.anchor == anchor)
            #expect(try served.entries() == Array(model.entries[5..<8]))
            #expect(throws: FeedLogError.self) { try log.range(after: 4, through: 8) }
            try log.verifyIntegrity()
        }
    }

    @Test("after starting, a batch that does not continue from the anchor is refused")
    func refusesOtherBatches() throws {
        try withTemporaryDirectory { dir in
            let store = try FeedStore(directory: dir, options: options)
            defer { store.close() }
            var model = try history(key: 41, count: 5)
            let log = try store.log(model.feed)
            try log.start(after: model.anchor(at: 5))

            // From the genesis: the writer's very first batch.
            var fresh = FeedWriter(keyPair: model.keyPair)
            let fromStart = try fresh.append(testDrafts(batch: 9, count: 2), timestamp: 1)
            let early = #expect(throws: FeedLogError.self) { try log.append(fromStart) }
            #expect(early?.code == .doesNotContinue(expected: model.anchor(at: 5), found: fromStart.anchor))

            // From seq 5 but another hash (another history).
            var other = FeedWriter(keyPair: model.keyPair, resumingAfter: FeedAnchor(seq: 5, hash: Hash.of([1], domain: HashDomain("test"))), lamport: 5)
            let sibling = try other.append(testDrafts(batch: 10, count: 1), timestamp: 2)
            let wrongHash = #expect(throws: FeedLogError.self) { try log.append(sibling) }
            #expect(wrongHash?.code == .doesNotContinue(expected: model.anchor(at: 5), found: sibling.anchor))

            // One batch skipped.
            var ahead = model.writer
            _ = try ahead.append(testDrafts(batch: 11, count: 1), timestamp: 3)
            let future = try ahead.append(testDrafts(batch: 12, count: 1), timestamp: 4)
            #expect(throws: FeedLogError.self) { try log.append(future) }

            #expect(log.length == 5)
            #expect(log.tip == model.anchor(at: 5))
            try model.append(1, to: log)
            #expect(log.length == 6)
        }
    }

    @Test("a non-empty log is refused unless it is exactly at the anchor")
    func nonEmptyLog() throws {
        try withTemporaryDirectory { dir in
            let store = try FeedStore(directory: dir, options: options)
            defer { store.close() }
            var model = FeedModel(keyPair: testKeyPair(42))
            let log = try store.log(model.feed)
            try model.append(4, to: log)
            let files = try snapshotFiles(in: log.directory)

            for anchor in [model.anchor(at: 2), model.anchor(at: 0), FeedAnchor(seq: 7, hash: model.anchor(at: 4).hash),
                           FeedAnchor(seq: 4, hash: model.anchor(at: 3).hash)] {
                let error = #expect(throws: FeedLogError.self) { try log.start(after: anchor) }
                #expect(error?.code == .doesNotContinue(expected: anchor, found: model.anchor(at: 4)))
            }
            // Exactly at the anchor: nothing to do, nothing pruned.
            try log.start(after: model.anchor(at: 4))
            #expect(log.prunedAnchor == nil)
            #expect(log.length == 4)
            #expect(try snapshotFiles(in: log.directory) == files)
            try expectLog(log, holds: model.entries, heads: model.heads)
        }
    }

    @Test("a log that already started is refused another anchor but accepts the same one")
    func startedTwice() throws {
        try withTemporaryDirectory { dir in
            let store = try FeedStore(directory: dir, options: options)
            defer { store.close() }
            let model = try history(key: 43, count: 6)
            let log = try store.log(model.feed)
            try log.start(after: model.anchor(at: 6))
            try log.start(after: model.anchor(at: 6))
            let error = #expect(throws: FeedLogError.self) { try log.start(after: model.anchor(at: 3)) }
            #expect(error?.code == .doesNotContinue(expected: model.anchor(at: 3), found: model.anchor(at: 6)))
            #expect(log.prunedAnchor == model.anchor(at: 6))
        }
    }

    @Test("the PRUNED marker survives reopening, with and without entries after it")
    func survivesReopen() throws {
        try withTemporaryDirectory { dir in
            var model = try history(key: 44, count: 7)
            let anchor = model.anchor(at: 7)
            let emptyFeed = try history(key: 45, count: 3)
            do {
                let store = try FeedStore(directory: dir, options: options)
                defer { store.close() }
                let log = try store.log(model.feed)
                try log.start(after: anchor)
                // Enough batches to fill more than one segment.
                for _ in 0..<12 { try model.append(4, payloadBytes: 120, to: log) }
                #expect(log.segmentCount >= 2)
                try store.log(emptyFeed.feed).start(after: emptyFeed.anchor(at: 3))
                #expect(RawFile.exists(Path.join(log.directory, "PRUNED")))
            }
            let store = try FeedStore(directory: dir, options: options)
            defer { store.close() }
            let log = try store.log(model.feed)
            #expect(log.recovery == nil)
            #expect(log.prunedAnchor == anchor)
            #expect(log.length == UInt64(model.entries.count))
            #expect(log.tip == model.anchor(at: UInt64(model.entries.count)))
            #expect(log.latestHead == model.heads.last)
            #expect(log.signedHeadSeqs == model.heads.dropFirst().map(\.seq))
            let pruned = #expect(throws: FeedLogError.self) { try log.entry(at: 7) }
            #expect(pruned?.code == .pruned(seq: 7, through: 7))
            #expect(try log.entries(from: 8, through: log.length) == Array(model.entries[7...]))
            try log.verifyIntegrity()
            try model.append(2, to: log)
            #expect(log.length == UInt64(model.entries.count))

            let empty = try store.log(emptyFeed.feed)
            #expect(empty.prunedAnchor == emptyFeed.anchor(at: 3))
            #expect(empty.tip == emptyFeed.anchor(at: 3))
            #expect(empty.latestHead == nil)
        }
    }
}
