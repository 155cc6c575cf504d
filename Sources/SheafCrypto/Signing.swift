import CSodium
import SheafCodec

/// An Ed25519 public key: a node's identity, a feed's writer, a space's key.
public struct PublicKey: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var raw: Bytes32
    public init(raw: Bytes32) { self.raw = raw }

    public static func < (a: PublicKey, b: PublicKey) -> Bool { a.raw < b.raw }
    public var hex: String { raw.hex }
    public var description: String { "Key(\(raw.hex.prefix(12)))" }

    public init?(hex: String) {
        guard let raw = Bytes32(hex: hex) else { return nil }
        self.raw = raw
    }
}

extension PublicKey: CanonicalCodable {
    public func encode(into writer: inout ByteWriter) { raw.encode(into: &writer) }
    public init(from reader: inout ByteReader) throws(DecodingError) { raw = try Bytes32(from: &reader) }
}

/// A 64-byte Ed25519 signature, kept inline.
public struct Signature: Hashable, Sendable {
    /// R (the commitment point) and S (the scalar), as in RFC 8032.
    public var r: Bytes32
    public var s: Bytes32

    public init(r: Bytes32, s: Bytes32) { self.r = r; self.s = s }

    public init?<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        let all = Array(bytes)
        guard all.count == 64, let r = Bytes32(all[0..<32]), let s = Bytes32(all[32..<64]) else { return nil }
        self.r = r; self.s = s
    }

    public var bytes: [UInt8] { r.bytes + s.bytes }

    /// Whether S is reduced modulo the group order L, as RFC 8032 requires.
    /// A signature with S ≥ L is malleable: rejected before any curve work.
    public var hasCanonicalScalar: Bool {
        // L = 2^252 + 27742317777372353535851937790883648493, little-endian words.
        let l3: UInt64 = 0x1000_0000_0000_0000
        let l2: UInt64 = 0
        let l1: UInt64 = 0x14DE_F9DE_A2F7_9CD6
        let l0: UInt64 = 0x5812_631A_5CF5_D3ED
        if s.w3 != l3 { return s.w3 < l3 }
        if s.w2 != l2 { return s.w2 < l2 }
        if s.w1 != l1 { return s.w1 < l1 }
        return s.w0 < l0
    }
}

extension Signature: CanonicalCodable {
    public func encode(into writer: inout ByteWriter) {
        r.encode(into: &writer)
        s.encode(into: &writer)
    }

    public init(from reader: inout ByteReader) throws(DecodingError) {
        r = try Bytes32(from: &reader)
        s = try Bytes32(from: &reader)
    }
}

/// Separates what is signed for one purpose from every other purpose, so a
/// signature over a head can never be replayed as a signature over a manifest.
///
/// The signed message is `"sheaf/" ‖ label ‖ 0x00 ‖ canonical body`.
public struct SignatureDomain: Hashable, Sendable {
    public let prefix: [UInt8]
    public let label: String

    public init(_ label: String) {
        precondition(!label.isEmpty && !label.utf8.contains(0), "signature domain label must be non-empty, without NUL")
        self.label = label
        prefix = Array("sheaf/".utf8) + Array(label.utf8) + [0]
    }

    public func message(_ body: [UInt8]) -> [UInt8] { prefix + body }
}

/// Why a signature was not accepted.
public struct SignatureError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: Hashable, Sendable {
        /// S is not reduced modulo L: a malleated copy of some signature.
        case nonCanonical
        /// The signature does not verify under the key.
        case invalid
    }
    public let code: Code
    public var description: String {
        switch code {
        case .nonCanonical: "signature is not canonical (S ≥ L)"
        case .invalid: "signature does not verify"
        }
    }
}

extension PublicKey {
    /// Checks `signature` over `body` in `domain`.
    public func verify(_ signature: Signature, over body: [UInt8], domain: SignatureDomain) throws(SignatureError) {
        guard signature.hasCanonicalScalar else { throw SignatureError(code: .nonCanonical) }
        ensureSodium()
        let message = domain.message(body)
        var sig = signature.bytes
        let ok = raw.withUnsafeBytes { pk in
            message.withUnsafeBufferPointer { m in
                sig.withUnsafeMutableBufferPointer { s in
                    crypto_sign_verify_detached(
                        s.baseAddress!, m.baseAddress, UInt64(m.count),
                        pk.baseAddress!.assumingMemoryBound(to: UInt8.self))
                }
            }
        }
        guard ok == 0 else { throw SignatureError(code: .invalid) }
    }

    public func isValid(_ signature: Signature, over body: [UInt8], domain: SignatureDomain) -> Bool {
        do { try verify(signature, over: body, domain: domain); return true } catch { return false }
    }
}

/// An Ed25519 key pair. The secret stays in memory this object owns and is
/// wiped when the object is released; it is never copied into a Swift array
/// except by `seed` on explicit request (to persist a node identity).
public final class KeyPair: Sendable {
    public let publicKey: PublicKey
    // libsodium's 64-byte secret key (seed ‖ public key). Written once in
    // init, read-only afterwards, wiped in deinit: safe to share.
    private nonisolated(unsafe) let secret: UnsafeMutableRawBufferPointer

    /// A new random key pair.
    public convenience init() {
        ensureSodium()
        let seed = secureRandomBytes(32)
        self.init(seedBytes: seed)
    }

    /// The key pair derived from a 32-byte seed (for persisted identities and
    /// for deterministic tests and simulations). Nil unless the seed is 32 bytes.
    public convenience init?<C: Collection>(seed: C) where C.Element == UInt8 {
        guard seed.count == 32 else { return nil }
        self.init(seedBytes: Array(seed))
    }

    private init(seedBytes: [UInt8]) {
        ensureSodium()
        var seed = seedBytes
        let secret = UnsafeMutableRawBufferPointer.allocate(byteCount: 64, alignment: 16)
        secret.bindMemory(to: UInt8.self)
        var pk = [UInt8](repeating: 0, count: 32)
        seed.withUnsafeBufferPointer { s in
            pk.withUnsafeMutableBufferPointer { p in
                _ = crypto_sign_seed_keypair(
                    p.baseAddress!, secret.baseAddress!.assumingMemoryBound(to: UInt8.self), s.baseAddress!)
            }
        }
        seed.withUnsafeMutableBytes { sodium_memzero($0.baseAddress, $0.count) }
        self.secret = secret
        // crypto_sign_seed_keypair always writes 32 bytes.
        publicKey = PublicKey(raw: Bytes32(pk)!)
    }

    deinit {
        sodium_memzero(secret.baseAddress, secret.count)
        secret.deallocate()
    }

    /// Lends libsodium's 64-byte secret key to code in this module (key conversion).
    func withSecretKey<R>(_ body: (UnsafePointer<UInt8>) -> R) -> R {
        body(UnsafePointer(secret.baseAddress!.assumingMemoryBound(to: UInt8.self)))
    }

    /// The 32-byte seed, for writing a node identity to disk.
    public var seed: [UInt8] { Array(secret[0..<32]) }

    /// Signs `body` in `domain`.
    public func sign(_ body: [UInt8], domain: SignatureDomain) -> Signature {
        let message = domain.message(body)
        var sig = [UInt8](repeating: 0, count: 64)
        message.withUnsafeBufferPointer { m in
            sig.withUnsafeMutableBufferPointer { s in
                _ = crypto_sign_detached(
                    s.baseAddress!, nil, m.baseAddress, UInt64(m.count),
                    secret.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
        // crypto_sign_detached always writes 64 bytes.
        return Signature(sig)!
    }
}
