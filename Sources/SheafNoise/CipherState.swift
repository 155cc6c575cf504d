import SheafCrypto

/// Noise's CipherState: a ChaCha20-Poly1305 key and the nonce counter that
/// must never repeat under it.
///
/// The key is held inline (a value type) and so is not wiped on release.
public struct CipherState: Sendable {
    /// The largest Noise message (handshake or transport), ciphertext included.
    public static let maxMessageBytes = 65535
    public static let tagBytes = ChaChaPoly.tagBytes
    /// The largest plaintext one message can carry under a key.
    public static let maxPlaintextBytes = maxMessageBytes - tagBytes

    private var key: Bytes32?
    /// The next nonce. 2^64-1 is reserved for `rekey` and never used for a message.
    public private(set) var nonce: UInt64 = 0

    public init(key: Bytes32? = nil) { self.key = key }

    public var hasKey: Bool { key != nil }

    /// Noise's SetNonce (tests, and protocols that carry explicit nonces).
    public mutating func setNonce(_ value: UInt64) { nonce = value }

    /// Without a key, the plaintext is returned unchanged (as Noise specifies).
    public mutating func encrypt(ad: [UInt8], plaintext: [UInt8]) throws(NoiseError) -> [UInt8] {
        guard let key else { return plaintext }
        guard plaintext.count <= Self.maxPlaintextBytes else { throw .messageTooLarge(plaintext.count + Self.tagBytes) }
        let n = try takeNonce()
        return ChaChaPoly.seal(key: key, nonce: n, ad: ad, plaintext: plaintext)
    }

    /// A failed decryption leaves the nonce where it was.
    public mutating func decrypt(ad: [UInt8], ciphertext: [UInt8]) throws(NoiseError) -> [UInt8] {
        guard let key else { return ciphertext }
        guard ciphertext.count <= Self.maxMessageBytes else { throw .messageTooLarge(ciphertext.count) }
        guard ciphertext.count >= Self.tagBytes else { throw .messageTooShort }
        guard nonce != .max else { throw .nonceExhausted }
        guard let plaintext = ChaChaPoly.open(key: key, nonce: nonce, ad: ad, ciphertext: ciphertext) else {
            throw .decryptFailed
        }
        nonce += 1
        return plaintext
    }

    /// Encrypts with empty associated data into `out` (`plaintext.count + 16`
    /// bytes, may start at `plaintext`): the record layer's copy-free path.
    /// Requires a key.
    public mutating func seal(_ plaintext: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) throws(NoiseError) {
        guard let key else { throw .missingKey("cipher key") }
        guard plaintext.count <= Self.maxPlaintextBytes else { throw .messageTooLarge(plaintext.count + Self.tagBytes) }
        let n = try takeNonce()
        ChaChaPoly.seal(key: key, nonce: n, ad: UnsafeRawBufferPointer(start: nil, count: 0), plaintext: plaintext, into: out)
    }

    /// Decrypts with empty associated data into `out` (`ciphertext.count - 16`
    /// bytes, may start at `ciphertext`). Requires a key.
    public mutating func open(_ ciphertext: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) throws(NoiseError) {
        guard let key else { throw .missingKey("cipher key") }
        guard ciphertext.count <= Self.maxMessageBytes else { throw .messageTooLarge(ciphertext.count) }
        guard ciphertext.count >= Self.tagBytes else { throw .messageTooShort }
        guard nonce != .max else { throw .nonceExhausted }
        guard ChaChaPoly.open(key: key, nonce: nonce, ad: UnsafeRawBufferPointer(start: nil, count: 0),
                              ciphertext: ciphertext, into: out) else { throw .decryptFailed }
        nonce += 1
    }

    /// Noise's Rekey: the new key is the first 32 bytes of encrypting 32 zero
    /// bytes under the reserved nonce 2^64-1. The nonce counter is kept.
    public mutating func rekey() {
        guard let key else { return }
        let next = ChaChaPoly.seal(key: key, nonce: .max, ad: [], plaintext: [UInt8](repeating: 0, count: 32))
        // 48 bytes, so the first 32 always exist.
        self.key = Bytes32(next[0..<32])
    }

    private mutating func takeNonce() throws(NoiseError) -> UInt64 {
        guard nonce != .max else { throw .nonceExhausted }
        defer { nonce += 1 }
        return nonce
    }
}
