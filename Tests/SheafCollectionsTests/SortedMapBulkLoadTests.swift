import PropertyBased
@testable import SheafCollections
import Testing

@Suite("SortedMap bulk loading")
struct SortedMapBulkLoadTests {
    /// Sizes around the leaf fill (48), the leaf capacity (64), a full
    /// second level (48 × 48) and beyond.
    static let sizes = [0, 1, 2, 47, 48, 49, 63, 64, 65, 97, 48 * 48 - 1, 48 * 48, 48 * 48 + 1, 5000, 48 * 48 * 3 + 7]

    @Test("bulk load equals incremental construction", arguments: sizes)
    func equalsIncremental(count: Int) throws {
        var rng = SplitMix64(seed: UInt64(count))
        let records = (0..<count).map { (SplitMix64.orderedKey($0 * 3), Int(truncatingIfNeeded: rng.next())) }
        let loaded = try #require(SortedMap(sortedRecords: records))
        var shuffled = records
        shuffled.shuffle(using: &rng)
        let built = SortedMap(inserting: shuffled)

        #expect(loaded == built)
        #expect(built == loaded)
        #expect(SortedMap.changedKeys(from: loaded, to: built, isEqual: ==).isEmpty)
        var reference = ReferenceMap<Int>()
        for (key, value) in records { reference[key] = value }
        expectMatches(loaded, reference)
        loaded.checkStructure()
        if count > 64 * 48 { #expect(loaded.height >= 3) }

        // The loaded tree takes writes like any other.
        var mutated = loaded
        var mutatedReference = reference
        for _ in 0..<(count / 2 + 50) {
            let key = SplitMix64.orderedKey(rng.below(count * 3 + 10))
            let value = Int(truncatingIfNeeded: rng.next())
            switch rng.below(4) {
            case 0: mutated.remove(key); mutatedReference[key] = nil
            case 1: mutated.update(key) { $0 = nil }; mutatedReference[key] = nil
            case 2: mutated.update(key) { $0 = value }; mutatedReference[key] = value
            default: mutated.set(key, value); mutatedReference[key] = value
            }
        }
        expectMatches(mutated, mutatedReference)
        mutated.checkStructure()
        expectMatches(loaded, reference)
    }

    @Test("bulk load of random keys equals incremental construction", .shrinking(false))
    func randomKeys() async {
        await propertyCheck(count: 25, input: Gen.uint64(), Gen.int(in: 0...4000)) { seed, count in
            var rng = SplitMix64(seed: seed)
            var reference = ReferenceMap<Int>()
            for _ in 0..<count { reference[rng.wideKey()] = Int(truncatingIfNeeded: rng.next()) }
            let records = reference.sortedRecords
            let loaded = SortedMap(sortedRecords: records)
            #expect(loaded != nil)
            guard let loaded else { return }
            #expect(loaded == SortedMap(inserting: records.shuffled(using: &rng)))
            expectMatches(loaded, reference)
            loaded.checkStructure()
        }
    }

    @Test("records out of order or with duplicate keys are refused", .shrinking(false))
    func refusesUnsorted() async {
        await propertyCheck(count: 60, input: Gen.uint64(), Gen.int(in: 2...300), Gen.int(in: 0...2)) { seed, count, flaw in
            var rng = SplitMix64(seed: seed)
            var records = (0..<count).map { (SplitMix64.orderedKey($0 * 2), $0) }
            let i = rng.below(count - 1)
            switch flaw {
            case 0:
                records.swapAt(i, i + 1)  // two neighbours out of order
            case 1:
                records[i + 1].0 = records[i].0  // a duplicate key, values differ
            default:
                records.insert(records[i], at: i)  // an exact duplicate record
            }
            #expect(SortedMap(sortedRecords: records) == nil, "flaw \(flaw) at \(i) of \(count)")
        }
    }

    @Test("edge cases: empty input gives an empty map; a lone record; a flaw at either end")
    func edgeCases() throws {
        let empty = try #require(SortedMap<Int>(sortedRecords: []))
        #expect(empty.isEmpty)
        #expect(empty == SortedMap<Int>())
        let one = try #require(SortedMap(sortedRecords: [(RecordKey("k"), 1)]))
        #expect(one.keys == [RecordKey("k")])
        #expect(one[RecordKey("k")] == 1)

        var records = (0..<200).map { (SplitMix64.orderedKey($0), $0) }
        records[199].0 = records[198].0
        #expect(SortedMap(sortedRecords: records) == nil, "duplicate in the last pair")
        records = (0..<200).map { (SplitMix64.orderedKey($0), $0) }
        records[0].0 = records[1].0
        #expect(SortedMap(sortedRecords: records) == nil, "duplicate in the first pair")
        // Byte order, not numeric or signed order: 0x80 sorts after 0x7f,
        // and a key sorts after its own prefix.
        #expect(SortedMap(sortedRecords: [(RecordKey([0x7f]), 0), (RecordKey([0x80]), 1)]) != nil)
        #expect(SortedMap(sortedRecords: [(RecordKey([0x80]), 0), (RecordKey([0x7f]), 1)]) == nil)
        #expect(SortedMap(sortedRecords: [(RecordKey("ab"), 0), (RecordKey("abc"), 1)]) != nil)
        #expect(SortedMap(sortedRecords: [(RecordKey("abc"), 0), (RecordKey("ab"), 1)]) == nil)
    }
}
