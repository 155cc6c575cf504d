import PropertyBased
import SheafCodec
import SheafCollections
import SheafCrypto
import SheafSnapshots
import Testing

/// Random mutation sequences over a key space built to stress the cut:
/// dense and sparse stretches, runs of keys without a natural boundary that
/// are longer than the forced limit, the empty key (before everything) and a
/// key after everything, and boundary keys targeted on purpose.
struct IncrementalScenario {
    let seed: UInt64
    var rng: SplitMix64
    let recordsPerChunk: Int
    let rules: Boundaries
    let universe: [RecordKey]
    let naturals: [Int]

    init(seed: UInt64) {
        self.seed = seed
        rng = SplitMix64(seed: seed)
        let perChunk = 2 + rng.below(7)
        let rules = Boundaries(recordsPerChunk: perChunk)
        recordsPerChunk = perChunk
        self.rules = rules
        var keys = KeySpace.withLongRuns(count: 80 + rng.below(420), recordsPerChunk: perChunk, using: &rng)
        // Keys that extend others: `k ‖ 00` is the very next key after `k`
        // (where a re-cut after `k` starts), `k ‖ 00 00` the one after that.
        var extensions = [RecordKey]()
        for key in keys where rng.below(6) == 0 {
            extensions.append(RecordKey(key.bytes + [0]))
            if rng.below(2) == 0 { extensions.append(RecordKey(key.bytes + [0, 0])) }
            if rng.below(2) == 0 { extensions.append(RecordKey(key.bytes + [0xFF])) }
        }
        keys = (keys + extensions + [RecordKey([]), RecordKey([0]), RecordKey([0xFF, 0xFF])]).sorted()
        universe = keys
        naturals = keys.indices.filter { rules.isNatural(keys[$0]) }
    }

    mutating func value() -> [UInt8] { rng.bytes(1 + rng.below(2)) }

    mutating func set(_ map: inout SortedMap<[UInt8]>, _ i: Int) { map.set(universe[i], value()) }

    mutating func initial() -> SortedMap<[UInt8]> {
        var map = SortedMap<[UInt8]>()
        let density = rng.below(11)
        for i in universe.indices where rng.below(10) < density { set(&map, i) }
        return map
    }

    /// One to three random mutations.
    mutating func mutate(_ map: inout SortedMap<[UInt8]>) {
        let n = universe.count
        let maxRun = rules.maxRecords
        for _ in 0..<(1 + rng.below(3)) {
            switch rng.below(12) {
            case 0, 1, 2:  // scattered sets and removes
                for _ in 0..<(1 + rng.below(20)) {
                    let i = rng.below(n)
                    if rng.below(2) == 0 { set(&map, i) } else { map.remove(universe[i]) }
                }
            case 3, 4:  // a run of consecutive keys, up to three forced chunks long
                let start = rng.below(n)
                let end = min(n, start + 1 + rng.below(3 * maxRun))
                let remove = rng.below(2) == 0
                for i in start..<end { if remove { map.remove(universe[i]) } else { set(&map, i) } }
            case 5, 6:  // the edges: first and last key held, before and after everything
                switch rng.below(6) {
                case 0: if let first = map.first?.key { map.remove(first) }
                case 1: if let last = map.keys.last { map.remove(last) }
                case 2: set(&map, 0)
                case 3: map.remove(universe[0])
                case 4: set(&map, n - 1)
                default: map.remove(universe[n - 1])
                }
            case 7, 8:  // boundary keys
                guard !naturals.isEmpty else { continue }
                for _ in 0..<(1 + rng.below(4)) {
                    let i = naturals[rng.below(naturals.count)]
                    if rng.below(2) == 0 { set(&map, i) } else { map.remove(universe[i]) }
                }
            case 9, 10:  // values only
                let keys = map.keys
                guard !keys.isEmpty else { continue }
                for _ in 0..<(1 + rng.below(5)) { map.set(keys[rng.below(keys.count)], value()) }
            default:  // everything or nothing
                if rng.below(2) == 0 { map = SortedMap() } else { for i in universe.indices where rng.below(3) != 0 { set(&map, i) } }
            }
        }
    }

    /// Builds the initial state in full, then `steps` times mutates it and
    /// checks that the incremental build (from the previous incremental
    /// layout: a chain) equals a full build and the reference cut. Returns
    /// how many forced cuts the checked layouts had.
    @discardableResult
    mutating func run(steps: Int, checkReference: Bool) throws -> Int {
        var forced = 0
        let builder = Bytes.builder(recordsPerChunk: recordsPerChunk)
        var map = initial()
        var metadata = rng.bytes(rng.below(4))
        var sink = MemoryChunks()
        var built = try builder.build(map, metadata: metadata, into: &sink)
        for step in 0..<steps {
            let what = "seed \(seed) (recordsPerChunk \(recordsPerChunk), \(map.count) records) step \(step)"
            var next = map
            mutate(&next)
            if rng.below(5) == 0 { metadata = rng.bytes(rng.below(4)) }
            var changed = SortedMap.changedKeys(from: map, to: next, isEqual: ==)
            if rng.below(4) == 0 {
                // A caller may name keys that did not change, or exist nowhere.
                changed = Array(Set(changed + (0..<(1 + rng.below(6))).map { _ in universe[rng.below(universe.count)] })).sorted()
            }
            let incremental = try builder.build(next, metadata: metadata, previous: built.layout, changed: changed, into: &sink)
            var fullSink = sink
            let full = try builder.build(next, metadata: metadata, into: &fullSink)
            expectSameBuild(incremental, full, what)
            #expect(full.newChunks == 0, "\(what): the incremental build stored every chunk of the state")
            #expect(sink.duplicatePuts == 0, "\(what): no chunk is written twice")
            if checkReference {
                expectMatchesReference(full, records: Reference.encodedRecords(next, Bytes.codec), recordsPerChunk: recordsPerChunk,
                                       model: "test.bytes", version: 1, metadata: metadata, what)
            }
            forced += full.layout.leaves.dropLast().filter { !$0.endsNaturally }.count
            map = next
            built = incremental
        }
        return forced
    }
}

@Suite("Incremental builds equal full builds")
struct IncrementalBuildTests {
    @Test("seeded: 200 mutation chains of 4 incremental builds each")
    func seededChains() throws {
        var forced = 0
        for seed in 0..<UInt64(200) {
            var scenario = IncrementalScenario(seed: 0x1AC0_0000 + seed)
            forced += try scenario.run(steps: 4, checkReference: seed % 4 == 0)
        }
        #expect(forced > 200, "the checked layouts had \(forced) forced cuts")
    }

    @Test("the key spaces really produce forced cuts")
    func forcedCutsOccur() throws {
        var forcedLeaves = 0
        var naturalLeaves = 0
        for seed in 0..<UInt64(20) {
            var scenario = IncrementalScenario(seed: 0x1AC0_0000 + seed)
            let map = scenario.initial()
            var sink = DiscardSink()
            let built = try Bytes.builder(recordsPerChunk: scenario.recordsPerChunk).build(map, metadata: [], into: &sink)
            for leaf in built.layout.leaves.dropLast() {
                if leaf.endsNaturally { naturalLeaves += 1 } else {
                    #expect(leaf.recordCount == scenario.rules.maxRecords)
                    forcedLeaves += 1
                }
            }
        }
        #expect(forcedLeaves > 20 && naturalLeaves > 20)
    }

    @Test("property: random seeds (reported on failure)")
    func randomChains() async {
        await propertyCheck(count: 25, input: Gen.uint64()) { seed in
            var scenario = IncrementalScenario(seed: seed)
            try scenario.run(steps: 3, checkReference: true)
        }
    }

    @Test("a previous layout that does not exist (first snapshot) falls back to a full build")
    func emptyPrevious() throws {
        let records = Sample.records(count: 300, seed: 5)
        let map = Sample.map(records)
        var a = MemoryChunks()
        var b = MemoryChunks()
        let builder = Bytes.builder(recordsPerChunk: 4)
        let incremental = try builder.build(map, metadata: [], previous: ChunkLayout(), changed: map.keys, into: &a)
        expectSameBuild(incremental, try builder.build(map, metadata: [], into: &b), "from nothing")
    }
}
