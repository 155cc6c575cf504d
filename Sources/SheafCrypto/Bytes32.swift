import SheafCodec

/// Thirty-two bytes held inline, as four words, so keys and hashes compare,
/// hash and copy without heap allocation.
///
/// Ordering is lexicographic over the bytes, which is the order in which
/// canonical encodings sort keys.
public struct Bytes32: Hashable, Comparable, Sendable {
    // Each word holds 8 bytes loaded little-endian: byte 0 is the low byte of w0.
    @usableFromInline var w0, w1, w2, w3: UInt64

    public static let zero = Bytes32(w0: 0, w1: 0, w2: 0, w3: 0)

    @usableFromInline
    init(w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64) {
        self.w0 = w0; self.w1 = w1; self.w2 = w2; self.w3 = w3
    }

    /// The first eight bytes as a little-endian integer, without copying
    /// the rest: a ready-made hash of bytes that are uniformly random
    /// already (keys, hashes).
    @inlinable public var firstWord: UInt64 { w0 }

    /// Loads from exactly 32 bytes at `raw`.
    @inlinable
    public init(loading raw: UnsafeRawBufferPointer) {
        precondition(raw.count >= 32)
        w0 = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        w1 = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        w2 = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
        w3 = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
    }

    /// Nil unless `bytes` has exactly 32 elements.
    public init?<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        guard bytes.count == 32 else { return nil }
        let result: Bytes32? = bytes.withContiguousStorageIfAvailable { Bytes32(loading: UnsafeRawBufferPointer($0)) }
        self = result ?? Array(bytes).withUnsafeBytes { Bytes32(loading: $0) }
    }

    /// Calls `body` with the 32 bytes in order, in memory bound to UInt8
    /// (C functions read it through `UInt8` pointers).
    @inlinable
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { buffer in
            let raw = UnsafeMutableRawBufferPointer(buffer)
            raw.storeBytes(of: w0.littleEndian, toByteOffset: 0, as: UInt64.self)
            raw.storeBytes(of: w1.littleEndian, toByteOffset: 8, as: UInt64.self)
            raw.storeBytes(of: w2.littleEndian, toByteOffset: 16, as: UInt64.self)
            raw.storeBytes(of: w3.littleEndian, toByteOffset: 24, as: UInt64.self)
            return try body(UnsafeRawBufferPointer(buffer))
        }
    }

    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }

    public static func < (a: Bytes32, b: Bytes32) -> Bool {
        // Lexicographic byte order = numeric order of the big-endian words.
        if a.w0 != b.w0 { return a.w0.byteSwapped < b.w0.byteSwapped }
        if a.w1 != b.w1 { return a.w1.byteSwapped < b.w1.byteSwapped }
        if a.w2 != b.w2 { return a.w2.byteSwapped < b.w2.byteSwapped }
        return a.w3.byteSwapped < b.w3.byteSwapped
    }

    /// Lower-case hexadecimal, 64 characters.
    public var hex: String { Hex.encode(bytes) }

    public init?(hex: String) {
        guard let raw = Hex.decode(hex), let value = Bytes32(raw) else { return nil }
        self = value
    }
}

extension Bytes32: CanonicalCodable {
    public func encode(into writer: inout ByteWriter) {
        withUnsafeBytes { writer.writeRaw($0) }
    }

    public init(from reader: inout ByteReader) throws(DecodingError) {
        let range = try reader.readRange("bytes32", count: 32)
        self = reader.buffer.withUnsafeBytes { Bytes32(loading: UnsafeRawBufferPointer(rebasing: $0[range])) }
    }
}

/// Lower-case hexadecimal encoding for logs, file names and the CLI.
public enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    public static func encode<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    public static func decode(_ text: String) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        var out = [UInt8]()
        out.reserveCapacity(utf8.count / 2)
        var i = 0
        while i < utf8.count {
            guard let hi = nibble(utf8[i]), let lo = nibble(utf8[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }

    /// The value of one hex digit (either case), or nil.
    public static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
