import CSodium

/// ChaCha20-Poly1305 (IETF, 96-bit nonce) with Noise's nonce layout: four
/// zero bytes, then a 64-bit little-endian counter.
public enum ChaChaPoly {
    public static let keyBytes = 32
    public static let tagBytes = 16

    /// Encrypts `plaintext` into `out`, which must hold `plaintext.count + tagBytes`
    /// bytes. `out` may start at `plaintext` (encryption in place).
    public static func seal(key: Bytes32, nonce: UInt64, ad: UnsafeRawBufferPointer,
                            plaintext: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) {
        precondition(out.count >= plaintext.count + tagBytes)
        ensureSodium()
        withKeyAndNonce(key, nonce) { k, n in
            var written: UInt64 = 0
            _ = crypto_aead_chacha20poly1305_ietf_encrypt(
                out.baseAddress!.assumingMemoryBound(to: UInt8.self), &written,
                plaintext.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(plaintext.count),
                ad.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(ad.count),
                nil, n, k)
        }
    }

    /// Decrypts and authenticates `ciphertext` into `out`, which must hold
    /// `ciphertext.count - tagBytes` bytes (`out` may start at `ciphertext`).
    /// False, with `out` unspecified, when the ciphertext is short or forged.
    public static func open(key: Bytes32, nonce: UInt64, ad: UnsafeRawBufferPointer,
                            ciphertext: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) -> Bool {
        guard ciphertext.count >= tagBytes, out.count >= ciphertext.count - tagBytes else { return false }
        ensureSodium()
        return withKeyAndNonce(key, nonce) { k, n in
            var written: UInt64 = 0
            return crypto_aead_chacha20poly1305_ietf_decrypt(
                out.baseAddress?.assumingMemoryBound(to: UInt8.self), &written, nil,
                ciphertext.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt64(ciphertext.count),
                ad.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(ad.count),
                n, k) == 0
        }
    }

    public static func seal(key: Bytes32, nonce: UInt64, ad: [UInt8], plaintext: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: plaintext.count + tagBytes)
        ad.withUnsafeBytes { a in
            plaintext.withUnsafeBytes { p in
                out.withUnsafeMutableBytes { seal(key: key, nonce: nonce, ad: a, plaintext: p, into: $0) }
            }
        }
        return out
    }

    /// Nil when the ciphertext is short or does not authenticate.
    public static func open(key: Bytes32, nonce: UInt64, ad: [UInt8], ciphertext: [UInt8]) -> [UInt8]? {
        guard ciphertext.count >= tagBytes else { return nil }
        var out = [UInt8](repeating: 0, count: ciphertext.count - tagBytes)
        let ok = ad.withUnsafeBytes { a in
            ciphertext.withUnsafeBytes { c in
                out.withUnsafeMutableBytes { open(key: key, nonce: nonce, ad: a, ciphertext: c, into: $0) }
            }
        }
        return ok ? out : nil
    }

    private static func withKeyAndNonce<R>(
        _ key: Bytes32, _ nonce: UInt64, _ body: (UnsafePointer<UInt8>, UnsafePointer<UInt8>) -> R
    ) -> R {
        key.withUnsafeBytes { k in
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 12) { n in
                let raw = UnsafeMutableRawBufferPointer(n)
                raw.storeBytes(of: UInt32(0), toByteOffset: 0, as: UInt32.self)
                raw.storeBytes(of: nonce.littleEndian, toByteOffset: 4, as: UInt64.self)
                return body(k.baseAddress!.assumingMemoryBound(to: UInt8.self), UnsafePointer(n.baseAddress!))
            }
        }
    }
}
