import SheafCodec
import SheafCrypto
import Testing

@Suite("Bytes32 and hex")
struct Bytes32Tests {
    private static func random(_ rng: inout SplitMix64) -> Bytes32 {
        Bytes32(rng.bytes(32))!
    }

    @Test("keeps its bytes in order")
    func bytesRoundTrip() throws {
        let bytes = (0..<32).map { UInt8($0 * 7 + 1) }
        let value = try #require(Bytes32(bytes))
        #expect(value.bytes == bytes)
        value.withUnsafeBytes { #expect(Array($0) == bytes) }
        #expect(bytes.withUnsafeBytes { Bytes32(loading: $0) } == value)
        // From a slice and from a non-contiguous collection.
        #expect(Bytes32(([0xFF] + bytes)[1...]) == value)
        #expect(Bytes32(bytes.reversed())?.bytes == bytes.reversed())
        #expect(Bytes32.zero.bytes == [UInt8](repeating: 0, count: 32))
    }

    @Test("any other length is rejected", arguments: [0, 1, 16, 31, 33, 64])
    func wrongLength(count: Int) {
        #expect(Bytes32([UInt8](repeating: 1, count: count)) == nil)
    }

    @Test("ordering is the lexicographic order of the bytes")
    func ordering() {
        var rng = SplitMix64(seed: 10)
        for _ in 0..<2000 {
            var a = rng.bytes(32)
            var b = rng.bytes(32)
            // Share a prefix of random length so every word position decides some pairs.
            let shared = Int.random(in: 0...32, using: &rng)
            b.replaceSubrange(0..<shared, with: a[0..<shared])
            if shared < 32, Bool.random(using: &rng) {
                // Differ by one in a single byte: the smallest possible difference there.
                b = a
                a[shared] = b[shared] &+ 1
            }
            let x = Bytes32(a)!, y = Bytes32(b)!
            #expect((x < y) == a.lexicographicallyPrecedes(b), "\(a) vs \(b)")
            #expect((y < x) == b.lexicographicallyPrecedes(a))
            #expect((x == y) == (a == b))
        }
    }

    @Test("sorting agrees with sorting the byte arrays")
    func sorting() {
        var rng = SplitMix64(seed: 11)
        let values = (0..<500).map { _ in Self.random(&rng) }
        let sorted = values.sorted()
        let byBytes = values.sorted { $0.bytes.lexicographicallyPrecedes($1.bytes) }
        #expect(sorted == byBytes)
        #expect(Set(values + values).count == values.count)
    }

    @Test("hex round-trips in lower case and accepts upper case")
    func hexRoundTrip() {
        var rng = SplitMix64(seed: 12)
        for _ in 0..<100 {
            let value = Self.random(&rng)
            let hex = value.hex
            #expect(hex.utf8.count == 64)
            #expect(hex == hex.lowercased())
            #expect(Bytes32(hex: hex) == value)
            #expect(Bytes32(hex: hex.uppercased()) == value)
        }
        let bytes = (0..<32).map { UInt8($0) }
        #expect(Bytes32(bytes)!.hex == "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
    }

    @Test("malformed hex is rejected", arguments: [
        "",
        String(repeating: "0", count: 62),
        String(repeating: "0", count: 63),
        String(repeating: "0", count: 66),
        String(repeating: "0", count: 63) + "g",
        String(repeating: "0", count: 62) + " 0",
        String(repeating: "é", count: 32),
    ])
    func badHex(text: String) {
        #expect(Bytes32(hex: text) == nil)
    }

    @Test("Hex encodes and decodes arbitrary byte strings")
    func hexCodec() {
        #expect(Hex.encode([0x00, 0xFF, 0x10, 0xAB]) == "00ff10ab")
        #expect(Hex.decode("00ff10AB") == [0x00, 0xFF, 0x10, 0xAB])
        #expect(Hex.decode("") == [])
        #expect(Hex.decode("abc") == nil)
        #expect(Hex.decode("zz") == nil)
        var rng = SplitMix64(seed: 13)
        for length in 0..<40 {
            let bytes = rng.bytes(length)
            #expect(Hex.decode(Hex.encode(bytes)) == bytes)
        }
    }

    @Test("canonical encoding is the 32 raw bytes")
    func canonical() throws {
        var rng = SplitMix64(seed: 14)
        let value = Self.random(&rng)
        #expect(value.canonicalBytes == value.bytes)
        #expect(try Bytes32(canonicalBytes: value.canonicalBytes) == value)
        do {
            _ = try Bytes32(canonicalBytes: Array(value.bytes.dropLast()))
            Issue.record("31 bytes decoded as Bytes32")
        } catch {
            #expect(error.code == .truncated)
            #expect(error.field == "bytes32")
            #expect(error.offset == 0)
        }
    }
}
