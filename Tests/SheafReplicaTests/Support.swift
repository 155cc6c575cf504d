#if canImport(Glibc)
import Glibc
#endif
import Logging
import SheafCodec
import SheafCollections
import SheafCrypto
import SheafFeedLog
import SheafFeeds
import SheafFiles
import SheafModels
@testable import SheafReplica
import SheafSnapshots
import Testing
@_exported import SheafTestSupport


// MARK: - Keys, options, replicas

/// A deterministic key pair: the seed is `n` (little endian) padded with `tag`.
func testKeyPair(_ n: Int, tag: UInt8 = 0x5C) -> KeyPair {
    var seed = [UInt8](repeating: tag, count: 32)
    withUnsafeBytes(of: UInt64(n).littleEndian) { raw in
        for i in 0..<8 { seed[i] = raw[i] }
    }
    return KeyPair(seed: seed)!
}

let quietLogger = Logger(label: "sheaf.replica.tests", factory: { _ in SwiftLogNoOpLogHandler() })

/// Fast options: no fsync, no automatic snapshots unless asked.
func fastOptions(snapshotEveryEntries: Int? = nil, snapshotInterval: Duration? = nil, snapshotsKept: Int = 2,
                 compactCoveredEntries: Bool = false, maxWaitingEntries: Int = 1 << 20,
                 segmentBytes: Int = 16 << 20) -> ReplicaOptions {
    ReplicaOptions(durability: .none, snapshotEveryEntries: snapshotEveryEntries, snapshotInterval: snapshotInterval,
                   snapshotsKept: snapshotsKept, compactCoveredEntries: compactCoveredEntries,
                   maxWaitingEntries: maxWaitingEntries, segmentBytes: segmentBytes)
}

func openReplica<M: Model>(_ type: M.Type, _ directory: String, space: PublicKey, identity: KeyPair,
                           options: ReplicaOptions = fastOptions()) async throws -> Replica<M> {
    try await Replica<M>.open(directory: directory, space: space, identity: identity, options: options, logger: quietLogger)
}

/// The code of a thrown `ReplicaError`, or nil for any other outcome.
func replicaErrorCode(_ body: () async throws -> Void) async -> ReplicaError.Code? {
    do {
        try await body()
        return nil
    } catch let error as ReplicaError {
        return error.code
    } catch {
        return nil
    }
}

extension ReplicaError.Code {
    var isDropped: Bool { if case .dropped = self { true } else { false } }
    var isNotAdmitted: Bool { if case .notAdmitted = self { true } else { false } }
    var isNotGenesisWriter: Bool { if case .notGenesisWriter = self { true } else { false } }
    var isBackpressure: Bool { if case .backpressure = self { true } else { false } }
    var isWrongSpace: Bool { if case .wrongSpace = self { true } else { false } }
}

// MARK: - Reaching into a replica's logs (through @testable)

extension Replica {
    /// Entries of `feed` this replica stores.
    func storedLength(_ feed: PublicKey) throws -> UInt64 { try feeds.log(feed).length }

    /// A stored range of `feed`, as a peer would send it.
    func storedRange(_ feed: PublicKey, after: UInt64, through: UInt64) throws -> VerifiedBatch {
        try feeds.log(feed).range(after: after, through: through)
    }

    func feedLog(_ feed: PublicKey) throws -> FeedLog { try feeds.log(feed) }
}

/// Sends `source`'s stored entries of `feed` that `destination` lacks, as one range.
func transfer<A: Model, B: Model>(_ feed: PublicKey, from source: Replica<A>, to destination: Replica<B>) async throws {
    let have = try await destination.storedLength(feed)
    let total = try await source.storedLength(feed)
    guard total > have else { return }
    let batch = try await source.storedRange(feed, after: have, through: total)
    try await destination.ingest(batch)
}

// MARK: - Payloads

func put(_ id: String, _ fields: [String: FieldValue]) -> [UInt8] { ObjectStore.Op.put(id: id, fields: fields).encoded }

/// A model-op entry draft (wrapped in the space payload).
func modelDraft(_ op: [UInt8], dependencies: [Dependency] = [], observedLamport: UInt64 = 0) -> EntryDraft {
    EntryDraft(payload: SpacePayload.model(op).encoded, dependencies: dependencies, observedLamport: observedLamport)
}

/// Collects what a `changes()` stream yields until `count` arrived or `timeout` passed.
func collect(_ stream: AsyncStream<ReplicaChange>, count: Int, timeout: Duration = .seconds(10)) async -> [ReplicaChange] {
    await withTaskGroup(of: [ReplicaChange]?.self) { group in
        group.addTask {
            var out: [ReplicaChange] = []
            for await change in stream {
                out.append(change)
                if out.count == count { break }
            }
            return out
        }
        group.addTask {
            try? await Task.sleep(for: timeout)
            return nil
        }
        let first = await group.next() ?? nil
        group.cancelAll()
        return first ?? []
    }
}

/// Polls `condition` until it holds or `timeout` passes; returns whether it held.
/// Waits until `condition` holds, at most `timeout`. The bound is generous
/// because, in a full `swift test` run, long synchronous tests (the snapshot
/// fuzz suites) can hold both cooperative threads for most of a minute, and
/// the background work waited for cannot run until one frees up.
func eventually(timeout: Duration = .seconds(120), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while clock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return try await condition()
}

// MARK: - Test models

/// A model without snapshot support: notes ordered by (Lamport, feed, seq)
/// — so concurrent appends commute — plus a max register ("max:<n>").
struct Jottings: Model {
    static let descriptor = ModelDescriptor(name: "test.jottings", version: 1)

    struct Note: Hashable, Sendable {
        var lamport: UInt64
        var feed: PublicKey
        var seq: UInt64
        var text: String
    }

    private(set) var notes: [Note] = []
    private(set) var highest: Int64?

    init() {}

    static func note(_ text: String) -> [UInt8] { Array("note:\(text)".utf8) }
    static func maxOp(_ value: Int64) -> [UInt8] { Array("max:\(value)".utf8) }

    mutating func apply(_ op: [UInt8], context: EntryContext) -> ApplyOutcome {
        guard let text = String(validating: op, as: UTF8.self) else { return .ignored(reason: "not UTF-8") }
        if text.hasPrefix("max:") {
            guard let value = Int64(text.dropFirst(4)) else { return .ignored(reason: "bad number") }
            if let highest, highest >= value { return .applied(changed: []) }
            highest = value
            return .applied(changed: [RecordKey("max")])
        }
        guard text.hasPrefix("note:") else { return .ignored(reason: "unknown op") }
        let note = Note(lamport: context.lamport, feed: context.feed, seq: context.seq, text: String(text.dropFirst(5)))
        let position = notes.firstIndex { ($0.lamport, $0.feed, $0.seq) > (note.lamport, note.feed, note.seq) } ?? notes.count
        notes.insert(note, at: position)
        return .applied(changed: [RecordKey(Array(note.text.utf8))])
    }

    var texts: [String] { notes.map(\.text) }
}

/// Per-key max registers, ops `"<key>=<int>"`. Version 1 encodes a record as
/// a varint; version 2 (below) as 8 fixed bytes and still loads version 1.
enum MaxMapOps {
    static func op(_ key: String, _ value: UInt64) -> [UInt8] { Array("\(key)=\(value)".utf8) }

    static func apply(_ records: inout SortedMap<UInt64>, _ op: [UInt8]) -> ApplyOutcome {
        guard let text = String(validating: op, as: UTF8.self), let eq = text.firstIndex(of: "="),
              let value = UInt64(text[text.index(after: eq)...]), eq != text.startIndex
        else { return .ignored(reason: "malformed") }
        let key = RecordKey(Array(text[..<eq].utf8))
        guard (records[key] ?? 0) < value else { return .applied(changed: []) }
        records.set(key, value)
        return .applied(changed: [key])
    }
}

struct MaxMapV1: SnapshotModel {
    static let descriptor = ModelDescriptor(name: "test.maxmap", version: 1)
    static let recordsPerChunk = 4
    private(set) var records = SortedMap<UInt64>()
    init() {}
    init(records: SortedMap<UInt64>) throws(ModelError) { self.records = records }
    mutating func apply(_ op: [UInt8], context: EntryContext) -> ApplyOutcome { MaxMapOps.apply(&records, op) }
    static func encode(_ record: UInt64, into writer: inout ByteWriter) { writer.writeVarint(record) }
    static func decode(_ reader: inout ByteReader, version: UInt32) throws(DecodingError) -> UInt64 {
        try reader.readVarint("maxmap.value")
    }
}

struct MaxMapV2: SnapshotModel {
    static let descriptor = ModelDescriptor(name: "test.maxmap", version: 2)
    static let recordsPerChunk = 4
    static let loadableVersions: ClosedRange<UInt32> = 1...2
    private(set) var records = SortedMap<UInt64>()
    init() {}
    init(records: SortedMap<UInt64>) throws(ModelError) { self.records = records }
    mutating func apply(_ op: [UInt8], context: EntryContext) -> ApplyOutcome { MaxMapOps.apply(&records, op) }
    static func encode(_ record: UInt64, into writer: inout ByteWriter) { writer.writeUInt64(record) }
    static func decode(_ reader: inout ByteReader, version: UInt32) throws(DecodingError) -> UInt64 {
        version == 1 ? try reader.readVarint("maxmap.value") : try reader.readUInt64("maxmap.value")
    }
}

/// Jottings at a newer version (same name): writes `.entries` snapshots of version 2.
struct JottingsV2: Model {
    static let descriptor = ModelDescriptor(name: "test.jottings", version: 2)
    var inner = Jottings()
    init() {}
    mutating func apply(_ op: [UInt8], context: EntryContext) -> ApplyOutcome { inner.apply(op, context: context) }
}

func describe(_ map: SortedMap<UInt64>) -> [String: UInt64] {
    var out: [String: UInt64] = [:]
    map.forEach { key, value in
        out[String(decoding: key.bytes, as: UTF8.self)] = value
        return true
    }
    return out
}

extension StartupReport.Source {
    var isSnapshot: Bool { if case .snapshot = self { true } else { false } }
    var snapshotID: String? { if case .snapshot(let id, _) = self { id } else { nil } }
}
