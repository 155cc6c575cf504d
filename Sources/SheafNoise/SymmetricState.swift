import SheafCrypto

/// Noise's SymmetricState: the chaining key and handshake hash that every
/// token of a handshake feeds, and the cipher that protects later tokens.
struct SymmetricState: Sendable {
    private(set) var cipher = CipherState()
    private var chainingKey: [UInt8]
    /// The handshake hash `h` (64 bytes).
    private(set) var hash: [UInt8]

    init(protocolName: [UInt8]) {
        if protocolName.count <= Blake2b512.digestBytes {
            hash = protocolName + [UInt8](repeating: 0, count: Blake2b512.digestBytes - protocolName.count)
        } else {
            hash = Blake2b512.hash(protocolName)
        }
        chainingKey = hash
    }

    mutating func mixKey(_ ikm: [UInt8]) {
        let out = NoiseHKDF.derive(chainingKey: chainingKey, ikm: ikm, outputs: 2)
        chainingKey = out[0]
        cipher = CipherState(key: Self.truncatedKey(out[1]))
    }

    mutating func mixHash(_ data: [UInt8]) {
        hash = Blake2b512.hash(hash, data)
    }

    mutating func mixKeyAndHash(_ ikm: [UInt8]) {
        let out = NoiseHKDF.derive(chainingKey: chainingKey, ikm: ikm, outputs: 3)
        chainingKey = out[0]
        mixHash(out[1])
        cipher = CipherState(key: Self.truncatedKey(out[2]))
    }

    mutating func encryptAndHash(_ plaintext: [UInt8]) throws(NoiseError) -> [UInt8] {
        let ciphertext = try cipher.encrypt(ad: hash, plaintext: plaintext)
        mixHash(ciphertext)
        return ciphertext
    }

    mutating func decryptAndHash(_ ciphertext: [UInt8]) throws(NoiseError) -> [UInt8] {
        let plaintext = try cipher.decrypt(ad: hash, ciphertext: ciphertext)
        mixHash(ciphertext)
        return plaintext
    }

    /// The two transport ciphers: initiator-to-responder first.
    func split() -> (CipherState, CipherState) {
        let out = NoiseHKDF.derive(chainingKey: chainingKey, ikm: [], outputs: 2)
        return (CipherState(key: Self.truncatedKey(out[0])), CipherState(key: Self.truncatedKey(out[1])))
    }

    /// HASHLEN is 64, so cipher keys are the first 32 bytes of an output.
    private static func truncatedKey(_ output: [UInt8]) -> Bytes32 {
        // HKDF outputs are 64 bytes.
        Bytes32(output[0..<32])!
    }
}
