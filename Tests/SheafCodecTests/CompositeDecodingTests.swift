import PropertyBased
import SheafCodec
import Testing

/// A record built from every kind of field the codec offers, used to check
/// how a whole decoder fails when its input is cut or extended.
private struct Record: CanonicalCodable, Equatable {
    static let nameLimit = 64
    static let itemLimit = 16

    var tag: UInt8
    var id: UInt64
    var flags: UInt32
    var name: [UInt8]
    var stamp: UInt64
    var items: [UInt64]

    func encode(into writer: inout ByteWriter) {
        writer.writeUInt8(tag)
        writer.writeVarint(id)
        writer.writeUInt32(flags)
        writer.writeLengthPrefixed(name)
        writer.writeUInt64(stamp)
        writer.writeVarint(UInt64(items.count))
        for item in items { writer.writeVarint(item) }
    }

    init(tag: UInt8, id: UInt64, flags: UInt32, name: [UInt8], stamp: UInt64, items: [UInt64]) {
        self.tag = tag
        self.id = id
        self.flags = flags
        self.name = name
        self.stamp = stamp
        self.items = items
    }

    init(from reader: inout ByteReader) throws(DecodingError) {
        tag = try reader.readUInt8("record.tag")
        id = try reader.readVarint("record.id")
        flags = try reader.readUInt32("record.flags")
        name = try reader.readLengthPrefixed("record.name", limit: Self.nameLimit)
        stamp = try reader.readUInt64("record.stamp")
        let count = try reader.readCount("record.items", limit: Self.itemLimit, minElementSize: 1)
        items = []
        for _ in 0..<count { items.append(try reader.readVarint("record.item")) }
    }

    /// Where each field starts in the encoding, to predict decoding errors.
    struct Layout {
        var id = 0, flags = 0, name = 0, stamp = 0, items = 0, itemsBody = 0
        var itemStarts: [Int] = []
        var end = 0
    }

    var layout: Layout {
        var l = Layout()
        l.id = 1
        l.flags = l.id + ByteWriter.varintSize(id)
        l.name = l.flags + 4
        l.stamp = l.name + ByteWriter.varintSize(UInt64(name.count)) + name.count
        l.items = l.stamp + 8
        l.itemsBody = l.items + ByteWriter.varintSize(UInt64(items.count))
        var at = l.itemsBody
        for item in items {
            l.itemStarts.append(at)
            at += ByteWriter.varintSize(item)
        }
        l.end = at
        return l
    }

    /// The field and offset a decoder must report when the input stops after
    /// `length` bytes (always a truncation).
    func expectedTruncation(at length: Int) -> (field: String, offset: Int) {
        let l = layout
        precondition(length < l.end)
        switch length {
        case ..<l.id: return ("record.tag", 0)
        case ..<l.flags: return ("record.id", l.id)
        case ..<l.name: return ("record.flags", l.flags)
        case ..<l.stamp: return ("record.name", l.name)
        case ..<l.items: return ("record.stamp", l.stamp)
        case ..<l.itemsBody: return ("record.items", l.items)
        default:
            // The count is checked against the bytes left (one byte per item at least).
            if items.count > length - l.itemsBody { return ("record.items", l.items) }
            let index = l.itemStarts.lastIndex { $0 <= length }!
            return ("record.item", l.itemStarts[index])
        }
    }
}

@Suite("Decoding composite encodings")
struct CompositeDecodingTests {
    private static let sample = Record(
        tag: 7, id: 300, flags: 0xCAFE_F00D, name: Array("sheaf".utf8),
        stamp: 0x0102_0304_0506_0708, items: [1, 200, 70_000, UInt64.max, 0])

    @Test("a composite value round-trips")
    func roundTrip() throws {
        let bytes = Self.sample.canonicalBytes
        #expect(bytes.count == Self.sample.layout.end)
        #expect(try Record(canonicalBytes: bytes) == Self.sample)
    }

    @Test("rejects truncated input at every cut point, naming the field and offset")
    func truncatedAtEveryCut() throws {
        let bytes = Self.sample.canonicalBytes
        for length in 0..<bytes.count {
            let error = try #require(decodingError { try Record(canonicalBytes: Array(bytes[..<length])) },
                                     "prefix of \(length) bytes decoded")
            let expected = Self.sample.expectedTruncation(at: length)
            #expect(error.code == .truncated, "cut at \(length)")
            #expect(error.field == expected.field, "cut at \(length)")
            #expect(error.offset == expected.offset, "cut at \(length)")
        }
    }

    @Test("extra bytes after a complete value are trailing bytes of the value")
    func trailing() throws {
        let bytes = Self.sample.canonicalBytes
        let error = try #require(decodingError { try Record(canonicalBytes: bytes + [0]) })
        #expect(error.code == .trailingBytes)
        #expect(error.field == "Record")
        #expect(error.offset == bytes.count)

        let named = try #require(decodingError { try Record(canonicalBytes: bytes + [1, 2], field: "rec") })
        #expect(named.field == "rec")
        #expect(named.offset == bytes.count)
    }

    @Test("limits inside the composite are enforced")
    func limits() throws {
        var long = Self.sample
        long.name = [UInt8](repeating: 0x61, count: Record.nameLimit + 1)
        let nameError = try #require(decodingError { try Record(canonicalBytes: long.canonicalBytes) })
        #expect(nameError.code == .overLimit)
        #expect(nameError.field == "record.name")
        #expect(nameError.offset == long.layout.name)

        var many = Self.sample
        many.items = Array(repeating: 1, count: Record.itemLimit + 1)
        let itemsError = try #require(decodingError { try Record(canonicalBytes: many.canonicalBytes) })
        #expect(itemsError.code == .overLimit)
        #expect(itemsError.field == "record.items")
        #expect(itemsError.offset == many.layout.items)
    }

    private static let records = zip(
        Gen.uint8(), Gen.uint64(), Gen.int(in: 0...63), Gen.uint32(),
        Gen.uint8().array(of: 0...40), Gen.uint64(), Gen.uint64().array(of: 0...Record.itemLimit)
    ).map { tag, id, shift, flags, name, stamp, items in
        Record(tag: tag, id: id >> UInt64(shift), flags: flags, name: name, stamp: stamp,
               items: items.map { $0 >> UInt64(shift) })
    }

    @Test("random composites round-trip and fail at every cut inside a larger buffer")
    func randomTruncation() async {
        await propertyCheck(count: 200, input: Self.records, Gen.uint8().array(of: 0...8), Gen.uint8().array(of: 0...8)) {
            record, before, after throws in
            let encoded = record.canonicalBytes
            let buffer = before + encoded + after
            let base = before.count

            var whole = ByteReader(buffer, range: base..<(base + encoded.count))
            #expect(try Record(from: &whole) == record)
            #expect(whole.isAtEnd)

            for length in 0..<encoded.count {
                // Offsets stay absolute: relative to the whole buffer, not the range.
                var reader = ByteReader(buffer, range: base..<(base + length))
                guard let error = decodingError({ try Record(from: &reader) }) else {
                    Issue.record("prefix of \(length) bytes decoded")
                    continue
                }
                let expected = record.expectedTruncation(at: length)
                #expect(error.code == .truncated)
                #expect(error.field == expected.field)
                #expect(error.offset == base + expected.offset)
            }
        }
    }
}
