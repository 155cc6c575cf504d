import SheafCodec

/// A typed field value of the object store.
///
/// Equality is by encoded bytes, not by Swift's Unicode-canonical `String`
/// equality: two strings that render alike but differ in bytes are different
/// values, because they encode (and hash into state roots) differently.
public enum FieldValue: Hashable, Sendable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case bytes([UInt8])

    public static let maxBytes = 64 << 10

    public static func == (a: FieldValue, b: FieldValue) -> Bool {
        switch (a, b) {
        case (.null, .null): true
        case (.bool(let x), .bool(let y)): x == y
        case (.int(let x), .int(let y)): x == y
        case (.double(let x), .double(let y)): x.bitPattern == y.bitPattern
        case (.string(let x), .string(let y)): Self.sameBytes(x, y)
        case (.bytes(let x), .bytes(let y)): x == y
        default: false
        }
    }

    /// UTF-8 byte equality (not Unicode canonical equivalence), by memcmp.
    static func sameBytes(_ a: String, _ b: String) -> Bool {
        var a = a, b = b
        return a.withUTF8 { x in
            b.withUTF8 { y in x.count == y.count && (x.count == 0 || memcmp(x.baseAddress!, y.baseAddress!, x.count) == 0) }
        }
    }

    public func hash(into hasher: inout Swift.Hasher) {
        switch self {
        case .null: hasher.combine(0)
        case .bool(let b): hasher.combine(1); hasher.combine(b)
        case .int(let i): hasher.combine(2); hasher.combine(i)
        case .double(let d): hasher.combine(3); hasher.combine(d.bitPattern)
        case .string(let s): hasher.combine(4); for byte in s.utf8 { hasher.combine(byte) }
        case .bytes(let b): hasher.combine(5); hasher.combine(b)
        }
    }

    func encode(into writer: inout ByteWriter) {
        switch self {
        case .null: writer.writeUInt8(0)
        case .bool(let b): writer.writeUInt8(1); writer.writeUInt8(b ? 1 : 0)
        case .int(let i): writer.writeUInt8(2); writer.writeVarint(UInt64(bitPattern: (i << 1) ^ (i >> 63)))
        case .double(let d): writer.writeUInt8(3); writer.writeUInt64(d.bitPattern)
        case .string(let s): writer.writeUInt8(4); writer.writeLengthPrefixed(s.utf8)
        case .bytes(let b): writer.writeUInt8(5); writer.writeLengthPrefixed(b)
        }
    }

    static func decode(_ reader: inout ByteReader) throws(DecodingError) -> FieldValue {
        let offset = reader.offset
        switch try reader.readUInt8("field.type") {
        case 0: return .null
        case 1:
            let b = try reader.readUInt8("field.bool")
            guard b <= 1 else { throw DecodingError(.invalidValue, at: offset + 1, field: "field.bool") }
            return .bool(b == 1)
        case 2:
            let z = try reader.readVarint("field.int")
            return .int(Int64(bitPattern: z >> 1) ^ -Int64(bitPattern: z & 1))
        case 3:
            return .double(Double(bitPattern: try reader.readUInt64("field.double")))
        case 4:
            // Straight from the buffer: one allocation, for the String itself.
            let count = try reader.readCount("field.string", limit: maxBytes)
            let range = try reader.readRange("field.string", count: count)
            guard let s = String(validating: reader.buffer[range], as: UTF8.self) else {
                throw DecodingError(.invalidValue, at: offset + 1, field: "field.string", detail: "not UTF-8")
            }
            return .string(s)
        case 5:
            return .bytes(try reader.readLengthPrefixed("field.bytes", limit: maxBytes))
        default:
            throw DecodingError(.invalidValue, at: offset, field: "field.type")
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
