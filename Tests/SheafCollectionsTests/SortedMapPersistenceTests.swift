import PropertyBased
@testable import SheafCollections
import Testing

/// A map of `count` records under `orderedKey(i * 2)` (odd indices stay free
/// for inserts), with a reference copy.
private func bigMap(_ count: Int, seed: UInt64) -> (SortedMap<Int>, ReferenceMap<Int>) {
    var rng = SplitMix64(seed: seed)
    var map = SortedMap<Int>()
    var reference = ReferenceMap<Int>()
    var order = Array(0..<count)
    order.shuffle(using: &rng)
    for i in order {
        let key = SplitMix64.orderedKey(i * 2)
        let value = Int(truncatingIfNeeded: rng.next())
        map.set(key, value)
        reference[key] = value
    }
    return (map, reference)
}

/// Heavy random mutation through every writing API.
private func mutateHeavily(_ map: inout SortedMap<Int>, _ reference: inout ReferenceMap<Int>, steps: Int,
                           keySpace: Int, using rng: inout SplitMix64) {
    for _ in 0..<steps {
        let key = SplitMix64.orderedKey(rng.below(keySpace))
        let value = Int(truncatingIfNeeded: rng.next())
        switch rng.below(5) {
        case 0: map.set(key, value); reference[key] = value
        case 1: map.remove(key); reference[key] = nil
        case 2: map.update(key) { $0 = nil }; reference[key] = nil
        case 3: map.update(key) { $0 = ($0 ?? 0) &+ value }; reference[key] = (reference[key] ?? 0) &+ value
        default: map.update(key) { $0 = value }; reference[key] = value
        }
    }
}

/// Storage of a copy-on-write value, counting nothing: whether a copy
/// happened is observed with `isKnownUniquelyReferenced` and identity.
private final class Storage: @unchecked Sendable {
    var items: [Int]
    init(_ items: [Int]) { self.items = items }
}

/// A copy-on-write value, the way a record with its own storage (an array,
/// a dictionary) behaves: mutation copies the storage only if shared.
private struct CowValue: Sendable {
    var storage: Storage

    init(_ items: [Int]) { storage = Storage(items) }

    /// Appends, copying the storage first if anyone else holds it; returns
    /// whether it had to copy.
    mutating func append(_ item: Int) -> Bool {
        var copied = false
        if !isKnownUniquelyReferenced(&storage) {
            storage = Storage(storage.items)
            copied = true
        }
        storage.items.append(item)
        return copied
    }
}

@Suite("SortedMap persistence and in-place update")
struct SortedMapPersistenceTests {
    @Test("mutating a copy heavily leaves the original untouched, and vice versa", .shrinking(false))
    func copiesAreIndependent() async {
        await propertyCheck(count: 6, input: Gen.uint64()) { seed in
            var rng = SplitMix64(seed: seed)
            let (original, originalReference) = bigMap(3000 + rng.below(3000), seed: seed)
            original.checkStructure()

            // Copy, mutate the copy: the original is unchanged.
            var copy = original
            var copyReference = originalReference
            mutateHeavily(&copy, &copyReference, steps: 6000, keySpace: 14_000, using: &rng)
            expectMatches(original, originalReference)
            expectMatches(copy, copyReference)
            original.checkStructure()
            copy.checkStructure()

            // Copy, mutate the original: the copy keeps the old state.
            var mutated = original
            let frozen = mutated
            var mutatedReference = originalReference
            mutateHeavily(&mutated, &mutatedReference, steps: 6000, keySpace: 14_000, using: &rng)
            expectMatches(frozen, originalReference)
            expectMatches(mutated, mutatedReference)
            // And the first copy was not disturbed by the second round.
            expectMatches(copy, copyReference)
        }
    }

    @Test("a bulk-loaded map shares nodes with its copies safely too")
    func bulkLoadedCopies() throws {
        var rng = SplitMix64(seed: 77)
        let records = (0..<5000).map { (SplitMix64.orderedKey($0 * 2), $0) }
        let loaded = try #require(SortedMap(sortedRecords: records))
        var reference = ReferenceMap<Int>()
        for (key, value) in records { reference[key] = value }
        var copy = loaded
        var copyReference = reference
        mutateHeavily(&copy, &copyReference, steps: 8000, keySpace: 10_000, using: &rng)
        expectMatches(loaded, reference)
        expectMatches(copy, copyReference)
        copy.checkStructure()
    }

    @Test("a mutation of a copy copies only the path to the change (structural sharing)")
    func pathCopying() {
        let (original, _) = bigMap(8000, seed: 3)
        #expect(original.height >= 3)
        let originalNodes = original.allNodes
        let originalIDs = Set(originalNodes.map(ObjectIdentifier.init))

        for (label, mutate) in [
            ("set existing", { (m: inout SortedMap<Int>) in m.set(SplitMix64.orderedKey(4000), -1) }),
            ("update existing", { (m: inout SortedMap<Int>) in m.update(SplitMix64.orderedKey(4000)) { $0 = -1 } }),
            ("remove", { (m: inout SortedMap<Int>) in m.remove(SplitMix64.orderedKey(4000)) }),
            ("insert", { (m: inout SortedMap<Int>) in m.set(SplitMix64.orderedKey(4001), 1) }),
        ] as [(String, (inout SortedMap<Int>) -> Void)] {
            var copy = original
            mutate(&copy)
            let copyNodes = copy.allNodes
            let fresh = copyNodes.filter { !originalIDs.contains(ObjectIdentifier($0)) }
            // One new node per level on the path (plus a split sibling per
            // level and a new root at most); every other node is shared.
            #expect(fresh.count >= original.height, "\(label): the change must not be written into shared nodes")
            #expect(fresh.count <= 2 * original.height + 1, "\(label): \(fresh.count) nodes copied")
            #expect(copyNodes.count - fresh.count == originalNodes.count - original.height,
                    "\(label): all but the root-to-leaf path must be shared")
        }
        // The original's nodes are all still its own, unchanged.
        #expect(original.allNodes.map(ObjectIdentifier.init) == originalNodes.map(ObjectIdentifier.init))
    }

    // How the next tests observe copying: the value is a copy-on-write
    // struct whose mutation asks `isKnownUniquelyReferenced` about its
    // storage object, exactly as Array and Dictionary do internally. If
    // `update` handed `body` a copy while the leaf still held the value (or
    // if a read-modify-write went through a temporary), the storage would
    // have two strong references and the mutation would report a copy.
    // A weak reference to the original storage then checks, by identity,
    // that the map still holds that very object afterwards (a weak reference
    // does not count for isKnownUniquelyReferenced, and a freed storage
    // would make it nil instead of aliasing a new object at the same address).

    @Test("update mutates a uniquely held value in place, at every depth")
    func updateInPlace() {
        var map = SortedMap<CowValue>()
        for i in 0..<6000 { map.set(SplitMix64.orderedKey(i), CowValue([i])) }
        #expect(map.height >= 3)
        for i in [0, 1, 63, 64, 2999, 5999] {
            let key = SplitMix64.orderedKey(i)
            weak let before = map[key]?.storage
            #expect(before != nil)
            let copied = map.update(key) { slot in slot!.append(-1) }
            #expect(!copied, "update of key \(i) copied the value's storage")
            #expect(map[key]?.storage === before, "the map must still hold the same storage object")
            #expect(map[key]?.storage.items == [i, -1])
        }
    }

    @Test("the observation detects a copy: read-modify-set copies, update does not")
    func readModifySetCopies() throws {
        var map = SortedMap<CowValue>()
        for i in 0..<200 { map.set(SplitMix64.orderedKey(i), CowValue([i])) }
        let key = SplitMix64.orderedKey(150)
        // The control: a value read out while the map still holds it is shared.
        do {
            var value = try #require(map[key])
            let copiedByAppend = value.append(7)
            #expect(copiedByAppend, "a read-out value shares its storage with the map")
            map.set(key, value)
        }  // `value` is gone: the map holds the new storage alone.
        #expect(map[key]?.storage.items == [150, 7])
        // update, by contrast, does not copy.
        let copiedByUpdate = map.update(key) { slot in slot!.append(8) }
        #expect(!copiedByUpdate)
        #expect(map[key]?.storage.items == [150, 7, 8])
    }

    @Test("update copies a value a snapshot shares, and the snapshot keeps the old value")
    func updateCopiesSharedValue() {
        var map = SortedMap<CowValue>()
        for i in 0..<3000 { map.set(SplitMix64.orderedKey(i), CowValue([i])) }
        let key = SplitMix64.orderedKey(1234)
        do {
            let snapshot = map
            let copied = map.update(key) { slot in slot!.append(-1) }
            #expect(copied, "a value the snapshot also holds must be copied before mutation")
            #expect(snapshot[key]?.storage.items == [1234])
            #expect(map[key]?.storage.items == [1234, -1])
            #expect(snapshot[key]?.storage !== map[key]?.storage)
            // A second update of the same key: the map now owns its copy.
            let copiedAgain = map.update(key) { slot in slot!.append(-2) }
            #expect(!copiedAgain)
            #expect(snapshot[key]?.storage.items == [1234])
        }
        // Once the snapshot is gone, other values are uniquely held again.
        let other = SplitMix64.orderedKey(1235)
        let copiedOther = map.update(other) { slot in slot!.append(-3) }
        #expect(!copiedOther)
        #expect(map[key]?.storage.items == [1234, -1, -2])
        #expect(map[other]?.storage.items == [1235, -3])
    }

    @Test("update of an array value appends without reallocating when the map holds it alone")
    func updateArrayInPlace() {
        var map = SortedMap<[Int]>()
        for i in 0..<2000 {
            var array = [i]
            array.reserveCapacity(16)
            map.set(SplitMix64.orderedKey(i), array)
        }
        // Same observation with Array's own copy-on-write: the buffer
        // address before and after an append within capacity is the same
        // iff the append did not copy.
        let key = SplitMix64.orderedKey(1500)
        let (before, after) = map.update(key) { slot -> (UnsafePointer<Int>?, UnsafePointer<Int>?) in
            let before = slot!.withUnsafeBufferPointer { $0.baseAddress }
            slot!.append(1)
            return (before, slot!.withUnsafeBufferPointer { $0.baseAddress })
        }
        #expect(before == after)
        #expect(map[key] == [1500, 1])

        let snapshot = map
        let (sharedBefore, sharedAfter) = map.update(key) { slot -> (UnsafePointer<Int>?, UnsafePointer<Int>?) in
            let before = slot!.withUnsafeBufferPointer { $0.baseAddress }
            slot!.append(2)
            return (before, slot!.withUnsafeBufferPointer { $0.baseAddress })
        }
        #expect(sharedBefore != sharedAfter, "the shared buffer must be copied")
        #expect(snapshot[key] == [1500, 1])
        #expect(map[key] == [1500, 1, 2])
    }
}
