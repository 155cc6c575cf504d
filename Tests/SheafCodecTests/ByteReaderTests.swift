import PropertyBased
import SheafCodec
import Testing

@Suite("ByteReader and ByteWriter")
struct ByteReaderTests {
    // MARK: Fixed-width integers

    @Test("fixed-width integers are written little-endian")
    func littleEndianLayout() {
        var writer = ByteWriter()
        writer.writeUInt8(0xAB)
        writer.writeUInt16(0x0102)
        writer.writeUInt32(0x0304_0506)
        writer.writeUInt64(0x0708_090A_0B0C_0D0E)
        #expect(writer.bytes == [
            0xAB,
            0x02, 0x01,
            0x06, 0x05, 0x04, 0x03,
            0x0E, 0x0D, 0x0C, 0x0B, 0x0A, 0x09, 0x08, 0x07,
        ])
    }

    @Test("fixed-width integers round-trip")
    func fixedWidthRoundTrip() async {
        await propertyCheck(count: 500, input: Gen.uint8(), Gen.uint16(), Gen.uint32(), Gen.uint64()) { a, b, c, d throws in
            var writer = ByteWriter()
            writer.writeUInt64(d)
            writer.writeUInt8(a)
            writer.writeUInt32(c)
            writer.writeUInt16(b)
            #expect(writer.count == 15)
            var reader = ByteReader(writer.bytes)
            #expect(try reader.readUInt64("d") == d)
            #expect(try reader.readUInt8("a") == a)
            #expect(try reader.readUInt32("c") == c)
            #expect(try reader.readUInt16("b") == b)
            #expect(reader.isAtEnd)
            #expect(reader.remaining == 0)
        }
    }

    @Test("a fixed-width read past the end is truncated, names its field and does not move")
    func fixedWidthTruncated() throws {
        var reader = ByteReader([1, 2, 3, 4, 5, 6, 7])
        _ = try reader.readUInt16("a")
        let error = try #require(decodingError { try reader.readUInt64("header.stamp") })
        #expect(error.code == .truncated)
        #expect(error.field == "header.stamp")
        #expect(error.offset == 2)
        #expect(reader.offset == 2)
        // What is there can still be read.
        #expect(try reader.readUInt32("b") == 0x0605_0403)
        let last = try #require(decodingError { try reader.readUInt16("tail") })
        #expect(last.code == .truncated)
        #expect(last.offset == 6)
        #expect(try reader.readUInt8("c") == 7)
        let empty = try #require(decodingError { try reader.readUInt8("after") })
        #expect(empty.code == .truncated)
        #expect(empty.offset == 7)
    }

    // MARK: Length-prefixed bytes and counts

    @Test("length-prefixed byte strings round-trip", arguments: [0, 1, 127, 128, 300, 16_384])
    func lengthPrefixedRoundTrip(length: Int) throws {
        var rng = SplitMix64(seed: UInt64(length))
        let payload = rng.bytes(length)
        var writer = ByteWriter()
        writer.writeLengthPrefixed(payload)
        writer.writeUInt8(0xEE)
        #expect(writer.count == ByteWriter.varintSize(UInt64(length)) + length + 1)
        var reader = ByteReader(writer.bytes)
        #expect(try reader.readLengthPrefixed("blob", limit: length) == payload)
        #expect(try reader.readUInt8("end") == 0xEE)
        #expect(reader.isAtEnd)
    }

    @Test("a length over the limit is rejected before reading")
    func lengthOverLimit() throws {
        var writer = ByteWriter()
        writer.writeUInt8(9)
        writer.writeLengthPrefixed([UInt8](repeating: 1, count: 200))
        var reader = ByteReader(writer.bytes)
        _ = try reader.readUInt8("lead")
        let error = try #require(decodingError { try reader.readLengthPrefixed("entry.payload", limit: 199) })
        #expect(error.code == .overLimit)
        #expect(error.field == "entry.payload")
        #expect(error.offset == 1)

        var exact = ByteReader(writer.bytes)
        _ = try exact.readUInt8("lead")
        #expect(try exact.readLengthPrefixed("entry.payload", limit: 200).count == 200)
    }

    @Test("a length longer than the bytes left is truncated at the length")
    func lengthBeyondInput() throws {
        var writer = ByteWriter()
        writer.writeUInt16(0)
        writer.writeVarint(1000)
        writer.writeRaw([UInt8](repeating: 0, count: 999))
        var reader = ByteReader(writer.bytes)
        _ = try reader.readUInt16("lead")
        let error = try #require(decodingError { try reader.readLengthPrefixed("blob", limit: 1 << 20) })
        #expect(error.code == .truncated)
        #expect(error.field == "blob")
        #expect(error.offset == 2)
    }

    @Test("readCount checks the limit first, then that the elements can fit")
    func readCount() throws {
        // count = 3, then 23 bytes: three 8-byte elements cannot fit.
        var writer = ByteWriter()
        writer.writeVarint(3)
        writer.writeRaw([UInt8](repeating: 0, count: 23))
        let bytes = writer.bytes

        var overLimit = ByteReader(bytes)
        let limitError = try #require(decodingError { try overLimit.readCount("list", limit: 2, minElementSize: 8) })
        #expect(limitError.code == .overLimit)
        #expect(limitError.field == "list")
        #expect(limitError.offset == 0)

        var cannotFit = ByteReader(bytes)
        let fitError = try #require(decodingError { try cannotFit.readCount("list", limit: 3, minElementSize: 8) })
        #expect(fitError.code == .truncated)
        #expect(fitError.field == "list")
        #expect(fitError.offset == 0)

        // With one more byte the three elements fit exactly.
        var fits = ByteReader(bytes + [0])
        #expect(try fits.readCount("list", limit: 3, minElementSize: 8) == 3)
        #expect(fits.offset == 1)

        // Seven-byte elements fit in 23 bytes.
        var smaller = ByteReader(bytes)
        #expect(try smaller.readCount("list", limit: 100, minElementSize: 7) == 3)

        // minElementSize 0 skips the fit check (elements may be empty).
        var zeroSize = ByteReader([0x80, 0x01])
        #expect(try zeroSize.readCount("list", limit: 1000, minElementSize: 0) == 128)
    }

    @Test("a huge count is over the limit, never converted unchecked")
    func hugeCount() throws {
        var writer = ByteWriter()
        writer.writeVarint(UInt64.max)
        var reader = ByteReader(writer.bytes)
        let error = try #require(decodingError { try reader.readCount("n", limit: Int.max) })
        #expect(error.code == .overLimit)
    }

    // MARK: Raw reads, ranges, ends

    @Test("raw reads return the right bytes and absolute ranges")
    func rawReads() throws {
        let bytes: [UInt8] = Array(0..<20)
        var reader = ByteReader(bytes)
        #expect(Array(try reader.readRaw("a", count: 3)) == [0, 1, 2])
        #expect(try reader.readRange("b", count: 5) == 3..<8)
        #expect(Array(try reader.readRaw("c", count: 0)) == [])
        #expect(reader.remaining == 12)
        reader.withUnsafeRemainingBytes { raw in
            #expect(Array(raw) == Array(8..<20))
        }
        let error = try #require(decodingError { try reader.readRaw("key", count: 13) })
        #expect(error.code == .truncated)
        #expect(error.field == "key")
        #expect(error.offset == 8)
        let rangeError = try #require(decodingError { try reader.readRange("key", count: 13) })
        #expect(rangeError.code == .truncated)
        #expect(try reader.readRange("rest", count: 12) == 8..<20)
        #expect(reader.isAtEnd)
    }

    @Test("expectEnd reports the first trailing byte")
    func trailingBytes() throws {
        var reader = ByteReader([1, 2, 3, 4, 5])
        _ = try reader.readUInt16("a")
        let error = try #require(decodingError { try reader.expectEnd("record") })
        #expect(error.code == .trailingBytes)
        #expect(error.field == "record")
        #expect(error.offset == 2)
        _ = try reader.readRaw("b", count: 3)
        #expect(decodingError { try reader.expectEnd("record") } == nil)
    }

    @Test("a reader over a sub-range stops at its end and reports absolute offsets")
    func subRange() throws {
        var writer = ByteWriter()
        writer.writeRaw([0xAA, 0xBB, 0xCC])          // 0..<3: outside the range
        writer.writeVarint(300)                      // 3..<5
        writer.writeUInt32(0xDEAD_BEEF)              // 5..<9
        writer.writeRaw([0x80, 0x80, 0x01])          // 9..<12: outside the range
        var reader = ByteReader(writer.bytes, range: 3..<10)
        #expect(reader.offset == 3)
        #expect(reader.remaining == 7)
        #expect(try reader.readVarint("a") == 300)
        #expect(try reader.readUInt32("b") == 0xDEAD_BEEF)
        #expect(reader.remaining == 1)
        // The varint at 9 continues past the range end: truncated, not read from the buffer.
        let error = try #require(decodingError { try reader.readVarint("c") })
        #expect(error.code == .truncated)
        #expect(error.offset == 9)

        var trailing = ByteReader(writer.bytes, range: 3..<9)
        _ = try trailing.readVarint("a")
        let end = try #require(decodingError { try trailing.expectEnd("x") })
        #expect(end.code == .trailingBytes)
        #expect(end.offset == 5)
    }

    // MARK: Writer

    @Test("patchUInt32 overwrites four bytes in place")
    func patch() {
        var writer = ByteWriter()
        writer.writeUInt32(0)
        writer.writeRaw([9, 9, 9])
        writer.patchUInt32(0x1122_3344, at: 0)
        writer.patchUInt32(0xA1B2_C3D4, at: 3)
        #expect(writer.bytes == [0x44, 0x33, 0x22, 0xD4, 0xC3, 0xB2, 0xA1])
        writer.removeAll()
        #expect(writer.count == 0)
        writer.writeUInt8(1)
        writer.withUnsafeBytes { #expect(Array($0) == [1]) }
    }

    @Test("writeRaw accepts any collection and raw buffers")
    func writeRaw() {
        var writer = ByteWriter()
        writer.writeRaw([1, 2, 3].reversed())
        [UInt8]([4, 5]).withUnsafeBytes { writer.writeRaw($0) }
        writer.writeLengthPrefixed([6, 7, 8][1...])
        #expect(writer.bytes == [3, 2, 1, 4, 5, 2, 7, 8])
    }
}
