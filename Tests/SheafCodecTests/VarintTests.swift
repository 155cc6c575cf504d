import PropertyBased
import SheafCodec
import Testing

@Suite("Varint (unsigned LEB128)")
struct VarintTests {
    private static func encode(_ value: UInt64) -> [UInt8] {
        var writer = ByteWriter()
        writer.writeVarint(value)
        return writer.bytes
    }

    // Known LEB128 encodings (300 = [0xAC, 0x02] is the textbook example).
    static let knownVectors: [(UInt64, [UInt8])] = [
        (0, [0x00]),
        (1, [0x01]),
        (127, [0x7F]),
        (128, [0x80, 0x01]),
        (300, [0xAC, 0x02]),
        (16_383, [0xFF, 0x7F]),
        (16_384, [0x80, 0x80, 0x01]),
        (UInt64(UInt32.max), [0xFF, 0xFF, 0xFF, 0xFF, 0x0F]),
        (UInt64(1) << 63, [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]),
        (UInt64.max, [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]),
    ]

    @Test("known encodings of edge values", arguments: knownVectors)
    func knownEncodings(value: UInt64, encoded: [UInt8]) throws {
        #expect(Self.encode(value) == encoded)
        #expect(ByteWriter.varintSize(value) == encoded.count)
        var reader = ByteReader(encoded)
        #expect(try reader.readVarint("v") == value)
        #expect(reader.isAtEnd)
    }

    @Test("varintSize matches the bytes written at every 7-bit boundary")
    func sizesAtBoundaries() throws {
        for k in 1...9 {
            let top = (UInt64(1) << (7 * UInt64(k))) - 1   // largest k-byte value
            #expect(ByteWriter.varintSize(top) == k)
            #expect(Self.encode(top).count == k)
            #expect(ByteWriter.varintSize(top + 1) == k + 1)
            #expect(Self.encode(top + 1).count == k + 1)
        }
        for bit in 0..<64 {
            for value in [UInt64(1) << bit, (UInt64(1) << bit) - 1, (UInt64(1) << bit) | 1] {
                #expect(Self.encode(value).count == ByteWriter.varintSize(value), "value \(value)")
            }
        }
    }

    @Test("random values round-trip with the predicted size")
    func randomRoundTrip() async {
        // Shifting spreads the values over every encoded length (1 to 10 bytes).
        await propertyCheck(count: 1000, input: Gen.uint64(), Gen.int(in: 0...63)) { raw, shift throws in
            let value = raw >> UInt64(shift)
            let bytes = Self.encode(value)
            #expect(bytes.count == ByteWriter.varintSize(value))
            // Every byte but the last has the continuation bit.
            #expect(bytes.dropLast().allSatisfy { $0 & 0x80 != 0 })
            #expect(bytes.last! & 0x80 == 0)
            var reader = ByteReader(bytes)
            #expect(try reader.readVarint("v") == value)
            #expect(reader.isAtEnd)
        }
    }

    @Test("a sequence of varints decodes back in order")
    func sequenceRoundTrip() async {
        await propertyCheck(count: 300, input: Gen.uint64().array(of: 0...20), Gen.int(in: 0...63)) { values, shift throws in
            var writer = ByteWriter()
            let shifted = values.map { $0 >> UInt64(shift) }
            for v in shifted { writer.writeVarint(v) }
            #expect(writer.count == shifted.reduce(0) { $0 + ByteWriter.varintSize($1) })
            var reader = ByteReader(writer.bytes)
            for v in shifted { #expect(try reader.readVarint("v") == v) }
            #expect(reader.isAtEnd)
        }
    }

    @Test("any accepted byte string is the one canonical encoding of its value")
    func decodingIsCanonical() async {
        await propertyCheck(count: 1000, input: Gen.uint8().array(of: 1...11)) { bytes in
            var reader = ByteReader(bytes)
            guard let value = try? reader.readVarint("v") else { return }
            let consumed = Array(bytes[..<reader.offset])
            #expect(Self.encode(value) == consumed)
        }
    }

    @Test("overlong forms are rejected as non-canonical", arguments: [
        [0x80, 0x00] as [UInt8],                                   // 0 in two bytes
        [0xFF, 0x00],                                              // 127 in two bytes
        [0x80, 0x80, 0x00],                                        // 0 in three bytes
        [0x81, 0x80, 0x00],                                        // 1 in three bytes
        [0x80, 0x81, 0x00],                                        // 128 in three bytes
        [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00],  // 0 in ten bytes
    ])
    func rejectsOverlong(bytes: [UInt8]) throws {
        // Preceded by one unrelated byte, so the offset must be that of the varint.
        var reader = ByteReader([0x2A] + bytes)
        _ = try reader.readUInt8("lead")
        let error = try #require(decodingError { try reader.readVarint("thing.count") })
        #expect(error.code == .nonCanonicalVarint)
        #expect(error.field == "thing.count")
        #expect(error.offset == 1)
    }

    @Test("values above 2^64 - 1 are rejected as overflow", arguments: [
        [UInt8](repeating: 0xFF, count: 10) + [0x01],               // 11 bytes
        [UInt8](repeating: 0x80, count: 10) + [0x01],               // 11 bytes, tenth has continuation
        [UInt8](repeating: 0xFF, count: 9) + [0x02],                // tenth byte 2: bit 64
        [UInt8](repeating: 0x80, count: 9) + [0x7F],                // tenth byte 127
        [UInt8](repeating: 0x80, count: 9) + [0x81, 0x00],          // tenth byte continues
    ])
    func rejectsOverflow(bytes: [UInt8]) throws {
        var reader = ByteReader([0x00, 0x00, 0x00] + bytes)
        _ = try reader.readRaw("lead", count: 3)
        let error = try #require(decodingError { try reader.readVarint("entry.seq") })
        #expect(error.code == .varintOverflow)
        #expect(error.field == "entry.seq")
        #expect(error.offset == 3)
    }

    @Test("the largest ten-byte forms are still accepted")
    func acceptsTenthByteOne() throws {
        var reader = ByteReader([UInt8](repeating: 0x80, count: 9) + [0x01])
        #expect(try reader.readVarint("v") == UInt64(1) << 63)
        var max = ByteReader([UInt8](repeating: 0xFF, count: 9) + [0x01])
        #expect(try max.readVarint("v") == UInt64.max)
    }

    @Test("a varint cut short is truncated at its start", arguments: [
        [] as [UInt8], [0x80], [0xFF, 0xFF], [UInt8](repeating: 0xFF, count: 9),
    ])
    func rejectsTruncated(bytes: [UInt8]) throws {
        var reader = ByteReader([0x07] + bytes)
        _ = try reader.readUInt8("lead")
        let error = try #require(decodingError { try reader.readVarint("frame.length") })
        #expect(error.code == .truncated)
        #expect(error.field == "frame.length")
        #expect(error.offset == 1)
    }

    @Test("a varint outside the allowed range is an invalid value")
    func rangeChecked() throws {
        var ok = ByteReader([0x05])
        #expect(try ok.readVarint("seq", in: 1...5) == 5)

        var reader = ByteReader([0x01, 0x00])
        _ = try reader.readUInt8("lead")
        let zero = try #require(decodingError { try reader.readVarint("entry.seq", in: 1...UInt64.max) })
        #expect(zero.code == .invalidValue)
        #expect(zero.field == "entry.seq")
        #expect(zero.offset == 1)

        var high = ByteReader([0x80, 0x01])
        let error = try #require(decodingError { try high.readVarint("level", in: 0...127) })
        #expect(error.code == .invalidValue)
        #expect(error.offset == 0)
    }
}
