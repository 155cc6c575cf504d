import SheafCodec
import SheafCollections
import SheafCrypto

/// Names a model type and the version of its state encoding.
public struct ModelDescriptor: Hashable, Sendable, CustomStringConvertible {
    /// Stable type id, e.g. `"sheaf.objects"`; at most 64 bytes.
    public let name: String
    /// Version of the model's op and record encodings; bumped on any change.
    public let version: UInt32

    public init(name: String, version: UInt32) {
        precondition(!name.isEmpty && name.utf8.count <= 64, "model name must be 1-64 bytes")
        self.name = name
        self.version = version
    }

    public var description: String { "\(name)@\(version)" }
}

/// Who wrote an entry, and when in causal time: what a model may use to
/// resolve conflicts. Never the wall clock.
public struct EntryContext: Hashable, Sendable {
    public var feed: PublicKey
    public var seq: UInt64
    public var lamport: UInt64

    public init(feed: PublicKey, seq: UInt64, lamport: UInt64) {
        self.feed = feed
        self.seq = seq
        self.lamport = lamport
    }

    /// The last-writer-wins order: Lamport time, then feed key.
    public var stamp: Stamp { Stamp(lamport: lamport, feed: feed) }
}

/// A total order on writes: by Lamport time, ties broken by feed key. Two
/// entries never share a stamp (a feed's Lamport times strictly rise).
public struct Stamp: Hashable, Comparable, Sendable {
    public var lamport: UInt64
    public var feed: PublicKey

    public init(lamport: UInt64, feed: PublicKey) {
        self.lamport = lamport
        self.feed = feed
    }

    /// Below every real write (real Lamport times start at 1).
    public static let zero = Stamp(lamport: 0, feed: PublicKey(raw: .zero))

    public static func < (a: Stamp, b: Stamp) -> Bool {
        a.lamport != b.lamport ? a.lamport < b.lamport : a.feed < b.feed
    }

    func encode(into writer: inout ByteWriter) {
        writer.writeVarint(lamport)
        feed.encode(into: &writer)
    }

    static func decode(_ reader: inout ByteReader) throws(DecodingError) -> Stamp {
        let lamport = try reader.readVarint("stamp.lamport")
        let feed = try PublicKey(from: &reader)
        return Stamp(lamport: lamport, feed: feed)
    }

    /// `varint lamport ‖ varint ref`: ref `i + 1` names `feeds.keys[i]`;
    /// ref 0 is followed by the key, for a feed outside the table.
    func encode(into writer: inout ByteWriter, feeds: FeedTable) {
        writer.writeVarint(lamport)
        if let index = feeds.index(of: feed) {
            writer.writeVarint(UInt64(index) + 1)
        } else {
            writer.writeUInt8(0)
            feed.encode(into: &writer)
        }
    }

    /// Reads `encode(into:feeds:)`. Canonical: a key the table holds must be
    /// named by its number.
    static func decode(_ reader: inout ByteReader, feeds: FeedTable) throws(DecodingError) -> Stamp {
        let lamport = try reader.readVarint("stamp.lamport")
        let offset = reader.offset
        let ref = try reader.readVarint("stamp.feed", in: 0...UInt64(feeds.count))
        if ref > 0 { return Stamp(lamport: lamport, feed: feeds.keys[Int(ref - 1)]) }
        let feed = try PublicKey(from: &reader)
        guard feeds.index(of: feed) == nil else {
            throw DecodingError(.notCanonical, at: offset, field: "stamp.feed", detail: "a feed of the table written out")
        }
        return Stamp(lamport: lamport, feed: feed)
    }
}

/// What applying one op did.
public enum ApplyOutcome: Hashable, Sendable {
    /// The op took effect; these record keys changed (possibly none, when a
    /// newer write already won).
    case applied(changed: [RecordKey])
    /// The op was malformed or not allowed. Deterministic: every replica
    /// ignores the same op, and the entry still counts as delivered.
    case ignored(reason: String)
}

/// A deterministic reducer from entries to state.
///
/// **The CRDT contract.** A replica delivers each entry exactly once, in
/// causal order: after its feed predecessor and after every dependency it
/// names. Entries that are causally concurrent may be delivered in any
/// order, so `apply` must make concurrent ops commute: applying a set of
/// entries in any causal order must give equal state (and, for snapshot
/// models, byte-identical records). In practice: resolve conflicts with
/// `EntryContext.stamp` (never the wall clock, never arrival order), make
/// removals tombstones, and never read global mutable state or randomness.
///
/// A model that cannot encode its state (not `SnapshotModel`) still gets
/// snapshots: they carry its applied ops, and loading replays them.
public protocol Model: Sendable {
    static var descriptor: ModelDescriptor { get }
    init()
    /// Folds one op (an entry's model payload) into the state.
    mutating func apply(_ op: [UInt8], context: EntryContext) -> ApplyOutcome
}

/// A model whose state is a sorted map of records with a canonical encoding,
/// so snapshots store the state itself and load without replay.
///
/// Records are chunked at content-defined boundaries over their keys, so
/// changing one record rewrites O(1) chunks of the next snapshot.
public protocol SnapshotModel: Model {
    associatedtype Record: Equatable & Sendable

    /// The canonical state. Equal histories give equal maps.
    var records: SortedMap<Record> { get }
    /// Rebuilds the model (and any derived indexes) from loaded records.
    init(records: SortedMap<Record>) throws(ModelError)

    static func encode(_ record: Record, into writer: inout ByteWriter)
    /// Decodes a record written by `version`, one of `loadableVersions`.
    static func decode(_ reader: inout ByteReader, version: UInt32) throws(DecodingError) -> Record
    /// Encodes a record for a snapshot whose writers `feeds` numbers (see
    /// `FeedTable`). Defaults to `encode(_:into:)`: models that name no
    /// feeds need not implement it.
    static func encode(_ record: Record, into writer: inout ByteWriter, feeds: FeedTable)
    /// Decodes what `encode(_:into:feeds:)` wrote with the same table.
    static func decode(_ reader: inout ByteReader, version: UInt32, feeds: FeedTable) throws(DecodingError) -> Record
    /// Versions whose snapshots this code can load (older encodings included).
    static var loadableVersions: ClosedRange<UInt32> { get }
    /// Expected records per snapshot chunk: part of the canonical encoding.
    static var recordsPerChunk: Int { get }
}

extension SnapshotModel {
    public static var loadableVersions: ClosedRange<UInt32> { descriptor.version...descriptor.version }
    public static var recordsPerChunk: Int { 16 }
    public static func encode(_ record: Record, into writer: inout ByteWriter, feeds: FeedTable) {
        encode(record, into: &writer)
    }
    public static func decode(_ reader: inout ByteReader, version: UInt32, feeds: FeedTable) throws(DecodingError) -> Record {
        try decode(&reader, version: version)
    }
}

/// Why a model refused loaded state.
public struct ModelError: Error, Hashable, Sendable, CustomStringConvertible {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { "model: \(reason)" }
}
