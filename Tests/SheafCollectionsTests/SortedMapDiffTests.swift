import PropertyBased
@testable import SheafCollections
import Testing

/// The expected diff, from the dictionaries alone: every key in either map
/// whose records differ under `isEqual` (added, removed, or changed), in
/// byte order.
private func referenceDiff(_ old: ReferenceMap<Int>, _ new: ReferenceMap<Int>,
                           isEqual: (Int, Int) -> Bool = { $0 == $1 }) -> [RecordKey] {
    Set(old.storage.keys).union(new.storage.keys).sorted(by: referenceLess).filter { key in
        switch (old[key], new[key]) {
        case (let a?, let b?): !isEqual(a, b)
        default: true
        }
    }
}

/// Random writes over `keySpace` keys; a third of the writes store the value
/// already there (which the diff must not report).
private func mutate(_ map: inout SortedMap<Int>, _ reference: inout ReferenceMap<Int>, steps: Int,
                    keySpace: Int, using rng: inout SplitMix64) {
    for _ in 0..<steps {
        let key = SplitMix64.orderedKey(rng.below(keySpace))
        switch rng.below(6) {
        case 0, 1:
            // Rewrite the same value: a new node, an equal record.
            if let value = reference[key] {
                if rng.below(2) == 0 { map.set(key, value) } else { map.update(key) { $0 = value } }
            }
        case 2:
            map.remove(key); reference[key] = nil
        case 3:
            map.update(key) { $0 = nil }; reference[key] = nil
        default:
            let value = rng.below(4)  // small values: changes back and forth
            map.set(key, value); reference[key] = value
        }
    }
}

@Suite("SortedMap.changedKeys")
struct SortedMapDiffTests {
    @Test("maps derived from a common ancestor: the diff matches the reference", .shrinking(false))
    func commonAncestor() async {
        await propertyCheck(count: 40, input: Gen.uint64(), Gen.int(in: 0...3000), Gen.int(in: 0...400)) { seed, size, steps in
            var rng = SplitMix64(seed: seed)
            var ancestor = SortedMap<Int>()
            var ancestorReference = ReferenceMap<Int>()
            mutate(&ancestor, &ancestorReference, steps: size * 2, keySpace: size + 1, using: &rng)

            var old = ancestor
            var oldReference = ancestorReference
            var new = ancestor
            var newReference = ancestorReference
            // Both sides may move on from the ancestor (the old one less).
            mutate(&old, &oldReference, steps: steps / 4, keySpace: size + 10, using: &rng)
            mutate(&new, &newReference, steps: steps, keySpace: size + 10, using: &rng)

            let expected = referenceDiff(oldReference, newReference)
            #expect(SortedMap.changedKeys(from: old, to: new, isEqual: ==) == expected)
            #expect(SortedMap.changedKeys(from: new, to: old, isEqual: ==) == expected, "the diff is symmetric")
            #expect((old == new) == expected.isEmpty)

            // isEqual decides what counts as a change.
            let parity: (Int, Int) -> Bool = { ($0 & 1) == ($1 & 1) }
            #expect(SortedMap.changedKeys(from: old, to: new, isEqual: parity)
                == referenceDiff(oldReference, newReference, isEqual: parity))

            // A version against itself and against an unmutated copy: nothing.
            let copy = new
            #expect(SortedMap.changedKeys(from: new, to: copy, isEqual: ==).isEmpty)
        }
    }

    @Test("independently built maps with the same content report nothing", .shrinking(false))
    func independentEqualMaps() async {
        await propertyCheck(count: 40, input: Gen.uint64(), Gen.int(in: 0...4000)) { seed, size throws in
            var rng = SplitMix64(seed: seed)
            var reference = ReferenceMap<Int>()
            for _ in 0..<size { reference[rng.wideKey()] = rng.below(1000) }
            let records = reference.sortedRecords
            // Three shapes for one content: bulk load, random insertion
            // order, and a detour through extra keys that are removed again.
            let loaded = try #require(SortedMap(sortedRecords: records))
            let inserted = SortedMap(inserting: records.shuffled(using: &rng))
            var detour = SortedMap<Int>()
            var extra = [RecordKey]()
            for (key, value) in records.shuffled(using: &rng) {
                detour.set(key, value &+ 1)
                let other = rng.wideKey()
                if reference[other] == nil { detour.set(other, 0); extra.append(other) }
            }
            for key in extra { detour.update(key) { $0 = nil } }
            for (key, value) in records { detour.update(key) { $0 = value } }

            for (a, b) in [(loaded, inserted), (inserted, detour), (detour, loaded)] {
                #expect(SortedMap.changedKeys(from: a, to: b, isEqual: ==).isEmpty)
                #expect(a == b)
            }
            // One changed value in one of them is reported, and only it.
            if let (key, value) = records.randomElement(using: &rng) {
                var changed = inserted
                changed.set(key, value + 1)
                #expect(SortedMap.changedKeys(from: loaded, to: changed, isEqual: ==) == [key])
                #expect(SortedMap.changedKeys(from: changed, to: detour, isEqual: ==) == [key])
            }
        }
    }

    @Test("shared leaves are skipped: a one-record change compares one leaf's records")
    func sharedLeavesSkipped() throws {
        let records = (0..<20_000).map { (SplitMix64.orderedKey($0), $0) }
        let old = try #require(SortedMap(sortedRecords: records))
        var new = old
        new.set(SplitMix64.orderedKey(12_345), -1)
        var comparisons = 0
        let changed = SortedMap.changedKeys(from: old, to: new) { a, b in
            comparisons += 1
            return a == b
        }
        #expect(changed == [SplitMix64.orderedKey(12_345)])
        // Only the records of the one copied leaf are compared (≤ 64),
        // not the 20,000 of the map.
        #expect(comparisons >= 1)
        #expect(comparisons <= 64, "\(comparisons) records compared")

        // Whereas two independently built maps share nothing: every
        // record is compared.
        let rebuilt = try #require(SortedMap(sortedRecords: records))
        comparisons = 0
        let none = SortedMap.changedKeys(from: old, to: rebuilt) { a, b in
            comparisons += 1
            return a == b
        }
        #expect(none.isEmpty)
        #expect(comparisons == records.count)
    }

    @Test("known diffs: added, removed, changed, unchanged rewrite, empty maps")
    func knownDiffs() {
        var old = SortedMap<Int>()
        for (key, value) in [("a", 1), ("b", 2), ("c", 3), ("d", 4)] { old.set(RecordKey(key), value) }
        var new = old
        new.set(RecordKey("b"), 2)      // rewritten, equal: not reported
        new.set(RecordKey("c"), 30)     // changed
        new.remove(RecordKey("d"))      // removed
        new.set(RecordKey("bb"), 5)     // added
        new.set(RecordKey(""), 0)       // added, sorts first
        #expect(SortedMap.changedKeys(from: old, to: new, isEqual: ==)
            == [RecordKey(""), RecordKey("bb"), RecordKey("c"), RecordKey("d")])
        #expect(SortedMap.changedKeys(from: SortedMap<Int>(), to: old, isEqual: ==) == old.keys)
        #expect(SortedMap.changedKeys(from: old, to: SortedMap<Int>(), isEqual: ==) == old.keys)
        #expect(SortedMap.changedKeys(from: SortedMap<Int>(), to: SortedMap<Int>(), isEqual: ==).isEmpty)
    }

    @Test("changes from keys alone: keys on one side are added or removed, keys on both are modified", .shrinking(false))
    func changesFromKeys() async {
        await propertyCheck(count: 40, input: Gen.uint64(), Gen.int(in: 0...2000), Gen.int(in: 0...300)) { seed, size, steps in
            var rng = SplitMix64(seed: seed)
            var old = SortedMap<Int>()
            var oldReference = ReferenceMap<Int>()
            mutate(&old, &oldReference, steps: size * 2, keySpace: size + 1, using: &rng)
            var new = old
            var newReference = oldReference
            mutate(&new, &newReference, steps: steps, keySpace: size + 10, using: &rng)

            let oldKeys = Set(oldReference.storage.keys), newKeys = Set(newReference.storage.keys)
            let changes = SortedMap.changes(fromKeys: old.keys, to: new)
            #expect(changes.modified == oldKeys.intersection(newKeys).sorted(by: referenceLess))
            #expect(changes.addedOrRemoved == oldKeys.symmetricDifference(newKeys).sorted(by: referenceLess))
        }
        #expect(SortedMap.changes(fromKeys: [], to: SortedMap<Int>()) == KeyChanges())
    }
}
