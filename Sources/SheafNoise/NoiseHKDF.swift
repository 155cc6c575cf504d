import SheafCrypto

/// Noise's HKDF over HMAC-BLAKE2b: two or three 64-byte outputs from a
/// chaining key and input key material.
enum NoiseHKDF {
    static func derive(chainingKey: [UInt8], ikm: [UInt8], outputs: Int) -> [[UInt8]] {
        precondition(outputs == 2 || outputs == 3)
        var tempKey = Blake2b512.hmac(key: chainingKey, ikm)
        defer { wipe(&tempKey) }
        var results = [Blake2b512.hmac(key: tempKey, [1])]
        for i in 2...outputs {
            results.append(Blake2b512.hmac(key: tempKey, results[i - 2], [UInt8(i)]))
        }
        return results
    }
}
