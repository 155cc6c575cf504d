import PropertyBased
import SheafCodec
import SheafCollections
@testable import SheafModels
import Testing

// Determinism needs equality to mean "same bytes". Swift's String == uses
// Unicode canonical equivalence: "\u{E9}" (é, precomposed, bytes c3 a9) and
// "e\u{301}" (e + combining acute, bytes 65 cc 81) compare equal as Strings
// but encode differently, so they hash into different state roots. If
// FieldValue or FieldName used String ==, an incremental snapshot (which
// skips records that compare equal) and a full snapshot (which encodes every
// record) would produce different bytes for the same state. So both compare
// by bytes, and the tests below pin that down.

private let precomposed = "\u{E9}"
private let decomposed = "e\u{301}"

private func decodeValue(_ bytes: [UInt8]) throws(DecodingError) -> FieldValue {
    var reader = ByteReader(bytes)
    let value = try FieldValue.decode(&reader)
    try reader.expectEnd("test")
    return value
}

@Suite("FieldValue and FieldName")
struct FieldValueTests {
    @Test("canonically equivalent strings are different values with different encodings")
    func unicodeEquivalence() {
        #expect(precomposed == decomposed, "the premise: Swift calls them equal")
        let a = FieldValue.string(precomposed)
        let b = FieldValue.string(decomposed)
        #expect(a != b)
        #expect(Set([a, b]).count == 2)
        #expect(a.encodedBytes == [4, 2, 0xc3, 0xa9])
        #expect(b.encodedBytes == [4, 3, 0x65, 0xcc, 0x81])
        #expect(a == .string("\u{E9}"))

        #expect(FieldName(precomposed) != FieldName(decomposed))
        #expect(Set([FieldName(precomposed), FieldName(decomposed)]).count == 2)
        #expect(FieldName(decomposed) < FieldName(precomposed), "byte order: 0x65 < 0xc3")
        #expect(!(FieldName(precomposed) < FieldName(decomposed)))
        #expect(FieldName(precomposed).bytes == [0xc3, 0xa9])
        #expect(FieldName(decomposed).string.utf8.elementsEqual(decomposed.utf8), "string keeps the bytes")

        // In a record the two forms make different records, so a snapshot
        // diff reports the change and the encodings differ.
        let stamp = Stamp(lamport: 1, feed: Writers.alice)
        let r1 = ObjectRecord(alive: Register(value: true, stamp: stamp), parent: nil,
                              fields: [.init(name: FieldName("t"), register: Register(value: a, stamp: stamp))])
        let r2 = ObjectRecord(alive: Register(value: true, stamp: stamp), parent: nil,
                              fields: [.init(name: FieldName("t"), register: Register(value: b, stamp: stamp))])
        #expect(r1 != r2)
        #expect(encoded(r1, as: ObjectStore.self) != encoded(r2, as: ObjectStore.self))
        var old = SortedMap<ObjectRecord>()
        old.set(RecordKey("ox"), r1)
        var new = old
        new.set(RecordKey("ox"), r2)
        #expect(SortedMap.changedKeys(from: old, to: new, isEqual: ==) == [RecordKey("ox")])
        // Likewise for names.
        let n1 = ObjectRecord(alive: Register(value: true, stamp: stamp), parent: nil,
                              fields: [.init(name: FieldName(precomposed), register: Register(value: .null, stamp: stamp))])
        let n2 = ObjectRecord(alive: Register(value: true, stamp: stamp), parent: nil,
                              fields: [.init(name: FieldName(decomposed), register: Register(value: .null, stamp: stamp))])
        #expect(n1 != n2)
        #expect(encoded(n1, as: ObjectStore.self) != encoded(n2, as: ObjectStore.self))
    }

    @Test("equality is by encoding: doubles by bit pattern, cases never mix")
    func equalityByBytes() {
        #expect(FieldValue.double(0.0) != .double(-0.0), "0.0 == -0.0 as Doubles, not as values")
        #expect(FieldValue.double(.nan) == .double(.nan), "the same NaN bits are the same value")
        #expect(FieldValue.double(Double(bitPattern: 0x7ff8_0000_0000_0001)) != .double(.nan), "NaN payloads differ")
        #expect(FieldValue.double(1) == .double(1))
        #expect(FieldValue.int(1) != .double(1))
        #expect(FieldValue.int(0) != .bool(false))
        #expect(FieldValue.null != .int(0))
        #expect(FieldValue.string("a") != .bytes([0x61]))
        #expect(FieldValue.bytes([]) != .string(""))
        #expect(FieldValue.bytes([1, 2]) == .bytes([1, 2]))
        #expect(FieldValue.bytes([1, 2]) != .bytes([1, 2, 0]))
        #expect(Set<FieldValue>([.double(0.0), .double(-0.0), .double(.nan), .double(.nan)]).count == 3)
    }

    @Test("known encodings")
    func knownEncodings() throws {
        let cases: [(FieldValue, [UInt8])] = [
            (.null, [0]),
            (.bool(false), [1, 0]),
            (.bool(true), [1, 1]),
            // zigzag: 0→0, -1→1, 1→2, 63→126, -64→127, 64→128; then LEB128.
            (.int(0), [2, 0]),
            (.int(-1), [2, 1]),
            (.int(1), [2, 2]),
            (.int(63), [2, 126]),
            (.int(-64), [2, 127]),
            (.int(64), [2, 0x80, 0x01]),
            (.int(Int64.max), [2, 0xfe] + Array(repeating: 0xff, count: 8) + [0x01]),
            (.int(Int64.min), [2] + Array(repeating: 0xff, count: 9) + [0x01]),
            // IEEE 754 bits, little endian: 1.0 = 0x3ff0000000000000.
            (.double(1.0), [3, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f]),
            (.double(-0.0), [3, 0, 0, 0, 0, 0, 0, 0, 0x80]),
            (.string(""), [4, 0]),
            (.string("hi"), [4, 2, 0x68, 0x69]),
            (.bytes([]), [5, 0]),
            (.bytes([0xff, 0]), [5, 2, 0xff, 0]),
        ]
        for (value, bytes) in cases {
            #expect(value.encodedBytes == bytes, "\(value)")
            #expect(try decodeValue(bytes) == value, "\(value)")
        }
    }

    @Test("decode(encode(v)) == v with the same hash, for every case", .shrinking(false))
    func roundTrip() async {
        await propertyCheck(count: 1000, input: Gen.uint64()) { seed throws in
            var rng = SplitMix64(seed: seed)
            let value = rng.fieldValue()
            let bytes = value.encodedBytes
            let decoded = try decodeValue(bytes)
            #expect(decoded == value)
            #expect(decoded.hashValue == value.hashValue)
            #expect(decoded.encodedBytes == bytes)
            // Equality agrees with the bytes for any two values.
            let other = rng.below(4) == 0 ? value : rng.fieldValue()
            #expect((other == value) == (other.encodedBytes == bytes), "\(other) vs \(value)")
        }
    }

    @Test("decoding refuses bad bools, tags, UTF-8 and oversized values")
    func refusals() {
        func code(_ bytes: [UInt8]) -> DecodingError.Code? {
            decodingError { () throws(DecodingError) in try decodeValue(bytes) }?.code
        }
        #expect(code([1, 2]) == .invalidValue)
        #expect(code([6]) == .invalidValue)
        #expect(code([0xff]) == .invalidValue)
        #expect(code([4, 1, 0x80]) == .invalidValue, "a lone continuation byte")
        #expect(code([4, 3, 0xed, 0xa0, 0x80]) == .invalidValue, "an encoded surrogate")
        #expect(code([4, 2, 0xc0, 0x80]) == .invalidValue, "an overlong NUL")
        #expect(code([5, 0x81, 0x80, 0x04]) == .overLimit, "65,537 bytes")
        #expect(code([]) == .truncated)
        #expect(code([3, 0, 0]) == .truncated)
        #expect(code([2, 0x80, 0x00]) == .nonCanonicalVarint)
    }

    @Test("FieldName orders by bytes, like a lexicographic byte comparison", .shrinking(false))
    func fieldNameOrder() async {
        await propertyCheck(count: 1000, input: Gen.uint64()) { seed throws in
            var rng = SplitMix64(seed: seed)
            let a = rng.string(maxScalars: 4)
            let b = rng.below(5) == 0 ? a : rng.string(maxScalars: 4)
            let x = FieldName(a)
            let y = FieldName(b)
            #expect((x < y) == Array(a.utf8).lexicographicallyPrecedes(Array(b.utf8)))
            #expect((x == y) == Array(a.utf8).elementsEqual(Array(b.utf8)))
            #expect(x.bytes == Array(a.utf8))
            #expect(x.description.utf8.elementsEqual(a.utf8))
        }
    }
}
