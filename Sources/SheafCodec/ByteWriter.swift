/// Appends values in Sheaf's canonical binary encoding.
///
/// The encoding has exactly one form per value: unsigned LEB128 varints with no
/// redundant bytes, little-endian fixed-width integers, and byte strings
/// prefixed by their varint length. Everything that is hashed, signed, stored
/// or sent goes through this type, so equal values always give equal bytes.
public struct ByteWriter: Sendable {
    public private(set) var bytes: [UInt8]

    public init(capacity: Int = 64) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public var count: Int { bytes.count }

    public mutating func reserveCapacity(_ n: Int) { bytes.reserveCapacity(n) }

    public mutating func removeAll(keepingCapacity: Bool = true) {
        bytes.removeAll(keepingCapacity: keepingCapacity)
    }

    public mutating func writeUInt8(_ value: UInt8) { bytes.append(value) }

    public mutating func writeUInt16(_ value: UInt16) { appendLittleEndian(value) }
    public mutating func writeUInt32(_ value: UInt32) { appendLittleEndian(value) }
    public mutating func writeUInt64(_ value: UInt64) { appendLittleEndian(value) }

    /// Unsigned LEB128, 1 to 10 bytes.
    public mutating func writeVarint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    /// Raw bytes with no length prefix, for fixed-size fields such as keys and hashes.
    public mutating func writeRaw<C: Collection>(_ raw: C) where C.Element == UInt8 {
        bytes.append(contentsOf: raw)
    }

    public mutating func writeRaw(_ raw: UnsafeRawBufferPointer) {
        bytes.append(contentsOf: raw)
    }

    /// A varint length followed by the bytes.
    public mutating func writeLengthPrefixed<C: Collection>(_ raw: C) where C.Element == UInt8 {
        writeVarint(UInt64(raw.count))
        bytes.append(contentsOf: raw)
    }

    /// Overwrites four bytes at `offset` with a little-endian value, for
    /// headers whose content (a length, a checksum) is known only afterwards.
    public mutating func patchUInt32(_ value: UInt32, at offset: Int) {
        precondition(offset >= 0 && offset + 4 <= bytes.count, "patch outside written bytes")
        var v = value.littleEndian
        Swift.withUnsafeBytes(of: &v) { src in
            for i in 0..<4 { bytes[offset + i] = src[i] }
        }
    }

    /// Gives direct access to the written bytes, e.g. to checksum a region.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try bytes.withUnsafeBytes(body)
    }

    private mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        var v = value.littleEndian
        Swift.withUnsafeBytes(of: &v) { bytes.append(contentsOf: $0) }
    }

    /// Number of bytes `writeVarint(value)` appends.
    public static func varintSize(_ value: UInt64) -> Int {
        value == 0 ? 1 : (64 - value.leadingZeroBitCount + 6) / 7
    }
}
