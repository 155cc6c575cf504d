import PropertyBased
@testable import SheafCodec
import Testing

@Suite("CRC-32C")
struct CRC32CTests {
    /// Bit-at-a-time CRC-32C, independent of the table-driven implementation.
    private static func reference(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
        }
        return ~crc
    }

    // The check value of the CRC catalogue and the vectors of RFC 3720 appendix B.4.
    static let vectors: [([UInt8], UInt32)] = [
        (Array("123456789".utf8), 0xE306_9283),
        ([UInt8](repeating: 0x00, count: 32), 0x8A91_36AA),
        ([UInt8](repeating: 0xFF, count: 32), 0x62A8_AB43),
        ((0..<32).map { UInt8($0) }, 0x46DD_794E),
        ((0..<32).reversed().map { UInt8($0) }, 0x113F_DB5C),
        ([], 0),
    ]

    @Test("known answers", arguments: vectors)
    func knownAnswers(input: [UInt8], expected: UInt32) {
        #expect(CRC32C.checksum(input) == expected)
        #expect(input.withUnsafeBytes { CRC32C.checksum($0) } == expected)
        #expect(Self.reference(input) == expected)
    }

    @Test("matches the bitwise definition for every length and alignment, in both paths")
    func matchesReference() async {
        await propertyCheck(count: 500, input: Gen.uint8().array(of: 0...100), Gen.int(in: 0...7)) { bytes, skip in
            let slice = bytes.dropFirst(min(skip, bytes.count))  // unaligned start
            #expect(CRC32C.checksum(slice) == Self.reference(Array(slice)))
            // The portable path too: the public one uses the CPU's instruction where there is one.
            #expect(Array(slice).withUnsafeBytes { CRC32C.software($0) } == Self.reference(Array(slice)))
        }
    }

    @Test("chunked computation equals one-shot")
    func chunked() async {
        await propertyCheck(count: 500, input: Gen.uint8().array(of: 0...300), Gen.int(in: 0...300).array(of: 0...6)) {
            bytes, cuts in
            let points = ([0, bytes.count] + cuts.map { min($0, bytes.count) }).sorted()
            var crc: UInt32 = 0
            bytes.withUnsafeBytes { raw in
                for (lo, hi) in zip(points, points.dropFirst()) {
                    crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[lo..<hi]), continuing: crc)
                }
            }
            #expect(crc == CRC32C.checksum(bytes))
        }
    }

    @Test("detects every single-bit error")
    func singleBitFlip() async {
        await propertyCheck(count: 500, input: Gen.uint8().array(of: 1...200), Gen.int(in: 0...Int.max)) { bytes, pick in
            var flipped = bytes
            let bit = pick % (bytes.count * 8)
            flipped[bit / 8] ^= UInt8(1) << UInt8(bit % 8)
            #expect(CRC32C.checksum(flipped) != CRC32C.checksum(bytes))
        }
    }

    @Test("a non-contiguous collection gives the same checksum")
    func nonContiguous() {
        var rng = SplitMix64(seed: 32)
        let bytes = rng.bytes(1000)
        let reversed = bytes.reversed()           // ReversedCollection: no contiguous storage
        #expect(CRC32C.checksum(reversed) == CRC32C.checksum(Array(reversed)))
        #expect(CRC32C.checksum(reversed) == Self.reference(Array(reversed)))
    }
}
