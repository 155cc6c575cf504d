import CSodium

/// BLAKE2b with a 64-byte digest and no personalization, and HMAC over it:
/// the hash of the Noise suite `25519_ChaChaPoly_BLAKE2b` (HASHLEN 64,
/// BLOCKLEN 128). Used for handshakes only, so it favours plain arrays.
public enum Blake2b512 {
    public static let digestBytes = 64
    public static let blockBytes = 128

    /// The digest of the concatenation of `parts`.
    public static func hash(_ parts: [UInt8]...) -> [UInt8] { hash(parts: parts) }

    public static func hash(parts: [[UInt8]]) -> [UInt8] {
        let state = Blake2bState(outputBytes: digestBytes, personal: nil)
        for part in parts { part.withUnsafeBytes { state.update($0) } }
        var out = [UInt8](repeating: 0, count: digestBytes)
        out.withUnsafeMutableBufferPointer { state.finalize(into: $0) }
        return out
    }

    /// HMAC (RFC 2104) keyed with `key` over the concatenation of `parts`.
    public static func hmac(key: [UInt8], _ parts: [UInt8]...) -> [UInt8] {
        var block = key.count > blockBytes ? hash(key) : key
        block += [UInt8](repeating: 0, count: blockBytes - block.count)
        var inner = block.map { $0 ^ 0x36 }
        var outer = block.map { $0 ^ 0x5c }
        defer {
            wipe(&block)
            wipe(&inner)
            wipe(&outer)
        }
        let innerDigest = hash(parts: [inner] + parts)
        return hash(outer, innerDigest)
    }
}

/// Overwrites `bytes` with zeros in a way the optimizer keeps.
public func wipe(_ bytes: inout [UInt8]) {
    bytes.withUnsafeMutableBytes { sodium_memzero($0.baseAddress, $0.count) }
}
