import SheafCodec
import SheafCrypto
import Testing

/// The Ed25519 group order L = 2^252 + 27742317777372353535851937790883648493,
/// little-endian.
private let groupOrder = hexBytes("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010")

/// `a + b` for little-endian 256-bit numbers (the carry out is dropped).
private func add256(_ a: [UInt8], _ b: [UInt8]) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: 32)
    var carry = 0
    for i in 0..<32 {
        let sum = Int(a[i]) + Int(b[i]) + carry
        out[i] = UInt8(sum & 0xFF)
        carry = sum >> 8
    }
    return out
}

/// `a < b` for little-endian 256-bit numbers.
private func less256(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    Array(a.reversed()).lexicographicallyPrecedes(Array(b.reversed()))
}

private func signatureError(_ body: () throws -> Void) -> SignatureError? {
    do {
        try body()
        return nil
    } catch let error as SignatureError {
        return error
    } catch {
        Issue.record("unexpected error \(error)")
        return nil
    }
}

@Suite("Ed25519 signing")
struct SigningTests {
    static let domain = SignatureDomain("test")
    static let otherDomain = SignatureDomain("test2")

    // RFC 8032 section 7.1, tests 1 to 3: secret seed and public key.
    @Test("RFC 8032 seeds derive the RFC public keys", arguments: [
        ("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
         "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"),
        ("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
         "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"),
        ("c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
         "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025"),
    ])
    func rfc8032PublicKeys(seed: String, publicKey: String) throws {
        let keyPair = try #require(KeyPair(seed: hexBytes(seed)))
        #expect(keyPair.publicKey.raw.bytes == hexBytes(publicKey))
        #expect(keyPair.publicKey.hex == publicKey)
        #expect(keyPair.seed == hexBytes(seed))
    }

    // Cross-checked with the `cryptography` package's Ed25519 (OpenSSL):
    // Ed25519PrivateKey.from_private_bytes(seed).sign(b"sheaf/test\x00abc").
    @Test("a signature covers \"sheaf/\" ‖ label ‖ 0x00 ‖ body (known answer)")
    func domainPrefixKnownAnswer() throws {
        let keyPair = try #require(KeyPair(seed: hexBytes("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")))
        let signature = keyPair.sign(Array("abc".utf8), domain: Self.domain)
        #expect(signature.bytes == hexBytes(
            "54c817b9fbc38a84a0987e10c6b18631f7d24ced55a132d9bd7080954d862f79"
                + "1ba0231fb146a91b26ba563fe9fb0234728ef7283e21f2ff05bca862495ae006"))
        #expect(Self.domain.message([1, 2]) == Array("sheaf/test".utf8) + [0, 1, 2])
    }

    @Test("sign then verify; signing is deterministic")
    func roundTrip() throws {
        let keyPair = try #require(KeyPair(seed: [UInt8](repeating: 7, count: 32)))
        var rng = SplitMix64(seed: 20)
        for length in [0, 1, 64, 1000] {
            let body = rng.bytes(length)
            let signature = keyPair.sign(body, domain: Self.domain)
            #expect(signature.hasCanonicalScalar)
            #expect(keyPair.publicKey.isValid(signature, over: body, domain: Self.domain))
            #expect(signatureError { try keyPair.publicKey.verify(signature, over: body, domain: Self.domain) } == nil)
            #expect(keyPair.sign(body, domain: Self.domain) == signature)
        }
    }

    @Test("verification fails in another domain, under another key, or for another message")
    func rejectsWrongContext() throws {
        let keyPair = try #require(KeyPair(seed: [UInt8](repeating: 8, count: 32)))
        let other = try #require(KeyPair(seed: [UInt8](repeating: 9, count: 32)))
        let body = Array("the quick brown fox".utf8)
        let signature = keyPair.sign(body, domain: Self.domain)

        let wrongDomain = signatureError { try keyPair.publicKey.verify(signature, over: body, domain: Self.otherDomain) }
        #expect(wrongDomain?.code == .invalid)
        let wrongKey = signatureError { try other.publicKey.verify(signature, over: body, domain: Self.domain) }
        #expect(wrongKey?.code == .invalid)
        for i in body.indices {
            var changed = body
            changed[i] ^= 0x20
            let error = signatureError { try keyPair.publicKey.verify(signature, over: changed, domain: Self.domain) }
            #expect(error?.code == .invalid, "flipped message byte \(i)")
        }
        #expect(!keyPair.publicKey.isValid(signature, over: body + [0], domain: Self.domain))
        #expect(!keyPair.publicKey.isValid(signature, over: Array(body.dropLast()), domain: Self.domain))
    }

    @Test("any flipped signature bit is rejected")
    func rejectsFlippedSignature() throws {
        let keyPair = try #require(KeyPair(seed: [UInt8](repeating: 10, count: 32)))
        let body = Array("payload".utf8)
        let signature = keyPair.sign(body, domain: Self.domain)
        for byte in 0..<64 {
            for bit in [0, 3, 7] {
                var bytes = signature.bytes
                bytes[byte] ^= UInt8(1) << UInt8(bit)
                let flipped = try #require(Signature(bytes))
                let error = signatureError { try keyPair.publicKey.verify(flipped, over: body, domain: Self.domain) }
                // A flip in S either leaves it canonical (then the curve check fails)
                // or pushes it to S ≥ L (then it is rejected as non-canonical).
                let expected: SignatureError.Code = flipped.hasCanonicalScalar ? .invalid : .nonCanonical
                #expect(error?.code == expected, "byte \(byte) bit \(bit)")
            }
        }
    }

    @Test("S + L verifies mathematically but is rejected as non-canonical")
    func rejectsMalleatedScalar() throws {
        let keyPair = try #require(KeyPair(seed: [UInt8](repeating: 11, count: 32)))
        var rng = SplitMix64(seed: 21)
        for _ in 0..<20 {
            let body = rng.bytes(40)
            let signature = keyPair.sign(body, domain: Self.domain)
            #expect(signature.hasCanonicalScalar)
            let sPlusL = add256(signature.s.bytes, groupOrder)
            #expect(!less256(sPlusL, groupOrder))  // S' ≥ L
            let malleated = Signature(r: signature.r, s: try #require(Bytes32(sPlusL)))
            #expect(!malleated.hasCanonicalScalar)
            let error = signatureError { try keyPair.publicKey.verify(malleated, over: body, domain: Self.domain) }
            #expect(error?.code == .nonCanonical)
            #expect(!keyPair.publicKey.isValid(malleated, over: body, domain: Self.domain))
        }
    }

    @Test("hasCanonicalScalar is exactly S < L")
    func canonicalScalarBoundary() throws {
        func scalar(_ bytes: [UInt8]) throws -> Signature {
            Signature(r: .zero, s: try #require(Bytes32(bytes)))
        }
        let one = [1] + [UInt8](repeating: 0, count: 31)
        let lMinusOne = [groupOrder[0] - 1] + groupOrder[1...]
        #expect(try scalar([UInt8](repeating: 0, count: 32)).hasCanonicalScalar)
        #expect(try scalar(lMinusOne).hasCanonicalScalar)
        #expect(try !scalar(groupOrder).hasCanonicalScalar)
        #expect(try !scalar(add256(groupOrder, one)).hasCanonicalScalar)
        #expect(try !scalar([UInt8](repeating: 0xFF, count: 32)).hasCanonicalScalar)

        // Random scalars near L: change a few bytes of L up or down, and
        // compare with a plain 256-bit comparison.
        var rng = SplitMix64(seed: 22)
        for _ in 0..<5000 {
            var s = groupOrder
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                s[Int.random(in: 0..<32, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            #expect(try scalar(s).hasCanonicalScalar == less256(s, groupOrder), "S = \(s)")
        }
    }

    @Test("signatures encode as R ‖ S")
    func signatureEncoding() throws {
        let keyPair = try #require(KeyPair(seed: [UInt8](repeating: 12, count: 32)))
        let signature = keyPair.sign([1, 2, 3], domain: Self.domain)
        #expect(signature.bytes.count == 64)
        #expect(signature.bytes == signature.r.bytes + signature.s.bytes)
        #expect(Signature(signature.bytes) == signature)
        #expect(signature.canonicalBytes == signature.bytes)
        #expect(try Signature(canonicalBytes: signature.canonicalBytes) == signature)
        #expect(Signature(signature.bytes.dropLast()) == nil)
        #expect(Signature(signature.bytes + [0]) == nil)
    }

    @Test("a seed must be exactly 32 bytes", arguments: [0, 31, 33, 64])
    func seedLength(count: Int) {
        #expect(KeyPair(seed: [UInt8](repeating: 1, count: count)) == nil)
    }

    @Test("a key pair is restored from its seed")
    func seedRoundTrip() throws {
        let keyPair = KeyPair()
        #expect(keyPair.seed.count == 32)
        let restored = try #require(KeyPair(seed: keyPair.seed))
        #expect(restored.publicKey == keyPair.publicKey)
        let body = Array("restored".utf8)
        #expect(keyPair.publicKey.isValid(restored.sign(body, domain: Self.domain), over: body, domain: Self.domain))
        // Two fresh key pairs differ.
        #expect(KeyPair().publicKey != keyPair.publicKey)
        // Distinct seeds, distinct keys.
        #expect(KeyPair(seed: [UInt8](repeating: 1, count: 32))!.publicKey
            != KeyPair(seed: [1] + [UInt8](repeating: 1, count: 30) + [2])!.publicKey)
    }

    @Test("a key pair signs from many tasks at once")
    func concurrentSigning() async throws {
        let keyPair = try #require(KeyPair(seed: [UInt8](repeating: 13, count: 32)))
        let results = await withTaskGroup(of: Bool.self) { group in
            for i in 0..<64 {
                group.addTask {
                    let body = [UInt8](repeating: UInt8(i), count: i)
                    let signature = keyPair.sign(body, domain: Self.domain)
                    return keyPair.publicKey.isValid(signature, over: body, domain: Self.domain)
                }
            }
            var all = [Bool]()
            for await ok in group { all.append(ok) }
            return all
        }
        #expect(results.count == 64)
        #expect(results.allSatisfy { $0 })
    }

    @Test("public keys encode as 32 bytes and parse from hex")
    func publicKeyEncoding() throws {
        let keyPair = try #require(KeyPair(seed: [UInt8](repeating: 14, count: 32)))
        let key = keyPair.publicKey
        #expect(key.canonicalBytes == key.raw.bytes)
        #expect(try PublicKey(canonicalBytes: key.canonicalBytes) == key)
        #expect(PublicKey(hex: key.hex) == key)
        #expect(PublicKey(hex: "00") == nil)
    }

    @Test("secure random bytes have the requested length and vary")
    func randomBytes() {
        #expect(secureRandomBytes(0).isEmpty)
        let a = secureRandomBytes(32), b = secureRandomBytes(32)
        #expect(a.count == 32)
        #expect(a != b)
    }
}
