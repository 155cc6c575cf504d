import SheafCrypto
import SheafFeedLog
import SheafFeeds
import SheafFiles
import Testing

@Suite("FeedLog append rejections")
struct FeedLogAppendRejectionTests {
    let options = FeedStore.Options(durability: .none)

    /// The log's observable state and file sizes, to check a rejection changed nothing.
    func fingerprint(_ log: FeedLog) throws -> [String] {
        var parts = ["\(log.length)", "\(log.tip)", "\(log.lastLamport)", "\(String(describing: log.latestHead))",
                     "\(log.signedHeadSeqs)"]
        for name in try Directory.list(log.directory) {
            parts.append("\(name):\(try RawFile.size(Path.join(log.directory, name)))")
        }
        return parts
    }

    @Test("a batch that does not continue from the tip is refused")
    func doesNotContinue() throws {
        try withTemporaryDirectory { dir in
            let store = try FeedStore(directory: dir, options: options)
            defer { store.close() }
            var model = FeedModel(keyPair: testKeyPair(30))
            let log = try store.log(model.feed)
            let first = try model.append(3, to: log)
            try model.append(2, to: log)
            let before = try fingerprint(log)

            // The same batch again.
            let again = #expect(throws: FeedLogError.self) { try log.append(first) }
            #expect(again?.code == .doesNotContinue(expected: log.tip, found: first.anchor))

            // A fork built from an older tip.
            var fork = FeedWriter(keyPair: model.keyPair, resumingAfter: first.head.anchor, lamport: 3)
            let forked = try fork.append(testDrafts(batch: 77, count: 2), timestamp: 5)
            let forkError = #expect(throws: FeedLogError.self) { try log.append(forked) }
            #expect(forkError?.code == .doesNotContinue(expected: log.tip, found: first.head.anchor))

            // Same seq as the tip but another hash.
            var sibling = FeedWriter(keyPair: model.keyPair, resumingAfter: first.head.anchor, lamport: 3)
            _ = try sibling.append(testDrafts(batch: 78, count: 2), timestamp: 5)
            let sameSeq = try sibling.append(testDrafts(batch: 79, count: 1), timestamp: 6)
            #expect(sameSeq.anchor.seq == log.length)
            let sameSeqError = #expect(throws: FeedLogError.self) { try log.append(sameSeq) }
            #expect(sameSeqError?.code == .doesNotContinue(expected: log.tip, found: sameSeq.anchor))

            // A batch from the future (one batch skipped).
            var ahead = model.writer
            _ = try ahead.append(testDrafts(batch: 80, count: 1), timestamp: 7)
            let future = try ahead.append(testDrafts(batch: 81, count: 1), timestamp: 8)
            let futureError = #expect(throws: FeedLogError.self) { try log.append(future) }
            #expect(futureError?.code == .doesNotContinue(expected: log.tip, found: future.anchor))

            // A batch for an empty log that does not start at the root.
            let emptyLog = try store.log(testKeyPair(31).publicKey)
            var other = FeedWriter(keyPair: testKeyPair(31))
            _ = try other.append(testDrafts(batch: 0, count: 1), timestamp: 1)
            let second = try other.append(testDrafts(batch: 1, count: 1), timestamp: 2)
            #expect(throws: FeedLogError.self) { try emptyLog.append(second) }
            #expect(emptyLog.length == 0)

            #expect(try fingerprint(log) == before)
            try expectLog(log, holds: model.entries, heads: model.heads)
            // The log still accepts the right continuation.
            try model.append(1, to: log)
            try expectLog(log, holds: model.entries, heads: model.heads)
        }
    }

    @Test("a batch of another feed is refused")
    func wrongFeed() throws {
        try withTemporaryDirectory { dir in
            let store = try FeedStore(directory: dir, options: options)
            defer { store.close() }
            var model = FeedModel(keyPair: testKeyPair(32))
            let log = try store.log(model.feed)
            try model.append(2, to: log)
            let before = try fingerprint(log)

            var stranger = FeedWriter(keyPair: testKeyPair(33))
            let batch = try stranger.append(testDrafts(batch: 0, count: 2), timestamp: 1)
            let error = #expect(throws: FeedLogError.self) { try log.append(batch) }
            #expect(error?.code == .wrongFeed(expected: model.feed, found: batch.feed))

            let emptyLog = try store.log(testKeyPair(34).publicKey)
            let emptyError = #expect(throws: FeedLogError.self) { try emptyLog.append(batch) }
            #expect(emptyError?.code == .wrongFeed(expected: emptyLog.feed, found: batch.feed))
            #expect(emptyLog.length == 0)
            #expect(try fingerprint(log) == before)
        }
    }

    @Test("storeHead refuses bad signatures, heads not at the tip and other feeds' heads")
    func badHeads() throws {
        try withTemporaryDirectory { dir in
            let store = try FeedStore(directory: dir, options: options)
            defer { store.close() }
            var model = FeedModel(keyPair: testKeyPair(35))
            let log = try store.log(model.feed)

            // Nothing to sign in an empty log.
            let root = Entry.root(of: model.feed)
            let empty = #expect(throws: FeedLogError.self) {
                try log.storeHead(SignedHead(signing: model.keyPair, seq: 1, hash: root))
            }
            #expect(empty?.code == .badHead(FeedError(.headMismatch(seq: 1))))

            try model.append(3, to: log)
            try model.append(2, to: log)
            let before = try fingerprint(log)
            let tip = log.tip

            // A signature by another key over the right statement.
            let forged = SignedHead(signing: testKeyPair(36), seq: tip.seq, hash: tip.hash)
            let badSignature = SignedHead(feed: model.feed, seq: tip.seq, hash: tip.hash, signature: forged.signature)
            let signatureError = #expect(throws: FeedLogError.self) { try log.storeHead(badSignature) }
            #expect(signatureError?.code == .badHead(FeedError(.badSignature)))

            // A valid signature over an altered statement.
            var altered = model.heads.last!
            altered.seq -= 1
            let alteredError = #expect(throws: FeedLogError.self) { try log.storeHead(altered) }
            #expect(alteredError?.code == .badHead(FeedError(.badSignature)))

            // Well signed, but not at the tip: an earlier seq, a later one, the tip's seq with another hash.
            for (seq, hash) in [(tip.seq - 1, model.entries[Int(tip.seq) - 2].hash),
                                (tip.seq + 1, tip.hash),
                                (tip.seq, model.entries[0].hash)] {
                let head = SignedHead(signing: model.keyPair, seq: seq, hash: hash)
                try head.verify()
                let error = #expect(throws: FeedLogError.self) { try log.storeHead(head) }
                #expect(error?.code == .badHead(FeedError(.headMismatch(seq: seq))))
            }

            // Another feed's (valid) head.
            let stranger = SignedHead(signing: testKeyPair(36), seq: tip.seq, hash: tip.hash)
            let strangerError = #expect(throws: FeedLogError.self) { try log.storeHead(stranger) }
            #expect(strangerError?.code == .wrongFeed(expected: model.feed, found: stranger.feed))

            #expect(try fingerprint(log) == before)

            // Storing the head the log already has is a no-op.
            try log.storeHead(model.heads.last!)
            #expect(try fingerprint(log) == before)
            try expectLog(log, holds: model.entries, heads: model.heads)
        }
    }
}
