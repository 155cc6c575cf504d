import SheafCrypto
import SheafFeedLog
import SheafFeeds
import SheafFiles
import Testing

/// Crashes are simulated by copying a feed's files while its store is still
/// open (see `CrashImage`): the active segment then has no index checkpoint,
/// exactly as after a process death, and sealed segments have the index
/// written when they were sealed. The image is then cut or damaged and
/// opened by a fresh store.
@Suite("FeedLog crash recovery")
struct FeedLogCrashRecoveryTests {
    /// Three batches of five entries with 20-byte payloads, in one segment.
    func smallImage(_ dir: String, durability: Durability = .none) throws -> CrashImage {
        try makeCrashImage(in: dir, key: 50, durability: durability) { model, log in
            for _ in 0..<3 { try model.append(5, payloadBytes: 20, to: log) }
        }
    }

    /// Several segments; the last holds at least two batches.
    func multiSegmentImage(_ dir: String, key: Int) throws -> CrashImage {
        let image = try makeCrashImage(in: dir, key: key) { model, log in
            for b in 0..<22 { try model.append(3 + b % 3, payloadBytes: 60, to: log) }
        }
        #expect(image.segments.count >= 3)
        #expect(image.last.headCount >= 2)
        // Sealed segments carry their index; the active one does not.
        #expect(image.files.keys.filter { $0.hasSuffix(".idx") }.sorted()
                == image.segments.dropLast().map { String($0.dropLast(4)) + ".idx" })
        return image
    }

    /// Several segments, the last created by (and holding only) the last batch.
    func freshSegmentImage(_ dir: String) throws -> CrashImage {
        let image = try makeCrashImage(in: dir, key: 52) { model, log in
            let firstSegment = Path.join(log.directory, "00000000000000000001.seg")
            while try !RawFile.exists(firstSegment) || RawFile.size(firstSegment) < 4096 { try model.append(5, payloadBytes: 60, to: log) }
            try model.append(3, payloadBytes: 20, to: log)
        }
        #expect(image.segments.count == 2)
        #expect(image.last.headCount == 1)
        #expect(image.last.records.count == 4)
        return image
    }

    @Test("small log cut at every byte offset loses only the torn tail")
    func truncateSmallLogEverywhere() throws {
        try withTemporaryDirectory { dir in
            let image = try smallImage(dir, durability: .fsync)
            #expect(image.segments.count == 1)
            #expect(image.last.records.count == 18)
            let bytes = image.lastBytes
            let lastBatchStart = image.last.records[12].offset
            // Every offset of the last batch is the crash the guarantees are
            // about; earlier cuts must still keep exactly the whole records.
            for cut in 0...bytes.count {
                let kept = image.last.records.prefix { $0.end <= cut }.count
                if cut >= lastBatchStart { #expect(kept >= 12) }
                try expectRecovery(image: image, files: image.withLastSegment(Array(bytes[..<cut])),
                                   damagedSize: cut, keptRecords: kept, storeDirectory: Path.join(dir, "store"),
                                   "cut at \(cut) of \(bytes.count)")
            }
        }
    }

    @Test("a tail torn after an index checkpoint is cut the same way")
    func truncateAfterCheckpoint() throws {
        try withTemporaryDirectory { dir in
            let image = try makeCrashImage(in: dir, key: 55) { model, log in
                for _ in 0..<2 { try model.append(5, payloadBytes: 20, to: log) }
                log.checkpoint()
                try model.append(5, payloadBytes: 20, to: log)
            }
            let index = try #require(image.files["00000000000000000001.idx"])
            #expect(!index.isEmpty)
            let bytes = image.lastBytes
            let checkpointed = image.last.records[11].end
            // Cuts inside the checkpointed prefix make the index describe
            // more than the file holds, so it is ignored and the file scanned.
            for cut in (checkpointed - 30)...bytes.count {
                let kept = image.last.records.prefix { $0.end <= cut }.count
                try expectRecovery(image: image, files: image.withLastSegment(Array(bytes[..<cut])),
                                   damagedSize: cut, keptRecords: kept, storeDirectory: Path.join(dir, "store"),
                                   "cut at \(cut) of \(bytes.count), checkpoint at \(checkpointed)")
            }
        }
    }

    @Test("multi-segment log cut at every offset of its last record")
    func truncateLastRecordEverywhere() throws {
        try withTemporaryDirectory { dir in
            let image = try multiSegmentImage(dir, key: 51)
            let bytes = image.lastBytes
            let last = image.last.records.last!
            #expect(last.isHead)
            #expect(last.end == bytes.count)
            for cut in last.offset...bytes.count {
                let kept = image.last.records.prefix { $0.end <= cut }.count
                try expectRecovery(image: image, files: image.withLastSegment(Array(bytes[..<cut])),
                                   damagedSize: cut, keptRecords: kept, storeDirectory: Path.join(dir, "store"),
                                   "cut at \(cut) of \(bytes.count)")
            }
        }
    }

    @Test("a freshly created last segment cut at every offset, torn header included")
    func truncateFreshSegmentEverywhere() throws {
        try withTemporaryDirectory { dir in
            let image = try freshSegmentImage(dir)
            let bytes = image.lastBytes
            for cut in 0...bytes.count {
                let kept = image.last.records.prefix { $0.end <= cut }.count
                try expectRecovery(image: image, files: image.withLastSegment(Array(bytes[..<cut])),
                                   damagedSize: cut, keptRecords: kept, storeDirectory: Path.join(dir, "store"),
                                   "cut at \(cut) of \(bytes.count)")
            }
        }
    }

    @Test("the last record damaged at every byte is cut off as a torn tail")
    func corruptLastRecordEverywhere() throws {
        try withTemporaryDirectory { dir in
            let images = [try smallImage(dir), try multiSegmentImage(dir, key: 53)]
            var random = SeededGenerator(seed: 0x5EED)
            for (n, image) in images.enumerated() {
                let bytes = image.lastBytes
                let last = image.last.records.last!
                for offset in last.offset..<last.end {
                    let other = UInt8.random(in: 0...254, using: &random)
                    let damages: [(String, UInt8)] = [("xor 0xFF", bytes[offset] ^ 0xFF),
                                                      ("set", other >= bytes[offset] ? other + 1 : other)]
                    for (how, value) in damages {
                        #expect(value != bytes[offset])
                        var damaged = bytes
                        damaged[offset] = value
                        try expectRecovery(image: image, files: image.withLastSegment(damaged),
                                           damagedSize: bytes.count, keptRecords: image.last.records.count - 1,
                                           storeDirectory: Path.join(dir, "store\(n)"),
                                           "image \(n): byte \(offset) \(how) \(value)")
                    }
                }
            }
        }
    }

    @Test("entries whose batch head was torn are kept, and the writer re-signs them")
    func tornHeadKeepsEntries() throws {
        try withTemporaryDirectory { dir in
            let image = try smallImage(dir)
            let store = Path.join(dir, "store")
            let feedDirectory = Path.join(Path.join(store, "feeds"), image.model.feed.hex)
            let head = image.last.records.last!
            // The crash tore the last batch's head record: 20 of its bytes reached the disk.
            try installFiles(image.withLastSegment(Array(image.lastBytes[..<(head.offset + 20)])), in: feedDirectory)

            let options = FeedStore.Options(durability: .none)
            var model = image.model
            let previousHead = model.heads[1]
            do {
                let store = try FeedStore(directory: store, options: options)
                defer { store.close() }
                let log = try store.log(model.feed)
                #expect(log.recovery?.truncatedAt == UInt64(head.offset))
                #expect(log.recovery?.bytesDropped == 20)
                #expect(log.recovery?.lastSeq == 15)
                #expect(log.length == 15)
                #expect(log.latestHead == previousHead)
                #expect(log.signedHeadSeqs == [5, 10])
                try expectLog(log, holds: model.entries, heads: [model.heads[0], previousHead])
                // Entries 11...15 are stored but cannot be proved yet.
                let unproved = #expect(throws: FeedLogError.self) { try log.range(after: 10, through: 15) }
                #expect(unproved?.code == .noSignedHead(seq: 15))

                let writer = FeedWriter(keyPair: model.keyPair, resumingAfter: log.tip, lamport: log.lastLamport)
                let resigned = try #require(writer.signTip())
                #expect(resigned == model.heads[2])  // Ed25519 is deterministic: the torn head, re-made
                try log.storeHead(resigned)
                #expect(log.latestHead == resigned)
                try expectLog(log, holds: model.entries, heads: model.heads)
                let range = try log.range(after: 10, through: 15)
                let verified = try RangeVerifier.verify(encodedRange: range.encodedRange(),
                                                        from: model.anchor(at: 10), feed: model.feed)
                #expect(try verified.entries() == Array(model.entries[10..<15]))
            }
            do {
                let store = try FeedStore(directory: store, options: options)
                defer { store.close() }
                let log = try store.log(model.feed)
                #expect(log.recovery == nil)
                try expectLog(log, holds: model.entries, heads: model.heads)
                // And the writer carries on.
                model = FeedModel(keyPair: model.keyPair, entries: model.entries, heads: model.heads, resumingFrom: log)
                try model.append(2, to: log)
            }
            let reopened = try FeedStore(directory: store, options: options)
            defer { reopened.close() }
            try expectLog(try reopened.log(model.feed), holds: model.entries, heads: model.heads)
        }
    }

    @Test("entries kept after a torn head are covered by the writer's next batch")
    func tornHeadThenNextBatch() throws {
        try withTemporaryDirectory { dir in
            let image = try multiSegmentImage(dir, key: 54)
            let head = image.last.records.last!
            let store = Path.join(dir, "store")
            let feedDirectory = Path.join(Path.join(store, "feeds"), image.model.feed.hex)
            try installFiles(image.withLastSegment(Array(image.lastBytes[..<head.offset])), in: feedDirectory)

            let fs = try FeedStore(directory: store, options: .init(durability: .none, segmentBytes: 4096))
            defer { fs.close() }
            let log = try fs.log(image.model.feed)
            #expect(log.recovery == nil)  // cut at a record boundary
            var model = FeedModel(keyPair: image.model.keyPair, entries: image.model.entries,
                                  heads: Array(image.model.heads.dropLast()), resumingFrom: log)
            let covered = model.heads.last!.seq
            try model.append(2, to: log)
            try expectLog(log, holds: model.entries, heads: model.heads)
            let range = try log.range(after: covered, through: log.length)
            let verified = try RangeVerifier.verify(encodedRange: range.encodedRange(),
                                                    from: model.anchor(at: covered), feed: model.feed)
            #expect(try verified.entries() == Array(model.entries[Int(covered)...]))
        }
    }

    @Test("a last segment with a torn header is removed and reported")
    func tornSegmentHeader() throws {
        try withTemporaryDirectory { dir in
            let image = try freshSegmentImage(dir)
            let store = Path.join(dir, "store")
            let feedDirectory = Path.join(Path.join(store, "feeds"), image.model.feed.hex)
            for size in [0, 1, 10, 63] {
                try installFiles(image.withLastSegment(Array(image.lastBytes[..<size])), in: feedDirectory)
                let fs = try FeedStore(directory: store, options: .init(durability: .fsync, segmentBytes: 4096))
                defer { fs.close() }
                let log = try fs.log(image.model.feed)
                let lastPath = Path.join(feedDirectory, image.last.name)
                #expect(!RawFile.exists(lastPath))
                #expect(log.recovery?.segment == lastPath)
                #expect(log.recovery?.truncatedAt == 0)
                #expect(log.recovery?.bytesDropped == UInt64(size))
                #expect(log.recovery?.lastSeq == image.last.baseSeq - 1)
                #expect(log.segmentCount == 1)
                #expect(try segmentNames(in: feedDirectory) == [image.segments[0]])
                try expectLog(log, holds: Array(image.model.entries.prefix(Int(image.last.baseSeq - 1))),
                              heads: Array(image.model.heads.dropLast()), "header cut to \(size)")
                // The next batch recreates the segment.
                var model = FeedModel(keyPair: image.model.keyPair, entries: Array(image.model.entries.prefix(Int(log.length))),
                                      heads: Array(image.model.heads.dropLast()), resumingFrom: log)
                try model.append(1, to: log)
                #expect(RawFile.exists(lastPath))
                #expect(log.segmentCount == 2)
                try expectLog(log, holds: model.entries, heads: model.heads)
            }
        }
    }
}
