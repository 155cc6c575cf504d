import SheafCrypto
import SheafFeedLog
import SheafFeeds
import SheafFiles
import Testing

@Suite("FeedLog round trip")
struct FeedLogRoundTripTests {
    /// Appends batches of varied sizes (empty to multi-kilobyte payloads, some
    /// with dependencies) and checks the log's state after each one.
    static func writeVariedBatches(to log: FeedLog, model: inout FeedModel, batches: Int) throws {
        let other = testKeyPair(900).publicKey
        let third = testKeyPair(901).publicKey
        let sizes = [1, 4, 7, 2, 5, 3, 6, 1, 8, 2, 5, 4]
        for b in 0..<batches {
            let count = sizes[b % sizes.count]
            let drafts = testDrafts(
                batch: b, count: count,
                payloadBytes: { i in [0, 20, 150, 3, 700, 64][(b + i) % 6] + (b == 3 && i == 0 ? 5_000 : 0) },
                dependencies: { i in
                    switch (b + i) % 4 {
                    case 1: [Dependency(feed: other, seq: UInt64(b + 1))]
                    case 2: [Dependency(feed: third, seq: 9), Dependency(feed: other, seq: 2)]
                    default: []
                    }
                })
            let batch = try model.sign(drafts, timestamp: 1_700_000_000_000)
            try log.append(batch)

            #expect(log.length == batch.head.seq)
            #expect(log.tip == batch.head.anchor)
            #expect(log.latestHead == batch.head)
            #expect(log.lastLamport == model.entries.last!.lamport)
            #expect(log.lastLamport == UInt64(model.entries.count))
        }
        // The batches really carried what was asked.
        #expect(model.entries.contains { !$0.dependencies.isEmpty })
        #expect(model.entries.contains { $0.payload.isEmpty })
        #expect(model.entries.contains { $0.payload.count > 4096 })
    }

    @Test("appended batches read back identically across segments")
    func roundTrip() throws {
        try withTemporaryDirectory { dir in
            let store = try FeedStore(directory: dir, options: .init(durability: .none, segmentBytes: 4096))
            defer { store.close() }
            var model = FeedModel(keyPair: testKeyPair(1))
            let log = try store.log(model.feed)
            #expect(log.length == 0)
            #expect(log.tip == .genesis(of: model.feed))
            #expect(log.latestHead == nil)
            #expect(log.lastLamport == 0)
            #expect(log.recovery == nil)
            #expect(log.segmentCount == 0)

            try Self.writeVariedBatches(to: log, model: &model, batches: 12)
            #expect(log.segmentCount > 2)
            #expect(try segmentNames(in: log.directory).count == log.segmentCount)
            try expectLog(log, holds: model.entries, heads: model.heads)
            #expect(try store.storedFeeds() == [model.feed])

            // Every sub-range, including those spanning segments.
            let length = log.length
            for from in 1...length {
                for through in from...length {
                    let entries = try log.entries(from: from, through: through)
                    #expect(entries == Array(model.entries[Int(from - 1)..<Int(through)]), "\(from)...\(through)")
                }
            }
            #expect(try log.entries(from: 5, through: 4).isEmpty)
            let zero = #expect(throws: FeedLogError.self) { try log.entry(at: 0) }
            #expect(zero?.code == .outOfRange(seq: 0, length: length))
            #expect(throws: FeedLogError.self) { try log.entries(from: 1, through: length + 1) }
            #expect(throws: FeedLogError.self) { try log.hash(at: length + 1) }
        }
    }

    @Test("range(after:through:) gives batches a receiver verifies")
    func ranges() throws {
        try withTemporaryDirectory { dir in
            let store = try FeedStore(directory: dir, options: .init(durability: .none, segmentBytes: 4096))
            defer { store.close() }
            var model = FeedModel(keyPair: testKeyPair(2))
            let log = try store.log(model.feed)
            try Self.writeVariedBatches(to: log, model: &model, batches: 10)
            #expect(log.segmentCount > 1)

            let headSeqs = Set(model.heads.map(\.seq))
            for head in model.heads {
                for after in 0..<head.seq {
                    let batch = try log.range(after: after, through: head.seq)
                    #expect(batch.anchor == model.anchor(at: after))
                    #expect(batch.head == head)
                    let received = try RangeVerifier.verify(encodedRange: batch.encodedRange(),
                                                            from: model.anchor(at: after), feed: model.feed)
                    #expect(received.head == head)
                    #expect(try received.entries() == Array(model.entries[Int(after)..<Int(head.seq)]))
                    // The wrong anchor is refused by the receiver.
                    if after > 0 {
                        #expect(throws: FeedError.self) {
                            try RangeVerifier.verify(encodedRange: batch.encodedRange(),
                                                     from: model.anchor(at: after - 1), feed: model.feed)
                        }
                    }
                }
            }
            for seq in 1...log.length where !headSeqs.contains(seq) {
                let error = #expect(throws: FeedLogError.self) { try log.range(after: 0, through: seq) }
                #expect(error?.code == .noSignedHead(seq: seq))
            }
            let beyond = #expect(throws: FeedLogError.self) { try log.range(after: 0, through: log.length + 1) }
            #expect(beyond?.code == .noSignedHead(seq: log.length + 1))
            let empty = #expect(throws: FeedError.self) { try log.range(after: 3, through: 3) }
            #expect(empty?.code == .emptyRange)
        }
    }

    @Test("fsync durability stores the same data, and it survives a reopen")
    func fsyncRoundTrip() throws {
        try withTemporaryDirectory { dir in
            var model = FeedModel(keyPair: testKeyPair(3))
            do {
                let store = try FeedStore(directory: dir, options: .init(durability: .fsync, segmentBytes: 4096))
                defer { store.close() }
                let log = try store.log(model.feed)
                try Self.writeVariedBatches(to: log, model: &model, batches: 6)
                #expect(log.segmentCount > 1)
                try expectLog(log, holds: model.entries, heads: model.heads)
            }
            let store = try FeedStore(directory: dir, options: .init(durability: .fsync, segmentBytes: 4096))
            defer { store.close() }
            let log = try store.log(model.feed)
            #expect(log.recovery == nil)
            try expectLog(log, holds: model.entries, heads: model.heads)
        }
    }

    @Test("logs of several feeds in one store are independent")
    func severalFeeds() throws {
        try withTemporaryDirectory { dir in
            let store = try FeedStore(directory: dir, options: .init(durability: .none, segmentBytes: 4096))
            defer { store.close() }
            var models = (10..<13).map { FeedModel(keyPair: testKeyPair($0)) }
            for round in 0..<4 {
                for i in models.indices {
                    try models[i].append(round + i + 1, payloadBytes: 100 * i, to: try store.log(models[i].feed))
                }
            }
            for model in models {
                let log = try store.log(model.feed)
                #expect(log === (try store.log(model.feed)))
                try expectLog(log, holds: model.entries, heads: model.heads)
            }
            #expect(try store.storedFeeds() == models.map(\.feed).sorted())

            // Removing one feed leaves the others.
            try store.remove(models[1].feed)
            #expect(try store.storedFeeds() == [models[0].feed, models[2].feed].sorted())
            let fresh = try store.log(models[1].feed)
            #expect(fresh.length == 0)
            #expect(fresh.segmentCount == 0)
            try expectLog(try store.log(models[2].feed), holds: models[2].entries, heads: models[2].heads)
        }
    }

    @Test("a closed store and its logs refuse use")
    func closedStore() throws {
        try withTemporaryDirectory { dir in
            let store = try FeedStore(directory: dir, options: .init(durability: .none))
            var model = FeedModel(keyPair: testKeyPair(4))
            let log = try store.log(model.feed)
            try model.append(3, to: log)
            let next = try model.sign(testDrafts(batch: 9, count: 1))
            store.close()
            store.close()  // idempotent

            #expect(throws: FeedLogError(.closed)) { try store.log(model.feed) }
            #expect(throws: FeedLogError(.closed)) { try log.append(next) }
            #expect(throws: FeedLogError(.closed)) { try log.entry(at: 1) }
            #expect(throws: FeedLogError(.closed)) { try log.entries(from: 1, through: 3) }
            #expect(throws: FeedLogError(.closed)) { try log.signedHead(at: 3) }
            #expect(throws: FeedLogError(.closed)) { try log.range(after: 0, through: 3) }
            #expect(store.openDescriptors == 0)
        }
    }
}
