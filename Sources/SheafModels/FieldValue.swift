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
        case (.string(let x), .string(let y)): UTF8Bytes.compare(x, y) == 0
        case (.bytes(let x), .bytes(let y)): x == y
        default: false
        }
    }

    public func hash(into hasher: inout Swift.Hasher) {
        switch self {
        case .null: hasher.combine(0)
        case .bool(let b): hasher.combine(1); hasher.combine(b)
        case .int(let i): hasher.combine(2); hasher.combine(i)
        case .double(let d): hasher.combine(3); hasher.combine(d.bitPattern)
        case .string(let s): hasher.combine(4); UTF8Bytes.hash(s, into: &hasher)
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
            return .string(try readString(&reader, "field.string", limit: maxBytes))
        case 5:
            return .bytes(try reader.readLengthPrefixed("field.bytes", limit: maxBytes))
        default:
            throw DecodingError(.invalidValue, at: offset, field: "field.type")
        }
    }
}

/// Strings as their UTF-8 bytes: the order, equality and hash of field
/// names and values, and checked decoding.
enum UTF8Bytes {
    /// memcmp order of the UTF-8 bytes, a proper prefix first: <0, 0 or >0.
    static func compare(_ a: String, _ b: String) -> Int {
        var a = a, b = b
        return a.withUTF8 { x in b.withUTF8 { y in compare(x, y) } }
    }

    static func compare(_ x: UnsafeBufferPointer<UInt8>, _ y: UnsafeBufferPointer<UInt8>) -> Int {
        // The same storage (values copied, not rewritten) needs no look inside.
        if x.baseAddress == y.baseAddress { return x.count - y.count }
        if let p = x.baseAddress, let q = y.baseAddress {
            let c = memcmp(p, q, min(x.count, y.count))
            if c != 0 { return Int(c) }
        }
        return x.count - y.count
    }

    static func hash(_ s: String, into hasher: inout Swift.Hasher) {
        var s = s
        s.withUTF8 { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
    }

    /// The text of `buffer[range]`, or nil if it is not valid UTF-8.
    /// Decoding repairs invalid input, so bytes that come back unchanged were
    /// valid (and `String(validating:)` is slower: it takes a generic path).
    static func string(_ buffer: [UInt8], _ range: Range<Int>) -> String? {
        buffer.withUnsafeBufferPointer { all in
            let bytes = UnsafeBufferPointer(rebasing: all[range])
            var string = String(decoding: bytes, as: UTF8.self)
            return string.withUTF8 { compare($0, bytes) == 0 } ? string : nil
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
