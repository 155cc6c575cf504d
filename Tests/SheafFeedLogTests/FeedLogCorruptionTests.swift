import SheafCrypto
import SheafFeedLog
import SheafFeeds
import SheafFiles
import Testing

/// Damage that is not a torn tail: bytes changed in a record that intact
/// records follow (so its batch was acknowledged), in a sealed segment, in a
/// region an index covers, or in a segment header.
@Suite("FeedLog corruption")
struct FeedLogCorruptionTests {
    let options = FeedStore.Options(durability: .none, segmentBytes: 4096)

    /// Positions inside a record: length, checksum, kind and payload bytes.
    func damagePositions(_ record: RawRecord) -> [(field: String, offset: Int)] {
        [("length[0]", 0), ("length[1]", 1), ("length[3]", 3), ("checksum[0]", 4), ("checksum[3]", 7),
         ("kind", 8), ("payload[0]", 9), ("payload[mid]", 9 + (record.size - 9) / 2), ("payload[last]", record.size - 1)]
            .map { ($0.0, record.offset + $0.1) }
    }

    /// The seq a `.corrupt` error names for damage to record `index` met
    /// while scanning: the first entry not known good. For an entry record
    /// that is its own seq; a damaged frame's kind cannot be trusted, so for
    /// a head record it is the entry after the head's.
    func scanSeq(_ layout: SegmentLayout, _ index: Int) -> UInt64 {
        layout.seq(ofRecord: index) + (layout.records[index].isHead ? 1 : 0)
    }

    func multiSegmentModel(_ write: (inout FeedModel, FeedLog) throws -> Void = { model, log in
        for b in 0..<22 { try model.append(3 + b % 3, payloadBytes: 60, to: log) }
    }, dir: String, key: Int) throws -> CrashImage {
        let image = try makeCrashImage(in: dir, key: key, write)
        #expect(image.segments.count >= 3)
        return image
    }

    /// Opens the store and expects opening the feed's log to fail as corrupt at `seq`.
    func expectOpenFails(store: String, feed: PublicKey, seq: UInt64, segment: String, offset: UInt64,
                         _ context: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let fs = try FeedStore(directory: store, options: options)
        defer { fs.close() }
        let error = thrownError { _ = try fs.log(feed) }
        let found = corruption(error)
        #expect(found != nil, "\(context): \(String(describing: error))", sourceLocation: sourceLocation)
        #expect(found?.feed == feed, Comment(rawValue: context), sourceLocation: sourceLocation)
        #expect(found?.seq == seq, Comment(rawValue: context), sourceLocation: sourceLocation)
        #expect(found?.segment == segment, Comment(rawValue: context), sourceLocation: sourceLocation)
        #expect(found?.offset == offset, Comment(rawValue: context), sourceLocation: sourceLocation)
        // Still refused on a second attempt: nothing was "repaired" away.
        #expect(throws: FeedLogError.self, Comment(rawValue: context), sourceLocation: sourceLocation) {
            _ = try fs.log(feed)
        }
    }

    @Test("damage followed by intact records in the active segment fails the open, naming the seq")
    func damageBeforeIntactRecords() throws {
        try withTemporaryDirectory { dir in
            let image = try multiSegmentModel(dir: dir, key: 60)
            let store = Path.join(dir, "store")
            let feedDirectory = Path.join(Path.join(store, "feeds"), image.model.feed.hex)
            let lastPath = Path.join(feedDirectory, image.last.name)
            let bytes = image.lastBytes
            // Every record but the last has an intact record after it.
            for (i, record) in image.last.records.enumerated().dropLast() {
                for (field, offset) in damagePositions(record) {
                    var damaged = bytes
                    damaged[offset] ^= 0xFF
                    try installFiles(image.withLastSegment(damaged), in: feedDirectory)
                    let context = "record \(i) (\(record.isEntry ? "entry" : "head") \(image.last.seq(ofRecord: i))) \(field)"
                    try expectOpenFails(store: store, feed: image.model.feed, seq: scanSeq(image.last, i),
                                        segment: lastPath, offset: UInt64(record.offset), context)
                    // The damaged segment is left as it was.
                    #expect(try RawFile.read(lastPath) == damaged, Comment(rawValue: context))
                }
            }
        }
    }

    @Test("damage in a sealed segment without an index fails the open, even at its end")
    func damageInSealedSegment() throws {
        try withTemporaryDirectory { dir in
            let image = try multiSegmentModel(dir: dir, key: 61)
            let store = Path.join(dir, "store")
            let feedDirectory = Path.join(Path.join(store, "feeds"), image.model.feed.hex)
            let name = image.segments[1]
            let layout = try SegmentLayout(name: name, bytes: image.files[name]!)
            #expect(layout.baseSeq > 1)
            let files = image.files.filter { !$0.key.hasSuffix(".idx") }
            for (i, record) in layout.records.enumerated() {
                for (field, offset) in damagePositions(record) where field == "kind" || field == "payload[last]" {
                    var damaged = files
                    damaged[name]![offset] ^= 0xFF
                    try installFiles(damaged, in: feedDirectory)
                    try expectOpenFails(store: store, feed: image.model.feed, seq: scanSeq(layout, i),
                                        segment: Path.join(feedDirectory, name), offset: UInt64(record.offset),
                                        "segment \(name) record \(i) \(field)")
                }
            }
        }
    }

    @Test("damage inside an indexed region is reported when read")
    func damageUnderIndex() throws {
        try withTemporaryDirectory { dir in
            let image = try multiSegmentModel(dir: dir, key: 62)
            let model = image.model
            let length = UInt64(model.entries.count)
            let store = Path.join(dir, "store")
            let feedDirectory = Path.join(Path.join(store, "feeds"), model.feed.hex)
            // A clean close: every segment, the active one too, has an index.
            let closed: [String: [UInt8]]
            do {
                try installFiles(image.files, in: feedDirectory)
                let fs = try FeedStore(directory: store, options: options)
                _ = try fs.log(model.feed)
                fs.close()
                closed = try snapshotFiles(in: feedDirectory)
                #expect(closed.keys.filter { $0.hasSuffix(".idx") }.count == image.segments.count)
            }
            let headSeqs = model.heads.map(\.seq)

            // Entry records in a sealed segment and in the active one (not its tip entry).
            var targets: [(name: String, layout: SegmentLayout, record: Int)] = []
            for name in [image.segments[0], image.segments[1], image.last.name] {
                let layout = try SegmentLayout(name: name, bytes: closed[name]!)
                let entries = layout.records.indices.filter { layout.records[$0].isEntry }
                for i in [entries[0], entries[entries.count / 2], entries[entries.count - 2]] {
                    targets.append((name, layout, i))
                }
            }
            for (name, layout, i) in targets {
                let record = layout.records[i]
                let seq = layout.seq(ofRecord: i)
                for (field, offset) in damagePositions(record) {
                    var damaged = closed
                    damaged[name]![offset] ^= 0xFF
                    try installFiles(damaged, in: feedDirectory)
                    let context = "entry \(seq) \(field)"
                    let note = Comment(rawValue: context)
                    let fs = try FeedStore(directory: store, options: options)
                    defer { fs.close() }
                    let log = try fs.log(model.feed)
                    #expect(log.recovery == nil, note)
                    #expect(log.length == length, note)
                    #expect(log.latestHead == model.heads.last, note)

                    func expectCorrupt(_ what: String, _ body: () throws -> Void) {
                        let found = corruption(thrownError(body))
                        #expect(found?.feed == model.feed, "\(context): \(what)")
                        #expect(found?.seq == seq, "\(context): \(what)")
                        #expect(found?.segment == Path.join(feedDirectory, name), "\(context): \(what)")
                        #expect(found?.offset == UInt64(record.offset), "\(context): \(what)")
                    }
                    expectCorrupt("entry(at:)") { _ = try log.entry(at: seq) }
                    expectCorrupt("hash(at:)") { _ = try log.hash(at: seq) }
                    expectCorrupt("entries(1...)") { _ = try log.entries(from: 1, through: length) }
                    expectCorrupt("entries(seq...seq)") { _ = try log.entries(from: seq, through: seq) }
                    expectCorrupt("verifyIntegrity") { try log.verifyIntegrity() }
                    let coveringHead = headSeqs.first { $0 >= seq }!
                    expectCorrupt("range") { _ = try log.range(after: seq - 1, through: coveringHead) }

                    // Everything else still reads.
                    #expect(try log.entries(from: seq + 1, through: length) == Array(model.entries[Int(seq)...]), note)
                    if seq > 1 {
                        #expect(try log.entries(from: 1, through: seq - 1) == Array(model.entries[..<Int(seq - 1)]), note)
                        #expect(try log.entry(at: seq - 1) == model.entries[Int(seq) - 2], note)
                    }
                    #expect(try log.entry(at: seq + 1) == model.entries[Int(seq)], note)
                    if let later = headSeqs.first(where: { $0 > seq + 1 }) {
                        let batch = try log.range(after: seq + 1, through: later)
                        #expect(try RangeVerifier.verify(encodedRange: batch.encodedRange(), from: model.anchor(at: seq + 1),
                                                         feed: model.feed).entries() == Array(model.entries[Int(seq + 1)..<Int(later)]), note)
                    }
                }
            }
        }
    }

    @Test("damage to an indexed head is reported when read; to the tip entry or newest head, at open")
    func damagedHeadsUnderIndex() throws {
        try withTemporaryDirectory { dir in
            let image = try multiSegmentModel(dir: dir, key: 63)
            let model = image.model
            let length = UInt64(model.entries.count)
            let store = Path.join(dir, "store")
            let feedDirectory = Path.join(Path.join(store, "feeds"), model.feed.hex)
            try installFiles(image.files, in: feedDirectory)
            do {
                let fs = try FeedStore(directory: store, options: options)
                _ = try fs.log(model.feed)
                fs.close()
            }
            let closed = try snapshotFiles(in: feedDirectory)
            let layout = try SegmentLayout(name: image.last.name, bytes: closed[image.last.name]!)
            let lastPath = Path.join(feedDirectory, image.last.name)

            // A head in the middle of the active segment.
            let middle = layout.records.indices.first { layout.records[$0].isHead }!
            let h = layout.seq(ofRecord: middle)
            #expect(h < length)
            for (field, offset) in damagePositions(layout.records[middle]) {
                var damaged = closed
                damaged[image.last.name]![offset] ^= 0xFF
                try installFiles(damaged, in: feedDirectory)
                let fs = try FeedStore(directory: store, options: options)
                defer { fs.close() }
                let log = try fs.log(model.feed)
                #expect(log.recovery == nil)
                #expect(log.signedHeadSeqs == model.heads.map(\.seq))
                let direct = corruption(thrownError { _ = try log.signedHead(at: h) })
                #expect(direct?.seq == h, "head \(h) \(field)")
                #expect(direct?.offset == UInt64(layout.records[middle].offset), "head \(h) \(field)")
                #expect(corruption(thrownError { _ = try log.range(after: 0, through: h) })?.seq == h, "head \(h) \(field)")
                // Streaming meets the damaged frame before entry h + 1.
                let streamed = corruption(thrownError { try log.verifyIntegrity() })
                #expect(streamed?.seq == h + 1, "head \(h) \(field)")
                #expect(streamed?.offset == UInt64(layout.records[middle].offset), "head \(h) \(field)")
                // Entries and other heads still read.
                #expect(try log.entries(from: h + 1, through: length) == Array(model.entries[Int(h)...]))
                #expect(try log.entry(at: h) == model.entries[Int(h) - 1])
                #expect(try log.signedHead(at: length) == model.heads.last)
            }

            // The tip entry and the newest head are read at open.
            let tipEntry = layout.records.count - 2
            let newestHead = layout.records.count - 1
            #expect(layout.records[tipEntry].isEntry && layout.records[newestHead].isHead)
            for (index, what) in [(tipEntry, "tip entry"), (newestHead, "newest head")] {
                for (field, offset) in damagePositions(layout.records[index]) {
                    var damaged = closed
                    damaged[image.last.name]![offset] ^= 0xFF
                    try installFiles(damaged, in: feedDirectory)
                    try expectOpenFails(store: store, feed: model.feed, seq: length, segment: lastPath,
                                        offset: UInt64(layout.records[index].offset), "\(what) \(field)")
                }
            }
        }
    }

    @Test("a damaged last-segment header followed by intact records is corruption, not a torn header")
    func damagedHeaderOfLastSegment() throws {
        try withTemporaryDirectory { dir in
            let image = try multiSegmentModel(dir: dir, key: 64)
            let store = Path.join(dir, "store")
            let feedDirectory = Path.join(Path.join(store, "feeds"), image.model.feed.hex)
            let lastPath = Path.join(feedDirectory, image.last.name)
            // magic, version, feed key, base seq, checksum.
            for offset in [0, 7, 8, 20, 48, 56] {
                var damaged = image.lastBytes
                damaged[offset] ^= 0xFF
                try installFiles(image.withLastSegment(damaged), in: feedDirectory)
                try expectOpenFails(store: store, feed: image.model.feed, seq: image.last.baseSeq,
                                    segment: lastPath, offset: 0, "header byte \(offset)")
                // The acknowledged entries it holds were not deleted.
                #expect(try RawFile.read(lastPath) == damaged, "header byte \(offset)")
            }
            // A header whose bytes are damaged and nothing intact after it
            // (a new segment whose write never completed) is a torn header.
            var torn = Array(image.lastBytes[..<(SegmentLayout.headerSize + 30)])
            torn[5] ^= 0xFF
            try expectRecovery(image: image, files: image.withLastSegment(torn), damagedSize: torn.count,
                               keptRecords: 0, storeDirectory: store, "torn damaged header")
        }
    }

    @Test("a damaged header of an earlier segment fails the open")
    func damagedHeaderOfSealedSegment() throws {
        try withTemporaryDirectory { dir in
            let image = try multiSegmentModel(dir: dir, key: 65)
            let store = Path.join(dir, "store")
            let feedDirectory = Path.join(Path.join(store, "feeds"), image.model.feed.hex)
            let name = image.segments[1]
            let base = try SegmentLayout(name: name, bytes: image.files[name]!).baseSeq
            for offset in [0, 30, 50, 60 - 1] {
                var files = image.files
                files[name]![offset] ^= 0xFF
                try installFiles(files, in: feedDirectory)
                try expectOpenFails(store: store, feed: image.model.feed, seq: base,
                                    segment: Path.join(feedDirectory, name), offset: 0, "header byte \(offset)")
            }
            // Cut to less than a header: also corruption, since it is not the last segment.
            var files = image.files
            files[name] = Array(files[name]![..<40])
            try installFiles(files, in: feedDirectory)
            try expectOpenFails(store: store, feed: image.model.feed, seq: base,
                                segment: Path.join(feedDirectory, name), offset: 0, "sealed header cut")
        }
    }

    @Test("a missing segment or another feed's segment fails the open")
    func foreignOrMissingSegments() throws {
        try withTemporaryDirectory { dir in
            let image = try multiSegmentModel(dir: dir, key: 66)
            let other = try multiSegmentModel(dir: Path.join(dir, "other"), key: 67)
            let store = Path.join(dir, "store")
            let feedDirectory = Path.join(Path.join(store, "feeds"), image.model.feed.hex)

            // The middle segment is missing: entries between are gone.
            var files = image.files
            let missing = image.segments[1]
            files[missing] = nil
            files[String(missing.dropLast(4)) + ".idx"] = nil
            try installFiles(files, in: feedDirectory)
            let missingBase = try SegmentLayout(name: missing, bytes: image.files[missing]!).baseSeq
            try expectOpenFails(store: store, feed: image.model.feed, seq: missingBase,
                                segment: Path.join(feedDirectory, image.segments[2]), offset: 0, "missing segment")

            // The first segment is another feed's.
            files = image.files
            files[image.segments[0]] = other.files[other.segments[0]]
            try installFiles(files, in: feedDirectory)
            try expectOpenFails(store: store, feed: image.model.feed, seq: 1,
                                segment: Path.join(feedDirectory, image.segments[0]), offset: 0, "foreign segment")
        }
    }
}
