/// Reads Sheaf's canonical binary encoding from untrusted bytes.
///
/// Every read checks the bytes left before touching them, every length and
/// count is checked against a caller-given limit before anything is allocated,
/// and non-canonical forms are rejected, so a value has exactly one encoding.
/// Errors carry the field name and the absolute offset of the bad field.
public struct ByteReader: Sendable {
    public let buffer: [UInt8]
    /// Absolute offset of the next byte to read.
    public private(set) var offset: Int
    /// Absolute offset one past the last byte this reader may read.
    public let end: Int

    public init(_ buffer: [UInt8]) {
        self.buffer = buffer
        offset = 0
        end = buffer.count
    }

    /// A reader over `buffer[range]`; offsets in errors stay absolute.
    public init(_ buffer: [UInt8], range: Range<Int>) {
        precondition(range.lowerBound >= 0 && range.upperBound <= buffer.count, "range outside buffer")
        self.buffer = buffer
        offset = range.lowerBound
        end = range.upperBound
    }

    public var remaining: Int { end - offset }
    public var isAtEnd: Bool { offset == end }

    @inline(__always)
    private func need(_ n: Int, _ field: String) throws(DecodingError) {
        if n > end - offset {
            throw DecodingError(.truncated, at: offset, field: field, detail: "need \(n) bytes, \(end - offset) left")
        }
    }

    public mutating func readUInt8(_ field: String) throws(DecodingError) -> UInt8 {
        try need(1, field)
        defer { offset += 1 }
        return buffer[offset]
    }

    public mutating func readUInt16(_ field: String) throws(DecodingError) -> UInt16 {
        try readLittleEndian(field)
    }

    public mutating func readUInt32(_ field: String) throws(DecodingError) -> UInt32 {
        try readLittleEndian(field)
    }

    public mutating func readUInt64(_ field: String) throws(DecodingError) -> UInt64 {
        try readLittleEndian(field)
    }

    private mutating func readLittleEndian<T: FixedWidthInteger>(_ field: String) throws(DecodingError) -> T {
        let size = MemoryLayout<T>.size
        try need(size, field)
        let value = buffer.withUnsafeBytes { raw in
            T(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: T.self))
        }
        offset += size
        return value
    }

    /// Unsigned LEB128. Rejects overlong forms and values above 2^64 - 1.
    public mutating func readVarint(_ field: String) throws(DecodingError) -> UInt64 {
        let start = offset
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard offset < end else {
                throw DecodingError(.truncated, at: start, field: field, detail: "varint ends early")
            }
            let byte = buffer[offset]
            offset += 1
            if shift == 63 && byte > 1 {
                throw DecodingError(.varintOverflow, at: start, field: field)
            }
            result |= UInt64(byte & 0x7f) << shift
            if byte & 0x80 == 0 {
                if byte == 0 && shift > 0 {
                    throw DecodingError(.nonCanonicalVarint, at: start, field: field)
                }
                return result
            }
            shift += 7
        }
    }

    /// A varint that must lie in `range`.
    public mutating func readVarint(_ field: String, in range: ClosedRange<UInt64>) throws(DecodingError) -> UInt64 {
        let start = offset
        let value = try readVarint(field)
        guard range.contains(value) else {
            throw DecodingError(.invalidValue, at: start, field: field, detail: "\(value) not in \(range)")
        }
        return value
    }

    /// A length or count, checked against `limit` and against the bytes left,
    /// assuming each counted element takes at least `minElementSize` bytes.
    /// Call this before allocating anything sized by the value.
    public mutating func readCount(_ field: String, limit: Int, minElementSize: Int = 1) throws(DecodingError) -> Int {
        let start = offset
        let value = try readVarint(field)
        guard value <= UInt64(limit) else {
            throw DecodingError(.overLimit, at: start, field: field, detail: "\(value) > limit \(limit)")
        }
        let count = Int(value)
        if minElementSize > 0, count > remaining / minElementSize {
            throw DecodingError(.truncated, at: start, field: field,
                                detail: "\(count) elements cannot fit in \(remaining) bytes")
        }
        return count
    }

    /// Exactly `count` raw bytes.
    public mutating func readRaw(_ field: String, count: Int) throws(DecodingError) -> ArraySlice<UInt8> {
        try need(count, field)
        defer { offset += count }
        return buffer[offset..<(offset + count)]
    }

    /// The range of the next `count` bytes, without copying them.
    public mutating func readRange(_ field: String, count: Int) throws(DecodingError) -> Range<Int> {
        try need(count, field)
        defer { offset += count }
        return offset..<(offset + count)
    }

    /// A varint-length-prefixed byte string of at most `limit` bytes.
    public mutating func readLengthPrefixed(_ field: String, limit: Int) throws(DecodingError) -> [UInt8] {
        let count = try readCount(field, limit: limit)
        return Array(try readRaw(field, count: count))
    }

    /// Fails unless every byte has been consumed.
    public func expectEnd(_ field: String) throws(DecodingError) {
        if offset != end {
            throw DecodingError(.trailingBytes, at: offset, field: field, detail: "\(end - offset) bytes left")
        }
    }

    /// Calls `body` with the bytes still to read.
    public func withUnsafeRemainingBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try buffer.withUnsafeBytes { raw in
            try body(UnsafeRawBufferPointer(rebasing: raw[offset..<end]))
        }
    }
}
