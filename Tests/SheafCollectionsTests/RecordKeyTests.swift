import PropertyBased
import SheafCollections
import Testing

/// Byte comparison written out by hand, as memcmp defines it: the first
/// differing byte decides, compared as unsigned; otherwise the shorter key
/// (a proper prefix) comes first.
private func manualLess(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    var i = 0
    while i < a.count && i < b.count {
        if a[i] != b[i] { return a[i] < b[i] }
        i += 1
    }
    return a.count < b.count
}

@Suite("RecordKey ordering")
struct RecordKeyTests {
    @Test("known orderings: prefix first, unsigned bytes, first difference decides")
    func knownOrder() {
        let ascending: [[UInt8]] = [
            [],
            [0x00],
            [0x00, 0x00],
            [0x00, 0xff],
            [0x01],
            [0x61],             // "a"
            [0x61, 0x00],       // "a\0": longer, after its prefix
            [0x61, 0x62],       // "ab"
            [0x61, 0x62, 0x63], // "abc"
            [0x61, 0x63],       // "ac" after "abc": the first difference decides
            [0x7f],
            [0x80],             // ≥ 0x80 after 0x7f (a signed comparison would put it first)
            [0x80, 0x00],
            [0xc3, 0xa9],       // "é" in UTF-8
            [0xfe, 0xff, 0xff],
            [0xff],
            [0xff, 0xff],
        ]
        let keys = ascending.map { RecordKey($0) }
        for i in keys.indices {
            #expect(!(keys[i] < keys[i]), "irreflexive")
            #expect(keys[i] == RecordKey(ascending[i]))
            for j in keys.indices where i < j {
                #expect(keys[i] < keys[j], "\(ascending[i]) < \(ascending[j])")
                #expect(!(keys[j] < keys[i]), "\(ascending[j]) ≮ \(ascending[i])")
                #expect(keys[i] != keys[j])
            }
        }
        #expect(keys.shuffled().sorted() == keys)
    }

    @Test("ordering is by bytes, never by Unicode or locale")
    func notUnicodeOrder() {
        // "é" (0xc3 0xa9) sorts after "z" (0x7a), whatever a collation says.
        #expect(RecordKey("z") < RecordKey("\u{E9}"))
        // Upper case (0x41…) sorts before lower case (0x61…).
        #expect(RecordKey("Zebra") < RecordKey("apple"))
        // Canonically equivalent strings with different bytes are different
        // keys: Swift's String == says equal, the keys must not.
        let precomposed = "\u{E9}"
        let decomposed = "e\u{301}"
        #expect(precomposed == decomposed)
        #expect(RecordKey(precomposed) != RecordKey(decomposed))
        #expect(RecordKey(decomposed) < RecordKey(precomposed))  // 0x65 < 0xc3
        #expect(Set([RecordKey(precomposed), RecordKey(decomposed)]).count == 2)
        #expect(RecordKey(precomposed).bytes == [0xc3, 0xa9])
    }

    @Test("random keys order exactly as a hand-written byte comparison", .shrinking(false))
    func matchesManualComparison() async {
        await propertyCheck(count: 3000, input: Gen.uint64()) { seed in
            var rng = SplitMix64(seed: seed)
            // Keys that often share a prefix, so the length rule and every
            // byte position get exercised.
            let common = rng.bytes(rng.below(4))
            let a = common + rng.bytes(rng.below(4))
            var b = rng.below(4) == 0 ? a : common + rng.bytes(rng.below(4))
            if rng.below(4) == 0, !b.isEmpty { b[rng.below(b.count)] ^= 0x80 }
            let x = RecordKey(a)
            let y = RecordKey(b)
            #expect((x < y) == manualLess(a, b), "\(a) vs \(b)")
            #expect((y < x) == manualLess(b, a), "\(b) vs \(a)")
            #expect((x == y) == (a == b))
            if x == y { #expect(x.hashValue == y.hashValue) }
            // Exactly one of <, ==, > holds.
            #expect([x < y, x == y, y < x].filter { $0 }.count == 1)
            #expect(x.hasPrefix(RecordKey(common)))
            #expect(x.hasPrefix(x))
            #expect(x.hasPrefix(RecordKey([UInt8]())))
            #expect(RecordKey(a + [0]).hasPrefix(x))
            #expect(!x.hasPrefix(RecordKey(a + [0])))
        }
    }

    @Test("initializers and description")
    func initializers() {
        let bytes: [UInt8] = [0x00, 0x61, 0xff, 0x62]
        #expect(RecordKey(bytes[1...]) == RecordKey([0x61, 0xff, 0x62]))
        #expect(RecordKey("ab").bytes == [0x61, 0x62])
        #expect(RecordKey("ab").description == "ab")
        #expect(!RecordKey([0x00, 0x61]).description.contains("\u{0}"), "non-printable keys are not printed raw")
        #expect(!RecordKey("ab").hasPrefix(RecordKey("b")))
    }
}
