import CSodium
import SheafCodec

/// A BLAKE2b-256 digest.
public struct Hash: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var raw: Bytes32
    public init(raw: Bytes32) { self.raw = raw }

    public static let zero = Hash(raw: .zero)
    public static func < (a: Hash, b: Hash) -> Bool { a.raw < b.raw }
    public var hex: String { raw.hex }
    public var description: String { "Hash(\(raw.hex.prefix(16)))" }
}

extension Hash: CanonicalCodable {
    public func encode(into writer: inout ByteWriter) { raw.encode(into: &writer) }
    public init(from reader: inout ByteReader) throws(DecodingError) { raw = try Bytes32(from: &reader) }
}

/// A label that separates the uses of BLAKE2b, so a digest made for one
/// purpose can never be mistaken for one made for another.
///
/// The label is BLAKE2b's 16-byte personalization parameter, so separation
/// costs no extra bytes of input: a 112-byte entry is still one compression.
public struct HashDomain: Hashable, Sendable, CustomStringConvertible {
    /// The label, padded with zero bytes to 16.
    public let personal: [UInt8]
    public let label: String

    /// `label` must be 1 to 16 printable ASCII bytes (no NUL, so "a" and
    /// "a\0" cannot alias after padding); domains are compile-time constants.
    public init(_ label: String) {
        let utf8 = Array(label.utf8)
        precondition(!utf8.isEmpty && utf8.count <= 16 && utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7f },
                     "hash domain label must be 1-16 printable ASCII bytes")
        self.label = label
        personal = utf8 + [UInt8](repeating: 0, count: 16 - utf8.count)
    }

    public var description: String { label }
}

extension Hash {
    /// BLAKE2b-256 of `bytes` in `domain`.
    public static func of(_ bytes: UnsafeRawBufferPointer, domain: HashDomain) -> Hash {
        ensureSodium()
        // The digest is written into memory bound to UInt8 and read back with
        // raw loads: writing through a UInt8 pointer into memory bound to
        // another type would let the optimizer assume it never changed.
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { out in
            domain.personal.withUnsafeBufferPointer { personal in
                _ = crypto_generichash_blake2b_salt_personal(
                    out.baseAddress!, 32,
                    bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(bytes.count),
                    nil, 0, nil, personal.baseAddress)
            }
            return Hash(raw: Bytes32(loading: UnsafeRawBufferPointer(out)))
        }
    }

    public static func of<C: Collection>(_ bytes: C, domain: HashDomain) -> Hash where C.Element == UInt8 {
        if let h = bytes.withContiguousStorageIfAvailable({ of(UnsafeRawBufferPointer($0), domain: domain) }) {
            return h
        }
        return Array(bytes).withUnsafeBytes { of($0, domain: domain) }
    }
}

/// Incremental BLAKE2b-256, for inputs that arrive in pieces (chunks, files).
public final class Hasher {
    private let state: Blake2bState
    private var finished = false

    public init(domain: HashDomain) {
        state = Blake2bState(outputBytes: 32, personal: domain.personal)
    }

    public func update(_ bytes: UnsafeRawBufferPointer) {
        precondition(!finished, "Hasher used after finalize()")
        state.update(bytes)
    }

    public func update<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        if bytes.withContiguousStorageIfAvailable({ update(UnsafeRawBufferPointer($0)) }) == nil {
            Array(bytes).withUnsafeBytes { update($0) }
        }
    }

    /// An independent hasher in the same state, so a running digest can be
    /// read (by finalizing the copy) while this one keeps absorbing input.
    public func copy() -> Hasher {
        precondition(!finished, "Hasher copied after finalize()")
        return Hasher(copying: self)
    }

    private init(copying other: Hasher) {
        state = Blake2bState(copying: other.state)
    }

    /// The digest; the hasher cannot be used afterwards.
    public func finalize() -> Hash {
        precondition(!finished, "Hasher finalized twice")
        finished = true
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { out in
            state.finalize(into: out)
            return Hash(raw: Bytes32(loading: UnsafeRawBufferPointer(out)))
        }
    }
}
