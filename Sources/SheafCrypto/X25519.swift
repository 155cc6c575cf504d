import CSodium

/// Why an X25519 operation was refused.
public enum X25519Error: Error, Hashable, Sendable {
    /// The Diffie-Hellman output was all zeros: the peer sent a low-order
    /// point, which would let it force a known shared secret.
    case degenerateSharedSecret
    /// An Ed25519 public key that has no X25519 counterpart (not on the
    /// curve, or of small order).
    case invalidEd25519Key
}

/// An X25519 key pair (Noise's DH functions). The secret lives in memory this
/// object owns and is wiped on release.
public final class X25519KeyPair: Sendable {
    public static let keyBytes = 32

    public let publicKey: Bytes32
    // Written once in init, read-only afterwards, wiped in deinit: safe to share.
    private nonisolated(unsafe) let secret: UnsafeMutableBufferPointer<UInt8>

    /// A fresh key pair from the operating system's CSPRNG.
    public convenience init() {
        var bytes = secureRandomBytes(Self.keyBytes)
        self.init(secretBytes: bytes)
        wipe(&bytes)
    }

    /// The key pair of a given 32-byte secret (test vectors, derived keys).
    /// Nil unless `secret` has 32 bytes.
    public convenience init?<C: Collection>(secret: C) where C.Element == UInt8 {
        guard secret.count == Self.keyBytes else { return nil }
        var bytes = Array(secret)
        self.init(secretBytes: bytes)
        wipe(&bytes)
    }

    private init(secretBytes: [UInt8]) {
        ensureSodium()
        let secret = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: Self.keyBytes)
        _ = secret.initialize(from: secretBytes)
        self.secret = secret
        publicKey = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { out in
            _ = crypto_scalarmult_curve25519_base(out.baseAddress!, secret.baseAddress!)
            return Bytes32(loading: UnsafeRawBufferPointer(out))
        }
    }

    deinit {
        sodium_memzero(secret.baseAddress, secret.count)
        secret.deallocate()
    }

    /// DH(self, remote). Throws rather than return the all-zero output of a
    /// low-order remote point.
    public func sharedSecret(with remote: Bytes32) throws(X25519Error) -> Bytes32 {
        let result: Bytes32? = remote.withUnsafeBytes { pk in
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { out in
                // libsodium returns -1 exactly when the output is all zeros.
                let status = crypto_scalarmult_curve25519(
                    out.baseAddress!, secret.baseAddress!, pk.baseAddress!.assumingMemoryBound(to: UInt8.self))
                defer { sodium_memzero(out.baseAddress, 32) }
                guard status == 0 else { return nil }
                return Bytes32(loading: UnsafeRawBufferPointer(out))
            }
        }
        guard let result else { throw .degenerateSharedSecret }
        return result
    }
}

extension KeyPair {
    /// The X25519 key pair birationally equivalent to this Ed25519 identity,
    /// so one persisted identity serves both signing and Noise handshakes.
    public func x25519KeyPair() -> X25519KeyPair {
        var curveSecret = [UInt8](repeating: 0, count: 32)
        withSecretKey { sk in
            curveSecret.withUnsafeMutableBufferPointer { out in
                _ = crypto_sign_ed25519_sk_to_curve25519(out.baseAddress!, sk)
            }
        }
        defer { wipe(&curveSecret) }
        // 32 bytes by construction.
        return X25519KeyPair(secret: curveSecret)!
    }
}

extension PublicKey {
    /// The X25519 public key of this Ed25519 key: what a Noise peer holding
    /// the matching identity authenticates with.
    public func x25519PublicKey() throws(X25519Error) -> Bytes32 {
        let result: Bytes32? = raw.withUnsafeBytes { ed in
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 32) { out in
                let status = crypto_sign_ed25519_pk_to_curve25519(
                    out.baseAddress!, ed.baseAddress!.assumingMemoryBound(to: UInt8.self))
                guard status == 0 else { return nil }
                return Bytes32(loading: UnsafeRawBufferPointer(out))
            }
        }
        guard let result else { throw .invalidEd25519Key }
        return result
    }
}
