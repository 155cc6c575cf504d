import PropertyBased
@testable import SheafCollections
import Testing

/// One random write, applied to both the map and the reference. Returns
/// whether what the mutating call returned (the previous value, the value
/// `update` showed) was right.
private func randomWrite(_ map: inout SortedMap<Int>, _ reference: inout ReferenceMap<Int>,
                         key: RecordKey, using rng: inout SplitMix64) -> Bool {
    let before = reference[key]
    var ok = true
    let value = Int(truncatingIfNeeded: rng.next())
    switch rng.below(100) {
    case 0..<40:
        ok = map.set(key, value) == before  // set returns the previous value
        reference[key] = value
    case 40..<55:
        // update that inserts when absent, overwrites when present.
        let seen = map.update(key) { slot -> Int? in
            let old = slot
            slot = value
            return old
        }
        ok = seen == before  // update sees the current value
        reference[key] = value
    case 55..<65:
        // update that modifies in place.
        let result = map.update(key) { slot -> String in
            slot = slot.map { $0 &+ 1 }
            return "done"
        }
        ok = result == "done"
        reference[key] = before.map { $0 &+ 1 }
    case 65..<72:
        // update that only reads: nothing changes, absent stays absent.
        let seen = map.update(key) { slot in slot }
        ok = seen == before
    case 72..<86:
        // update that sets nil: removal (of a present or an absent key).
        let seen = map.update(key) { slot -> Int? in
            defer { slot = nil }
            return slot
        }
        ok = seen == before
        reference[key] = nil
    default:
        ok = map.remove(key) == before  // remove returns the removed value
        reference[key] = nil
    }
    return ok
}

/// Checks reads that depend on a start key or a prefix, against the
/// reference, for `probes` random starts and prefixes.
private func checkRangeReads(_ map: SortedMap<Int>, _ reference: ReferenceMap<Int>, probes: Int,
                             using rng: inout SplitMix64) {
    let present = reference.sortedKeys
    var starts: [RecordKey?] = [nil, RecordKey([UInt8]()), RecordKey([0xff, 0xff, 0xff, 0xff, 0xff, 0xff])]
    for _ in 0..<probes {
        switch rng.below(3) {
        case 0 where !present.isEmpty:
            starts.append(present[rng.below(present.count)])  // a present key
        case 1:
            starts.append(rng.wideKey())  // usually absent
        default:
            starts.append(rng.shortKey(maxLength: 2))  // often a prefix of many keys
        }
    }
    for start in starts {
        let expected = reference.keys(from: start, sorted: present)
        let all = map.records(from: start)
        #expect(all.map(\.0) == expected, "forEach(from: \(String(describing: start)))")
        #expect(all.allSatisfy { reference[$0.0] == $0.1 })
        // Early stop: exactly `limit` records, then no more calls.
        let limit = rng.below(5) + 1
        #expect(map.records(from: start, limit: limit).map(\.0) == Array(expected.prefix(limit)))
    }
    var prefixes = [RecordKey([UInt8]())]
    for _ in 0..<probes {
        if rng.below(2) == 0, !present.isEmpty {
            let key = present[rng.below(present.count)]
            prefixes.append(RecordKey(key.bytes.prefix(rng.below(key.bytes.count + 1))))
        } else {
            prefixes.append(rng.shortKey(maxLength: 2))
        }
    }
    for prefix in prefixes {
        let expected = reference.keys(withPrefix: prefix, sorted: present)
        let found = map.records(prefix: prefix)
        #expect(found.map(\.0) == expected, "forEach(prefix: \(prefix))")
        #expect(found.allSatisfy { reference[$0.0] == $0.1 })
        let limit = rng.below(3) + 1
        #expect(map.records(prefix: prefix, limit: limit).map(\.0) == Array(expected.prefix(limit)))
    }
    // Absent keys read as nil.
    for _ in 0..<probes {
        let key = rng.wideKey()
        #expect(map[key] == reference[key])
        #expect(map.contains(key) == (reference[key] != nil))
    }
}

@Suite("SortedMap against a reference dictionary")
struct SortedMapModelTests {
    @Test("random set/update/remove sequences over thousands of keys match the reference", .shrinking(false))
    func randomSequences() async {
        await propertyCheck(count: 20, input: Gen.uint64()) { seed throws in
            var rng = SplitMix64(seed: seed)
            var map = SortedMap<Int>()
            var reference = ReferenceMap<Int>()
            // A key pool of ~3000 keys: first a growth phase (mostly
            // writes), then a churn phase (as many removals as writes).
            let pool = (0..<3000).map { _ in rng.wideKey() } + (0..<40).map { _ in rng.shortKey() }
            for phase in 0..<3 {
                let steps = phase == 0 ? 5000 : 2500
                var wrongReturns = 0
                for _ in 0..<steps {
                    let key = pool[rng.below(pool.count)]
                    if phase == 2 && rng.below(2) == 0 {
                        // Churn: remove through either API, present or not.
                        let before = reference[key]
                        if rng.below(2) == 0 {
                            if map.remove(key) != before { wrongReturns += 1 }
                        } else {
                            map.update(key) { $0 = nil }
                        }
                        reference[key] = nil
                    } else if !randomWrite(&map, &reference, key: key, using: &rng) {
                        wrongReturns += 1
                    }
                }
                #expect(wrongReturns == 0, "phase \(phase): \(wrongReturns) writes returned the wrong previous value")
                expectMatches(map, reference)
                map.checkStructure()
                checkRangeReads(map, reference, probes: 30, using: &rng)

                // Equality: an independently built map with the same records
                // is equal; changing, adding or removing one record is not.
                let rebuilt = try #require(SortedMap(sortedRecords: reference.sortedRecords))
                #expect(map == rebuilt)
                #expect(rebuilt == map)
                if let (key, value) = reference.sortedRecords.randomElement(using: &rng) {
                    var changed = rebuilt
                    changed.set(key, value &+ 1)
                    #expect(map != changed)
                    var smaller = rebuilt
                    smaller.remove(key)
                    #expect(map != smaller)
                }
                var larger = rebuilt
                larger.set(RecordKey([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), 1)
                #expect(map != larger)
            }
            #expect(map.height >= 2, "the test must exercise internal nodes")
        }
    }

    @Test("a three-level tree: growth, range reads, then removal of almost everything collapses it")
    func deepTreeGrowthAndShrink() throws {
        var rng = SplitMix64(seed: 0x5EED_0001)
        var map = SortedMap<Int>()
        var reference = ReferenceMap<Int>()
        // Random insertion order of 12,000 distinct keys.
        var indices = Array(0..<12_000)
        indices.shuffle(using: &rng)
        for i in indices {
            let key = SplitMix64.orderedKey(i * 7)
            map.set(key, i)
            reference[key] = i
        }
        #expect(map.height >= 3, "12,000 keys with ≤ 64 per leaf and ≤ 64 children need three levels")
        expectMatches(map, reference)
        map.checkStructure()
        checkRangeReads(map, reference, probes: 40, using: &rng)

        // Remove all but a handful, in random order, alternating the APIs.
        indices.shuffle(using: &rng)
        let keep = Set(indices.prefix(5))
        var wrongReturns = 0
        for (n, i) in indices.enumerated() where !keep.contains(i) {
            let key = SplitMix64.orderedKey(i * 7)
            let removed = n % 2 == 0 ? map.remove(key) : map.update(key) { slot -> Int? in defer { slot = nil }; return slot }
            if removed != i { wrongReturns += 1 }
            reference[key] = nil
            if n % 997 == 0 { map.checkStructure() }
        }
        #expect(wrongReturns == 0)
        expectMatches(map, reference)
        map.checkStructure()
        #expect(map.count == 5)

        // Emptying the map fully leaves a usable empty map.
        for key in reference.sortedKeys { map.remove(key) }
        #expect(map.isEmpty)
        #expect(map.count == 0)
        #expect(map.first == nil)
        #expect(map.keys.isEmpty)
        #expect(map.height == 0)
        #expect(map == SortedMap<Int>())
        map.set(RecordKey("again"), 1)
        #expect(map.keys == [RecordKey("again")])
    }

    @Test("edge keys: the empty key sorts first, long keys and 0xff runs sort last")
    func edgeKeys() {
        var map = SortedMap<Int>()
        #expect(map.first == nil)
        #expect(map[RecordKey([UInt8]())] == nil)
        #expect(!map.contains(RecordKey("a")))
        #expect(map.remove(RecordKey("a")) == nil)
        // update of an absent key that leaves it absent must not insert.
        map.update(RecordKey("a")) { slot in #expect(slot == nil) }
        #expect(map.isEmpty)

        let keys: [RecordKey] = [RecordKey([0xff]), RecordKey([0xff, 0xff]), RecordKey([UInt8]()), RecordKey([0x00]),
                                 RecordKey([0x7f]), RecordKey([0x80]), RecordKey([0x00, 0x00])]
        for (i, key) in keys.enumerated() { map.set(key, i) }
        #expect(map.keys == [RecordKey([UInt8]()), RecordKey([0x00]), RecordKey([0x00, 0x00]), RecordKey([0x7f]),
                             RecordKey([0x80]), RecordKey([0xff]), RecordKey([0xff, 0xff])])
        #expect(map.first?.key == RecordKey([UInt8]()))
        #expect(map.first?.value == 2)
        // The empty prefix selects everything; a prefix selects a run.
        #expect(map.records(prefix: RecordKey([UInt8]())).count == keys.count)
        #expect(map.records(prefix: RecordKey([0xff])).map(\.1) == [0, 1])
        #expect(map.records(prefix: RecordKey([0x00])).map(\.1) == [3, 6])
        #expect(map.records(prefix: RecordKey([0x01])).isEmpty)
        // A start beyond every key visits nothing; a start between keys
        // begins at the next key.
        #expect(map.records(from: RecordKey([0xff, 0xff, 0x00])).isEmpty)
        #expect(map.records(from: RecordKey([0x7f, 0x00])).map(\.1) == [5, 0, 1])
    }
}
