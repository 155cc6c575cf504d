import SheafCodec
import SheafCollections

/// Named counters. Each op adds a signed delta; a replica delivers every
/// entry exactly once, so addition alone commutes and converges.
/// Overflow wraps (deterministically) rather than trapping.
///
/// Records: key `"c" ‖ name` → `Int64`.
public struct Counters: SnapshotModel {
    public static let descriptor = ModelDescriptor(name: "sheaf.counters", version: 1)
    public static let recordsPerChunk = 64
    public static let maxNameBytes = 256

    public private(set) var records = SortedMap<Int64>()

    public init() {}
    public init(records: SortedMap<Int64>) throws(ModelError) {
        var bad: RecordKey?
        records.forEach { key, _ in
            guard key.bytes.first == UInt8(ascii: "c"), key.bytes.count > 1 else { bad = key; return false }
            return true
        }
        if let bad { throw ModelError("unexpected counter record key \(bad)") }
        self.records = records
    }

    public enum Op: Hashable, Sendable {
        case add(name: String, delta: Int64)

        public var encoded: [UInt8] {
            var writer = ByteWriter()
            switch self {
            case .add(let name, let delta):
                writer.writeUInt8(1)
                writer.writeLengthPrefixed(Array(name.utf8))
                writer.writeVarint(UInt64(bitPattern: (delta << 1) ^ (delta >> 63)))
            }
            return writer.bytes
        }

        public static func decode(_ bytes: [UInt8]) throws(DecodingError) -> Op {
            var reader = ByteReader(bytes)
            guard try reader.readUInt8("op.tag") == 1 else { throw DecodingError(.invalidValue, at: 0, field: "op.tag") }
            let name = try readString(&reader, "op.name", limit: maxNameBytes)
            let z = try reader.readVarint("op.delta")
            try reader.expectEnd("op")
            return .add(name: name, delta: Int64(bitPattern: z >> 1) ^ -Int64(bitPattern: z & 1))
        }
    }

    public mutating func apply(_ payload: [UInt8], context: EntryContext) -> ApplyOutcome {
        guard case .add(let name, let delta)? = try? Op.decode(payload) else { return .ignored(reason: "malformed counter op") }
        guard !name.isEmpty else { return .ignored(reason: "empty counter name") }
        let key = RecordKey([UInt8(ascii: "c")] + Array(name.utf8))
        records.set(key, (records[key] ?? 0) &+ delta)
        return .applied(changed: [key])
    }

    public func value(_ name: String) -> Int64 { records[RecordKey([UInt8(ascii: "c")] + Array(name.utf8))] ?? 0 }

    /// All counters in name (byte) order.
    public var all: [(name: String, value: Int64)] {
        var out = [(String, Int64)]()
        records.forEach { key, value in
            out.append((String(decoding: key.bytes.dropFirst(), as: UTF8.self), value))
            return true
        }
        return out
    }

    public static func encode(_ record: Int64, into writer: inout ByteWriter) {
        writer.writeVarint(UInt64(bitPattern: (record << 1) ^ (record >> 63)))
    }

    public static func decode(_ reader: inout ByteReader, version: UInt32) throws(DecodingError) -> Int64 {
        let z = try reader.readVarint("counter.value")
        return Int64(bitPattern: z >> 1) ^ -Int64(bitPattern: z & 1)
    }
}
