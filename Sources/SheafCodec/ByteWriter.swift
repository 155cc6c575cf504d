/// Appends values in Sheaf's canonical binary encoding.
///
/// The encoding has exactly one form per value: unsigned LEB128 varints with no
/// redundant bytes, little-endian fixed-width integers, and byte strings
/// prefixed by their varint length. Everything that is hashed, signed, stored
/// or sent goes through this type, so equal values always give equal bytes.
public struct ByteWriter: Sendable {
    // Inlinable, so encoders in other modules are specialized: every record
    // of a snapshot goes through these few methods.
    @usableFromInline var storage: [UInt8]

    public var bytes: [UInt8] { storage }

    @inlinable
    public init(capacity: Int = 64) {
        storage = []
        storage.reserveCapacity(capacity)
    }

    @inlinable public var count: Int { storage.count }

    @inlinable public mutating func reserveCapacity(_ n: Int) { storage.reserveCapacity(n) }

    @inlinable
    public mutating func removeAll(keepingCapacity: Bool = true) {
        storage.removeAll(keepingCapacity: keepingCapacity)
    }

    @inlinable public mutating func writeUInt8(_ value: UInt8) { storage.append(value) }

    @inlinable public mutating func writeUInt16(_ value: UInt16) { appendLittleEndian(value) }
    @inlinable public mutating func writeUInt32(_ value: UInt32) { appendLittleEndian(value) }
    @inlinable public mutating func writeUInt64(_ value: UInt64) { appendLittleEndian(value) }

    /// Unsigned LEB128, 1 to 10 bytes.
    @inlinable
    public mutating func writeVarint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            storage.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        storage.append(UInt8(v))
    }

    /// Raw bytes with no length prefix, for fixed-size fields such as keys and hashes.
    @inlinable
    public mutating func writeRaw<C: Collection>(_ raw: C) where C.Element == UInt8 {
        storage.append(contentsOf: raw)
    }

    @inlinable
    public mutating func writeRaw(_ raw: UnsafeRawBufferPointer) {
        storage.append(contentsOf: raw)
    }

    /// A varint length followed by the bytes.
    @inlinable
    public mutating func writeLengthPrefixed<C: Collection>(_ raw: C) where C.Element == UInt8 {
        writeVarint(UInt64(raw.count))
        storage.append(contentsOf: raw)
    }

    /// Overwrites four bytes at `offset` with a little-endian value, for
    /// headers whose content (a length, a checksum) is known only afterwards.
    public mutating func patchUInt32(_ value: UInt32, at offset: Int) {
        precondition(offset >= 0 && offset + 4 <= storage.count, "patch outside written bytes")
        var v = value.littleEndian
        Swift.withUnsafeBytes(of: &v) { src in
            for i in 0..<4 { storage[offset + i] = src[i] }
        }
    }

    /// Gives direct access to the written bytes, e.g. to checksum a region.
    @inlinable
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try storage.withUnsafeBytes(body)
    }

    @inlinable
    mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        var v = value.littleEndian
        Swift.withUnsafeBytes(of: &v) { storage.append(contentsOf: $0) }
    }

    /// Number of bytes `writeVarint(value)` appends.
    public static func varintSize(_ value: UInt64) -> Int {
        value == 0 ? 1 : (64 - value.leadingZeroBitCount + 6) / 7
    }
}
