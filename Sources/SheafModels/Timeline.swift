import SheafCodec
import SheafCollections
import SheafCrypto

/// An ordered timeline of events, ordered by (Lamport time, feed key, seq):
/// a total order every replica agrees on, consistent with causality.
///
/// Records: key `lamport (u64 BE) ‖ feed (32) ‖ seq (u64 BE)` → event bytes.
public struct Timeline: SnapshotModel {
    public static let descriptor = ModelDescriptor(name: "sheaf.timeline", version: 1)
    public static let recordsPerChunk = 32
    public static let maxEventBytes = 64 << 10

    public private(set) var records = SortedMap<[UInt8]>()

    public init() {}
    public init(records: SortedMap<[UInt8]>) throws(ModelError) {
        var bad = false
        records.forEach { key, _ in
            bad = key.bytes.count != 48
            return !bad
        }
        if bad { throw ModelError("timeline keys must be 48 bytes") }
        self.records = records
    }

    /// The op is the event itself.
    public static func op(_ event: [UInt8]) -> [UInt8] { event }

    public mutating func apply(_ payload: [UInt8], context: EntryContext) -> ApplyOutcome {
        guard payload.count <= Self.maxEventBytes else { return .ignored(reason: "event too large") }
        let key = Self.key(context)
        records.set(key, payload)
        return .applied(changed: [key])
    }

    public struct Event: Hashable, Sendable {
        public var lamport: UInt64
        public var feed: PublicKey
        public var seq: UInt64
        public var body: [UInt8]
    }

    /// Events in timeline order, after the event at `after` (a position
    /// returned earlier), at most `limit`.
    public func events(after: Event? = nil, limit: Int = .max) -> [Event] {
        var out = [Event]()
        let start = after.map { RecordKey(Self.key(EntryContext(feed: $0.feed, seq: $0.seq, lamport: $0.lamport)).bytes + [0]) }
        records.forEach(from: start) { key, body in
            guard out.count < limit else { return false }
            out.append(Self.event(key, body))
            return true
        }
        return out
    }

    /// The newest `limit` events, oldest first.
    public func latest(_ limit: Int) -> [Event] {
        let skip = max(0, records.count - limit)
        var out = [Event]()
        var index = 0
        records.forEach { key, body in
            if index >= skip { out.append(Self.event(key, body)) }
            index += 1
            return true
        }
        return out
    }

    static func key(_ context: EntryContext) -> RecordKey {
        var writer = ByteWriter(capacity: 48)
        writer.writeUInt64(context.lamport.byteSwapped)
        context.feed.encode(into: &writer)
        writer.writeUInt64(context.seq.byteSwapped)
        return RecordKey(writer.bytes)
    }

    static func event(_ key: RecordKey, _ body: [UInt8]) -> Event {
        key.bytes.withUnsafeBytes { raw in
            Event(lamport: UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
                  feed: PublicKey(raw: Bytes32(loading: UnsafeRawBufferPointer(rebasing: raw[8..<40]))),
                  seq: UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 40, as: UInt64.self)),
                  body: body)
        }
    }

    public static func encode(_ record: [UInt8], into writer: inout ByteWriter) {
        writer.writeLengthPrefixed(record)
    }

    public static func decode(_ reader: inout ByteReader, version: UInt32) throws(DecodingError) -> [UInt8] {
        try reader.readLengthPrefixed("event", limit: maxEventBytes)
    }
}
