import PropertyBased
import SheafCodec
import SheafCollections
import SheafCrypto
@testable import SheafModels
import Testing

extension SplitMix64 {
    mutating func stamp() -> Stamp {
        let lamports: [UInt64] = [1, 2, 127, 128, 16_383, 16_384, UInt64.max]
        let lamport = below(2) == 0 ? lamports[below(lamports.count)] : next()
        let feed = below(2) == 0 ? Writers.all[below(Writers.all.count)] : PublicKey(raw: Bytes32(bytes(32))!)
        return Stamp(lamport: lamport, feed: feed)
    }

    /// A non-empty UTF-8 id or name of at most `maxBytes` bytes.
    mutating func identifier(maxBytes: Int) -> [UInt8] {
        var bytes = Array(string(maxScalars: 8).utf8)
        if bytes.isEmpty { bytes = [0x61] }
        if below(10) == 0 { bytes = Array(repeating: 0x6c, count: maxBytes) }  // at the limit
        return Array(bytes.prefix(maxBytes)).isValidUTF8 ? Array(bytes.prefix(maxBytes)) : [0x62]
    }

    /// Any record the decoder must accept: every parent form, every value
    /// case, names strictly ascending by bytes.
    mutating func objectRecord(manyFields: Bool = true) -> ObjectRecord {
        let alive = Register(value: below(2) == 0, stamp: below(8) == 0 ? .zero : stamp())
        let parent: Register<[UInt8]?>?
        switch below(3) {
        case 0: parent = nil
        case 1: parent = Register(value: nil, stamp: stamp())
        default: parent = Register(value: identifier(maxBytes: ObjectStore.maxIDBytes), stamp: stamp())
        }
        var names = Set<[UInt8]>()
        let count = manyFields && below(10) == 0 ? 64 + below(64) : below(8)
        for _ in 0..<count { names.insert(below(10) == 0 ? [] : identifier(maxBytes: ObjectStore.maxFieldNameBytes)) }
        let fields = names.sorted { $0.lexicographicallyPrecedes($1) }.map {
            ObjectRecord.Field(name: FieldName(bytes: $0), register: Register(value: fieldValue(), stamp: stamp()))
        }
        return ObjectRecord(alive: alive, parent: parent, fields: fields)
    }
}

extension Array where Element == UInt8 {
    var isValidUTF8: Bool { String(validating: self, as: UTF8.self) != nil }
}

private func encode(_ record: ObjectRecord) -> [UInt8] { encoded(record, as: ObjectStore.self) }

private func decodeRecord(_ bytes: [UInt8]) throws(DecodingError) -> ObjectRecord {
    var reader = ByteReader(bytes)
    return try ObjectStore.decode(&reader, version: ObjectStore.descriptor.version)
}

private func varint(_ value: UInt64) -> [UInt8] {
    var writer = ByteWriter()
    writer.writeVarint(value)
    return writer.bytes
}

@Suite("ObjectRecord encoding")
struct RecordEncodingTests {
    @Test("decode(encode(r)) == r, and re-encodes to the same bytes", .shrinking(false))
    func roundTrip() async {
        await propertyCheck(count: 500, input: Gen.uint64()) { seed throws in
            var rng = SplitMix64(seed: seed)
            let record = rng.objectRecord()
            let bytes = encode(record)
            var reader = ByteReader(bytes)
            let decoded = try ObjectStore.decode(&reader, version: ObjectStore.descriptor.version)
            #expect(reader.isAtEnd, "the decoder consumes exactly the record")
            #expect(decoded == record)
            #expect(decoded.hashValue == record.hashValue)
            #expect(encode(decoded) == bytes)

            // Records written back to back decode one after the other.
            let second = rng.objectRecord()
            var both = ByteReader(bytes + encode(second))
            #expect(try ObjectStore.decode(&both, version: ObjectStore.descriptor.version) == record)
            #expect(try ObjectStore.decode(&both, version: ObjectStore.descriptor.version) == second)
            #expect(both.isAtEnd)
        }
    }

    @Test("every proper prefix of an encoding is refused as truncated", .shrinking(false))
    func truncation() async {
        await propertyCheck(count: 60, input: Gen.uint64()) { seed throws in
            var rng = SplitMix64(seed: seed)
            let bytes = encode(rng.objectRecord(manyFields: false))
            for cut in 0..<bytes.count {
                let error = decodingError { () throws(DecodingError) in try decodeRecord(Array(bytes[..<cut])) }
                #expect(error?.code == .truncated, "cut at \(cut) of \(bytes.count): \(String(describing: error))")
            }
        }
    }

    @Test("known encoding, written out from the format (no feed table: ref 0, then the key)")
    func knownEncoding() throws {
        let k = Writers.alice
        let kb = [0] + k.raw.bytes
        // alive, stamp (1, k), no parent, no fields.
        let bare = ObjectRecord(alive: Register(value: true, stamp: Stamp(lamport: 1, feed: k)), parent: nil, fields: [])
        #expect(encode(bare) == [1, 1] + kb + [0, 0])
        // deleted at (300, k): 300 = 0xac 0x02 as LEB128; parent cleared at (2, k).
        let cleared = ObjectRecord(alive: Register(value: false, stamp: Stamp(lamport: 300, feed: k)),
                                   parent: Register(value: nil, stamp: Stamp(lamport: 2, feed: k)), fields: [])
        #expect(encode(cleared) == [0, 0xac, 0x02] + kb + [1, 2] + kb + [0])
        // parent "p" at (3, k); fields "a" = int -1 (zigzag 1) at (4, k), "b" = bytes [9] at (5, k).
        let full = ObjectRecord(alive: Register(value: true, stamp: Stamp(lamport: 1, feed: k)),
                                parent: Register(value: [0x70], stamp: Stamp(lamport: 3, feed: k)),
                                fields: [.init(name: FieldName("a"), register: Register(value: .int(-1), stamp: Stamp(lamport: 4, feed: k))),
                                         .init(name: FieldName("b"), register: Register(value: .bytes([9]), stamp: Stamp(lamport: 5, feed: k)))])
        let expected: [UInt8] = [1, 1] + kb + [2, 1, 0x70, 3] + kb + [2]
            + [1, 0x61, 2, 0x01, 4] + kb
            + [1, 0x62, 5, 1, 9, 5] + kb
        #expect(encode(full) == expected)
        #expect(try decodeRecord(expected) == full)
        // Version 1 wrote the key without the ref: it still decodes.
        let legacy: [UInt8] = [1, 1] + k.raw.bytes + [2, 1, 0x70, 3] + k.raw.bytes + [2]
            + [1, 0x61, 2, 0x01, 4] + k.raw.bytes
            + [1, 0x62, 5, 1, 9, 5] + k.raw.bytes
        var reader = ByteReader(legacy)
        #expect(try ObjectStore.decode(&reader, version: 1) == full)
        #expect(reader.isAtEnd)
    }

    @Test("version 2 names the table's feeds by number, others in full; both decode and re-encode")
    func feedTable() throws {
        let table = FeedTable([Writers.alice, Writers.bob])
        let carol = PublicKey(raw: Bytes32(Array(repeating: UInt8(0xCC), count: 32))!)
        let record = ObjectRecord(
            alive: Register(value: true, stamp: Stamp(lamport: 3, feed: Writers.bob)),
            parent: Register(value: Array("p".utf8), stamp: Stamp(lamport: 2, feed: carol)),
            fields: [.init(name: FieldName("a"), register: Register(value: .null, stamp: Stamp(lamport: 1, feed: Writers.alice)))])
        var writer = ByteWriter()
        ObjectStore.encode(record, into: &writer, feeds: table)
        let bytes = writer.bytes
        // alive 1, lamport 3, ref 2 (bob); parent 2, "p", lamport 2, ref 0 + carol; 1 field "a", null, lamport 1, ref 1 (alice).
        #expect(bytes == [1, 3, 2, 2, 1, 0x70, 2, 0] + carol.raw.bytes + [1, 1, 0x61, 0, 1, 1])
        var reader = ByteReader(bytes)
        #expect(try ObjectStore.decode(&reader, version: 2, feeds: table) == record)
        #expect(reader.isAtEnd)
        // Without the table, every key is written out.
        var full = ByteWriter()
        ObjectStore.encode(record, into: &full)
        var fullReader = ByteReader(full.bytes)
        #expect(try ObjectStore.decode(&fullReader, version: 2) == record)
        #expect(full.bytes.count == bytes.count + 64)

        func code(_ bytes: [UInt8]) -> DecodingError.Code? {
            decodingError { () throws(DecodingError) in
                var reader = ByteReader(bytes)
                _ = try ObjectStore.decode(&reader, version: 2, feeds: table)
            }?.code
        }
        #expect(code([1, 1, 3, 0, 0]) == .invalidValue, "ref past the table")
        #expect(code([1, 1, 0] + Writers.alice.raw.bytes + [0, 0]) == .notCanonical, "a table feed written out")
    }

    @Test("field names out of order or repeated are not canonical")
    func unsortedNames() {
        let stamp = Stamp(lamport: 1, feed: Writers.alice)
        func record(_ names: [String]) -> ObjectRecord {
            ObjectRecord(alive: Register(value: true, stamp: stamp), parent: nil,
                         fields: names.map { .init(name: FieldName($0), register: Register(value: .null, stamp: stamp)) })
        }
        #expect(decodingError { () throws(DecodingError) in try decodeRecord(encode(record(["a", "b"]))) } == nil)
        for names in [["b", "a"], ["a", "a"], ["a", "c", "b"], ["ab", "a"], ["\u{E9}", "e\u{301}"], ["", ""]] {
            let error = decodingError { () throws(DecodingError) in try decodeRecord(encode(record(names))) }
            #expect(error?.code == .notCanonical, "\(names)")
            #expect(error?.field == "object.field.name")
        }
    }

    @Test("bad tags, bad values and over-limit lengths are refused (version 1 bytes: keys written out)")
    func badBytes() {
        let k = Writers.bob.raw.bytes
        let head: [UInt8] = [1, 1] + k + [0]  // alive at (1, bob), no parent
        func code(_ bytes: [UInt8]) -> DecodingError.Code? {
            decodingError { () throws(DecodingError) in
                var reader = ByteReader(bytes)
                _ = try ObjectStore.decode(&reader, version: 1)
                guard reader.isAtEnd else { throw DecodingError(.trailingBytes, at: reader.offset, field: "record") }
            }?.code
        }
        #expect(code(head + [0]) == nil, "the baseline decodes")
        #expect(code([2, 1] + k + [0, 0]) == .invalidValue, "alive byte 2")
        #expect(code([1, 1] + k + [3, 0]) == .invalidValue, "parent tag 3")
        #expect(code(head + [1, 1, 0x61, 6, 1] + k) == .invalidValue, "value tag 6")
        #expect(code(head + [1, 1, 0x61, 1, 2, 1] + k) == .invalidValue, "bool byte 2")
        #expect(code(head + [1, 1, 0x61, 4, 1, 0xff, 1] + k) == .invalidValue, "string not UTF-8")
        #expect(code(head + [1, 1, 0xff, 0, 1] + k) == .invalidValue, "name not UTF-8")
        #expect(code([1, 1] + k + [2, 1, 0xff, 1] + k + [0]) == .invalidValue, "parent id not UTF-8")
        #expect(code(head + [1, 65] + Array(repeating: 0x61, count: 65) + [0, 1] + k) == .overLimit, "name of 65 bytes")
        #expect(code(head + [1, 64] + Array(repeating: 0x61, count: 64) + [0, 1] + k) == nil, "name of 64 bytes")
        #expect(code([1, 1] + k + [2] + varint(257) + Array(repeating: 0x61, count: 257) + [1] + k + [0]) == .overLimit,
                "parent id of 257 bytes")
        #expect(code(head + varint(1025) + Array(repeating: 0, count: 1025 * 35)) == .overLimit, "1,025 fields")
        #expect(code(head + [1, 1, 0x61, 5] + varint(65_537) + Array(repeating: 0, count: 64)) == .overLimit,
                "bytes value over 64 KiB")
        #expect(code([1, 0x81, 0x00] + k + [0, 0]) == .nonCanonicalVarint, "overlong Lamport time")
        #expect(code(head + [2, 1, 0x61, 0, 1] + k) == .truncated, "count says 2, one field present")
    }

    @Test("counter and timeline records round-trip and refuse truncation", .shrinking(false))
    func otherModels() async {
        await propertyCheck(count: 300, input: Gen.uint64()) { seed throws in
            var rng = SplitMix64(seed: seed)
            let value = rng.below(3) == 0 ? [Int64.max, Int64.min, 0, -1][rng.below(4)] : Int64(bitPattern: rng.next())
            let counter = encoded(value, as: Counters.self)
            var reader = ByteReader(counter)
            #expect(try Counters.decode(&reader, version: 1) == value)
            #expect(reader.isAtEnd)
            for cut in 0..<counter.count {
                var short = ByteReader(Array(counter[..<cut]))
                #expect(throws: DecodingError.self) { try Counters.decode(&short, version: 1) }
            }

            let event = rng.bytes(rng.below(3) == 0 ? rng.below(300) : rng.below(5))
            let timeline = encoded(event, as: Timeline.self)
            var eventReader = ByteReader(timeline)
            #expect(try Timeline.decode(&eventReader, version: 1) == event)
            #expect(eventReader.isAtEnd)
            for cut in 0..<timeline.count {
                var short = ByteReader(Array(timeline[..<cut]))
                #expect(throws: DecodingError.self) { try Timeline.decode(&short, version: 1) }
            }
        }
        // Known bytes: zigzag then LEB128; events length-prefixed.
        #expect(encoded(-1, as: Counters.self) == [0x01])
        #expect(encoded(64, as: Counters.self) == [0x80, 0x01])
        #expect(encoded(Int64.min, as: Counters.self) == Array(repeating: 0xff, count: 9) + [0x01])
        #expect(encoded([7, 8], as: Timeline.self) == [2, 7, 8])
        var tooLong = ByteReader(varint(UInt64(Timeline.maxEventBytes + 1)) + Array(repeating: 0, count: Timeline.maxEventBytes + 1))
        #expect(throws: DecodingError.self) { try Timeline.decode(&tooLong, version: 1) }
    }
}
