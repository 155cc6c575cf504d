import SheafCodec
import SheafCollections
import SheafCrypto
import SheafModels
import Testing

@discardableResult
private func add(_ counters: inout Counters, _ name: String, _ delta: Int64, at lamport: UInt64 = 1) -> ApplyOutcome {
    counters.apply(Counters.Op.add(name: name, delta: delta).encoded, context: context(Writers.alice, lamport: lamport))
}

private func counterKey(_ name: String) -> RecordKey { RecordKey([UInt8(ascii: "c")] + Array(name.utf8)) }

@Suite("Counters")
struct CountersTests {
    @Test("add and subtract")
    func addSubtract() {
        var counters = Counters()
        #expect(counters.value("hits") == 0)
        #expect(add(&counters, "hits", 5) == .applied(changed: [counterKey("hits")]))
        add(&counters, "hits", -2)
        add(&counters, "misses", -7)
        add(&counters, "hits", 10)
        #expect(counters.value("hits") == 13)
        #expect(counters.value("misses") == -7)
        #expect(counters.value("other") == 0)
        // A counter back at zero is still a record (entries are never undone).
        add(&counters, "misses", 7)
        #expect(counters.value("misses") == 0)
        #expect(counters.records.count == 2)
        #expect(counters.records[counterKey("misses")] == 0)
    }

    @Test("overflow wraps instead of trapping")
    func wrapping() throws {
        var counters = Counters()
        add(&counters, "x", Int64.max)
        add(&counters, "x", 1)
        #expect(counters.value("x") == Int64.min)
        add(&counters, "x", -1)
        #expect(counters.value("x") == Int64.max)
        add(&counters, "y", Int64.min)
        add(&counters, "y", Int64.min)
        #expect(counters.value("y") == 0)
        add(&counters, "z", Int64.min)
        add(&counters, "z", -1)
        #expect(counters.value("z") == Int64.max)
        // Extreme deltas survive the op encoding (zigzag of Int64.min).
        #expect(try Counters.Op.decode(Counters.Op.add(name: "m", delta: Int64.min).encoded) == .add(name: "m", delta: Int64.min))
        #expect(try Counters.Op.decode(Counters.Op.add(name: "m", delta: Int64.max).encoded) == .add(name: "m", delta: Int64.max))
    }

    @Test("all lists counters in name byte order")
    func allInOrder() {
        var counters = Counters()
        let names = ["b", "a", "\u{E9}", "Z", "a\u{0}", "e\u{301}", "ab"]
        for (i, name) in names.enumerated() { add(&counters, name, Int64(i + 1)) }
        let expected = names.enumerated().sorted { Array($0.1.utf8).lexicographicallyPrecedes(Array($1.1.utf8)) }
        #expect(counters.all.map { Array($0.name.utf8) } == expected.map { Array($0.1.utf8) })
        #expect(counters.all.map(\.value) == expected.map { Int64($0.0 + 1) })
        // Canonically equivalent names are different counters.
        #expect(counters.value("\u{E9}") == 3)
        #expect(counters.value("e\u{301}") == 6)
    }

    @Test("known op encoding")
    func opEncoding() throws {
        #expect(Counters.Op.add(name: "a", delta: -1).encoded == [1, 1, 0x61, 0x01])
        #expect(Counters.Op.add(name: "ab", delta: 64).encoded == [1, 2, 0x61, 0x62, 0x80, 0x01])
        #expect(try Counters.Op.decode([1, 1, 0x61, 0x02]) == .add(name: "a", delta: 1))
    }

    @Test("malformed ops are ignored and change nothing")
    func malformed() {
        var counters = Counters()
        add(&counters, "a", 3)
        let valid = Counters.Op.add(name: "a", delta: 1000).encoded
        var payloads: [(String, [UInt8])] = (0..<valid.count).map { ("cut at \($0)", Array(valid[..<$0])) }
        payloads += [
            ("trailing byte", valid + [0]),
            ("tag 0", [0, 1, 0x61, 2]),
            ("tag 2", [2, 1, 0x61, 2]),
            ("empty name", Counters.Op.add(name: "", delta: 1).encoded),
            ("name not UTF-8", [1, 1, 0xff, 2]),
            ("name of 257 bytes", Counters.Op.add(name: String(repeating: "n", count: 257), delta: 1).encoded),
            ("overlong delta", [1, 1, 0x61, 0x82, 0x00]),
            ("delta over 64 bits", [1, 1, 0x61] + Array(repeating: 0xff, count: 9) + [0x02]),
        ]
        for (label, payload) in payloads {
            var copy = counters
            let outcome = copy.apply(payload, context: context(Writers.bob, lamport: 2))
            #expect(outcome.isIgnored, "\(label)")
            #expect(copy.records == counters.records, "\(label)")
            #expect(copy.value("a") == 3, "\(label)")
        }
        // A 256-byte name is within the limit.
        var copy = counters
        #expect(!add(&copy, String(repeating: "n", count: 256), 1).isIgnored)
    }

    @Test("init(records:) loads another counter set's records")
    func reload() throws {
        var counters = Counters()
        add(&counters, "a", 1)
        add(&counters, "b", -2)
        var loaded = try Counters(records: counters.records)
        #expect(loaded.all.map(\.name) == ["a", "b"])
        add(&loaded, "a", 1)
        #expect(loaded.value("a") == 2)
        #expect(counters.value("a") == 1)
    }
}
