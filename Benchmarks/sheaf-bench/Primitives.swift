import ArgumentParser
import SheafCompression
import SheafCrypto
import SheafFeeds

/// The physical limits other figures are read against: signature, hash and
/// compression speed of this machine, through the same code paths Sheaf uses.
struct Primitives: CheckedCommand {
    static let configuration = CommandConfiguration(
        commandName: "primitives",
        abstract: "Ed25519, BLAKE2b and zstd speed on this machine (one core).")

    @Option(help: "Signatures to make and check.") var signatures = 20_000
    @Option(help: "Megabytes to hash and compress.") var megabytes = 64

    func runMeasured() throws {
        let keyPair = KeyPair(seed: [UInt8](repeating: 3, count: 32))!
        let domain = SignatureDomain("bench")
        var rng = SplitMix64(seed: 3)
        let message = rng.bytes(72)  // the size of a signed head's body

        progress("primitives: \(signatures) Ed25519 signatures")
        let (sigs, signSeconds) = measure { (0..<signatures).map { _ in keyPair.sign(message, domain: domain) } }
        let (valid, verifySeconds) = measure { sigs.reduce(0) { $0 + (keyPair.publicKey.isValid($1, over: message, domain: domain) ? 1 : 0) } }
        guard valid == signatures else { throw ValidationError("signature check failed") }

        progress("primitives: BLAKE2b over \(megabytes) MB")
        let big = rng.bytes(megabytes << 20)
        let hashDomain = HashDomain("bench")
        let (_, hashSeconds) = measure { Hash.of(big, domain: hashDomain) }
        // Entry-sized inputs: what range verification does, one block per hash.
        let small = 112
        let smallCount = big.count / small
        let (_, smallSeconds) = big.withUnsafeBytes { raw in
            measure {
                var acc = Hash.zero
                for i in 0..<smallCount {
                    acc = Hash.of(UnsafeRawBufferPointer(rebasing: raw[(i * small)..<((i + 1) * small)]), domain: hashDomain)
                }
                return acc
            }
        }

        progress("primitives: zstd level \(Zstd.defaultLevel) over \(megabytes) MB of JSON-like text")
        let json = jsonLike(bytes: megabytes << 20, rng: &rng)
        let (compressed, compressSeconds) = try measure { try Zstd.compress(json, level: Zstd.defaultLevel) }
        let (restored, decompressSeconds) = try measure { try Zstd.decompress(compressed, maxOutput: json.count) }
        guard restored == json else { throw ValidationError("zstd round trip failed") }

        let mb = Double(big.count) / 1e6
        var report = Report(bench: "primitives")
        report.add("ed25519_sign_per_s", Double(signatures) / signSeconds)
        report.add("ed25519_verify_per_s", Double(signatures) / verifySeconds)
        report.add("blake2b_mb_per_s", mb / hashSeconds)
        report.add("blake2b_112b_hashes_per_s", Double(smallCount) / smallSeconds)
        report.add("blake2b_112b_mb_per_s", Double(smallCount * small) / smallSeconds / 1e6)
        report.add("zstd3_compress_mb_per_s", Double(json.count) / 1e6 / compressSeconds)
        report.add("zstd3_decompress_mb_per_s", Double(json.count) / 1e6 / decompressSeconds)
        report.add("zstd3_ratio", Double(json.count) / Double(compressed.count))
        report.print()
    }

    /// Object records shaped like W1's: ids, field names, 64-character values.
    private func jsonLike(bytes: Int, rng: inout SplitMix64) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(bytes + 256)
        while out.count < bytes {
            let id = rng.next() % 10_000
            let field = rng.next() % 8
            let value = String(decoding: rng.alphanumeric(64), as: UTF8.self)
            out.append(contentsOf: Array("{\"id\":\"obj-\(id)\",\"field\":\"f\(field)\",\"value\":\"\(value)\",\"lamport\":\(rng.next() % 1_000_000)}\n".utf8))
        }
        return Array(out.prefix(bytes))
    }
}
