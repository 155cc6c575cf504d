#if canImport(Glibc)
import Glibc
#endif
import SheafCrypto
import SheafFeedLog
import SheafFeeds
import SheafFiles
import Testing
@_exported import SheafTestSupport


/// The regular files of a directory, by name.
func snapshotFiles(in directory: String) throws -> [String: [UInt8]] {
    var files: [String: [UInt8]] = [:]
    for name in try Directory.list(directory) {
        files[name] = try RawFile.read(Path.join(directory, name))
    }
    return files
}

/// Makes `directory` hold exactly `files`.
func installFiles(_ files: [String: [UInt8]], in directory: String) throws {
    try Directory.removeTree(directory)
    try Directory.create(directory, durable: false)
    for (name, bytes) in files { try RawFile.write(bytes, to: Path.join(directory, name)) }
}

func segmentNames(in directory: String) throws -> [String] {
    try Directory.list(directory).filter { $0.hasSuffix(".seg") }
}

func removeIndexFiles(in directory: String) throws {
    for name in try Directory.list(directory) where name.hasSuffix(".idx") {
        try RawFile.remove(Path.join(directory, name))
    }
}

// MARK: - Keys, drafts, batches

/// A deterministic key pair: the seed is `n` (little endian) padded with `tag`.
func testKeyPair(_ n: Int, tag: UInt8 = 0xA5) -> KeyPair {
    var seed = [UInt8](repeating: tag, count: 32)
    withUnsafeBytes(of: UInt64(n).littleEndian) { raw in
        for i in 0..<8 { seed[i] = raw[i] }
    }
    return KeyPair(seed: seed)!
}

/// Deterministic payload bytes that differ between batches and entries.
func testPayload(batch: Int, index: Int, size: Int) -> [UInt8] {
    (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ batch &* 7 &+ index &* 13 &+ 1) }
}

/// `count` drafts with payloads of `payloadBytes(index)` bytes.
func testDrafts(batch: Int, count: Int, payloadBytes: (Int) -> Int = { _ in 20 },
                dependencies: (Int) -> [Dependency] = { _ in [] }) -> [EntryDraft] {
    (0..<count).map { i in
        EntryDraft(payload: testPayload(batch: batch, index: i, size: payloadBytes(i)),
                   dependencies: dependencies(i), observedLamport: 0)
    }
}

/// A feed's writer together with everything it has written: the model a
/// log's contents are checked against.
struct FeedModel {
    var writer: FeedWriter
    var entries: [Entry] = []
    var heads: [SignedHead] = []
    var batches = 0

    var keyPair: KeyPair { writer.keyPair }
    var feed: PublicKey { writer.feed }

    init(keyPair: KeyPair) {
        writer = FeedWriter(keyPair: keyPair)
    }

    /// A model holding `entries` and `heads`, whose writer resumes from the
    /// log (as a restarted writer would).
    init(keyPair: KeyPair, entries: [Entry], heads: [SignedHead], resumingFrom log: FeedLog) {
        writer = FeedWriter(keyPair: keyPair, resumingAfter: log.tip, lamport: log.lastLamport)
        self.entries = entries
        self.heads = heads
        batches = heads.count + 100
    }

    /// Signs a batch of `drafts` and records it as written.
    mutating func sign(_ drafts: [EntryDraft], timestamp: UInt64 = 1_000) throws -> VerifiedBatch {
        let batch = try writer.append(drafts, timestamp: timestamp + UInt64(batches))
        entries += try batch.entries()
        heads.append(batch.head)
        batches += 1
        return batch
    }

    /// Signs a batch of `count` entries (payloads of `payloadBytes` bytes)
    /// and appends it to `log`.
    @discardableResult
    mutating func append(_ count: Int, payloadBytes: Int = 20, to log: FeedLog) throws -> VerifiedBatch {
        let batch = try sign(testDrafts(batch: batches, count: count, payloadBytes: { _ in payloadBytes }))
        try log.append(batch)
        return batch
    }

    /// The anchor at `seq` (the root for 0).
    func anchor(at seq: UInt64) -> FeedAnchor {
        seq == 0 ? .genesis(of: feed) : FeedAnchor(seq: seq, hash: entries[Int(seq) - 1].hash)
    }
}

// MARK: - Checking a log against a model

/// Checks everything a log serves against the entries and heads it should
/// hold: length, tip, Lamport time, heads, every entry, hash and range read.
func expectLog(_ log: FeedLog, holds entries: [Entry], heads: [SignedHead], _ context: String = "",
               sourceLocation: SourceLocation = #_sourceLocation) throws {
    let length = UInt64(entries.count)
    let feed = log.feed
    let note = Comment(rawValue: context)
    #expect(log.length == length, note, sourceLocation: sourceLocation)
    #expect(log.tip == FeedAnchor(seq: length, hash: entries.last?.hash ?? Entry.root(of: feed)), note,
            sourceLocation: sourceLocation)
    #expect(log.lastLamport == (entries.last?.lamport ?? 0), note, sourceLocation: sourceLocation)
    #expect(log.latestHead == heads.last, note, sourceLocation: sourceLocation)
    #expect(log.signedHeadSeqs == heads.map(\.seq), note, sourceLocation: sourceLocation)
    guard log.length == length else { return }

    let headsBySeq = Dictionary(uniqueKeysWithValues: heads.map { ($0.seq, $0) })
    for (i, expected) in entries.enumerated() {
        let seq = UInt64(i + 1)
        #expect(try log.entry(at: seq) == expected, note, sourceLocation: sourceLocation)
        #expect(try log.hash(at: seq) == expected.hash, note, sourceLocation: sourceLocation)
        #expect(try log.signedHead(at: seq) == headsBySeq[seq], note, sourceLocation: sourceLocation)
    }
    if length > 0 {
        #expect(try log.entries(from: 1, through: length) == entries, note, sourceLocation: sourceLocation)
        try log.verifyIntegrity()
    }
    #expect(try log.signedHead(at: length + 1) == nil, note, sourceLocation: sourceLocation)
    let beyond = #expect(throws: FeedLogError.self, note, sourceLocation: sourceLocation) {
        try log.entry(at: length + 1)
    }
    #expect(beyond?.code == .outOfRange(seq: length + 1, length: length), note, sourceLocation: sourceLocation)
}

/// The feed and seq of a `.corrupt` error, or nil for any other outcome.
func corruption(_ error: (any Error)?) -> (feed: PublicKey, seq: UInt64, segment: String, offset: UInt64)? {
    guard let error = error as? FeedLogError,
          case .corrupt(let feed, let seq, let segment, let offset, _) = error.code else { return nil }
    return (feed, seq, segment, offset)
}

/// Runs `body`, returning what it threw (nil if it returned).
func thrownError(_ body: () throws -> Void) -> (any Error)? {
    do { try body(); return nil } catch { return error }
}

// MARK: - Segment layout (parsed independently of SheafFeedLog)

/// One record frame of a segment file, located by its length field.
struct RawRecord: Equatable {
    var offset: Int
    var size: Int
    var kind: UInt8

    var end: Int { offset + size }
    var isEntry: Bool { kind == 1 }
    var isHead: Bool { kind == 2 }
}

/// An undamaged segment file's records, per docs/FORMATS.md: a 64-byte
/// header, then frames of u32 length, u32 checksum, kind, payload.
struct SegmentLayout {
    static let headerSize = 64

    var name: String
    var baseSeq: UInt64
    var size: Int
    var records: [RawRecord]

    init(name: String, bytes: [UInt8]) throws {
        guard bytes.count >= Self.headerSize, Array(bytes[0..<8]) == Array("sheafseg".utf8) else {
            throw FixtureError("\(name) has no segment header")
        }
        self.name = name
        baseSeq = bytes[48..<56].reversed().reduce(0) { $0 << 8 | UInt64($1) }
        guard baseSeq == UInt64(name.prefix(20)) else { throw FixtureError("\(name) names another base seq") }
        size = bytes.count
        records = []
        var offset = Self.headerSize
        while offset < bytes.count {
            guard offset + 9 <= bytes.count else { throw FixtureError("\(name): partial frame at \(offset)") }
            let length = bytes[offset..<(offset + 4)].reversed().reduce(0) { $0 << 8 | Int($1) }
            guard offset + 8 + length <= bytes.count else { throw FixtureError("\(name): frame at \(offset) overruns") }
            records.append(RawRecord(offset: offset, size: 8 + length, kind: bytes[offset + 8]))
            offset += 8 + length
        }
    }

    var entryCount: Int { records.filter(\.isEntry).count }
    var headCount: Int { records.filter(\.isHead).count }

    /// The seq of the entry at record `index` (an entry record), or of the
    /// head at record `index` (a head record follows the entry it signs).
    func seq(ofRecord index: Int) -> UInt64 {
        let entriesUpTo = records[...index].filter(\.isEntry).count
        return baseSeq + UInt64(entriesUpTo) - 1
    }
}

// MARK: - Crash images

/// A feed's files as they were on disk at a moment the writing process could
/// have died: taken while the store is still open, so the active segment has
/// no index checkpoint (sealed segments do: they are written at the seal).
struct CrashImage {
    var model: FeedModel
    var files: [String: [UInt8]]
    var segments: [String]
    var last: SegmentLayout

    init(model: FeedModel, files: [String: [UInt8]]) throws {
        self.model = model
        self.files = files
        segments = files.keys.filter { $0.hasSuffix(".seg") }.sorted()
        guard let lastName = segments.last else { throw FixtureError("crash image has no segment") }
        last = try SegmentLayout(name: lastName, bytes: files[lastName]!)
    }

    /// Takes the image of `log` (which must stay open until this returns).
    static func capture(_ log: FeedLog, model: FeedModel) throws -> CrashImage {
        try CrashImage(model: model, files: try snapshotFiles(in: log.directory))
    }

    var lastBytes: [UInt8] { files[last.name]! }

    /// The image with the last segment replaced by `bytes`.
    func withLastSegment(_ bytes: [UInt8]) -> [String: [UInt8]] {
        var files = self.files
        files[last.name] = bytes
        return files
    }

    /// The entries and heads that survive when only the first `keptRecords`
    /// records of the last segment are intact.
    func survivors(keptRecords: Int) -> (entries: [Entry], heads: [SignedHead]) {
        let kept = last.records.prefix(keptRecords)
        let entryCount = Int(last.baseSeq - 1) + kept.filter(\.isEntry).count
        let earlierHeads = model.heads.filter { $0.seq < last.baseSeq }
        let lastHeads = model.heads.filter { $0.seq >= last.baseSeq }.prefix(kept.filter(\.isHead).count)
        return (Array(model.entries.prefix(entryCount)), earlierHeads + lastHeads)
    }
}

/// Installs `files` as the feed's directory of a store at `storeDirectory`,
/// opens it, and checks the recovery of a last segment of `damagedSize`
/// bytes whose first `keptRecords` records are intact: the torn or damaged
/// rest is cut and reported, nothing before it is lost, nothing is invented.
/// Then the writer resumes, appends, and a reopen needs no recovery.
func expectRecovery(image: CrashImage, files: [String: [UInt8]], damagedSize: Int, keptRecords: Int,
                    storeDirectory: String, _ context: String,
                    sourceLocation: SourceLocation = #_sourceLocation) throws {
    let options = FeedStore.Options(durability: .none, segmentBytes: 4096)
    let feed = image.model.feed
    let feedDirectory = Path.join(Path.join(storeDirectory, "feeds"), feed.hex)
    try installFiles(files, in: feedDirectory)
    let note = Comment(rawValue: context)

    let (entries, heads) = image.survivors(keptRecords: keptRecords)
    let validEnd = keptRecords == 0 ? SegmentLayout.headerSize : image.last.records[keptRecords - 1].end
    let lastPath = Path.join(feedDirectory, image.last.name)
    let segmentSurvives = image.last.records.prefix(keptRecords).contains(where: \.isEntry)

    var model: FeedModel
    do {
        let store = try FeedStore(directory: storeDirectory, options: options)
        defer { store.close() }
        let log = try store.log(feed)
        let recovery = log.recovery
        if segmentSurvives {
            #expect(try RawFile.size(lastPath) == validEnd, note, sourceLocation: sourceLocation)
            if damagedSize > validEnd {
                #expect(recovery?.segment == lastPath, note, sourceLocation: sourceLocation)
                #expect(recovery?.truncatedAt == UInt64(validEnd), note, sourceLocation: sourceLocation)
                #expect(recovery?.bytesDropped == UInt64(damagedSize - validEnd), note, sourceLocation: sourceLocation)
            } else {
                #expect(recovery == nil, note, sourceLocation: sourceLocation)
            }
            #expect(log.segmentCount == image.segments.count, note, sourceLocation: sourceLocation)
        } else {
            // The segment never held a complete entry: it is removed whole.
            #expect(!RawFile.exists(lastPath), note, sourceLocation: sourceLocation)
            #expect(!RawFile.exists(String(lastPath.dropLast(4)) + ".idx"), note, sourceLocation: sourceLocation)
            #expect(recovery?.segment == lastPath, note, sourceLocation: sourceLocation)
            #expect(recovery?.truncatedAt == 0, note, sourceLocation: sourceLocation)
            #expect(recovery?.bytesDropped == UInt64(damagedSize), note, sourceLocation: sourceLocation)
            #expect(log.segmentCount == image.segments.count - 1, note, sourceLocation: sourceLocation)
        }
        if let recovery {
            #expect(recovery.feed == feed, note, sourceLocation: sourceLocation)
            #expect(recovery.lastSeq == UInt64(entries.count), note, sourceLocation: sourceLocation)
        }
        try expectLog(log, holds: entries, heads: heads, context, sourceLocation: sourceLocation)

        // The writer resumes from what survived and the log accepts its next batch.
        model = FeedModel(keyPair: image.model.keyPair, entries: entries, heads: heads, resumingFrom: log)
        try model.append(2, payloadBytes: 7, to: log)
        try expectLog(log, holds: model.entries, heads: model.heads, context, sourceLocation: sourceLocation)
    }
    do {
        let store = try FeedStore(directory: storeDirectory, options: options)
        defer { store.close() }
        let log = try store.log(feed)
        #expect(log.recovery == nil, note, sourceLocation: sourceLocation)
        try expectLog(log, holds: model.entries, heads: model.heads, context, sourceLocation: sourceLocation)
    }
}

/// Writes a log with `write` in a store under `directory`/source and takes
/// its crash image before the store is closed.
func makeCrashImage(in directory: String, key: Int, durability: Durability = .none,
                    _ write: (inout FeedModel, FeedLog) throws -> Void) throws -> CrashImage {
    let store = try FeedStore(directory: Path.join(directory, "source"),
                              options: .init(durability: durability, segmentBytes: 4096))
    defer { store.close() }
    var model = FeedModel(keyPair: testKeyPair(key))
    let log = try store.log(model.feed)
    try write(&model, log)
    return try CrashImage.capture(log, model: model)
}

/// A small deterministic generator (SplitMix64), so random damage is reproducible.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
