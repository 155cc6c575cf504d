import SheafCodec
import SheafCollections
import SheafCompression
import SheafCrypto
import SheafModels
import SheafSnapshots
import Testing

enum Sample {
    /// `count` records with distinct random keys (1–16 bytes) and random values, ascending.
    static func records(count: Int, seed: UInt64, valueBytes: ClosedRange<Int> = 8...48) -> [(RecordKey, [UInt8])] {
        var rng = SplitMix64(seed: seed)
        var keys = Set<RecordKey>()
        while keys.count < count { keys.insert(RecordKey(rng.bytes(1 + rng.below(16)))) }
        return keys.sorted().map { ($0, rng.bytes(Int.random(in: valueBytes, using: &rng))) }
    }

    static func map(_ records: [(RecordKey, [UInt8])]) -> SortedMap<[UInt8]> { SortedMap(sortedRecords: records)! }
}

/// Checks that two builds agree on everything canonical (and on sizes).
func expectSameBuild(_ a: BuiltSnapshot, _ b: BuiltSnapshot, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(a.layout.leaves.count == b.layout.leaves.count, "\(what): leaf count", sourceLocation: sourceLocation)
    if a.layout.leaves != b.layout.leaves {
        let first = a.layout.leaves.indices.first { $0 >= b.layout.leaves.count || a.layout.leaves[$0] != b.layout.leaves[$0] }
            ?? b.layout.leaves.count
        Issue.record("\(what): layouts differ first at leaf \(first)", sourceLocation: sourceLocation)
    }
    #expect(a.layout.recordCount == b.layout.recordCount, "\(what): record count", sourceLocation: sourceLocation)
    if a.index != b.index {
        let first = a.index.indices.first { $0 >= b.index.count || a.index[$0] != b.index[$0] } ?? b.index.count
        Issue.record("\(what): index chunks differ first at \(first) (\(a.index.count) vs \(b.index.count))", sourceLocation: sourceLocation)
    }
    #expect(a.stateRoot == b.stateRoot, "\(what): state root", sourceLocation: sourceLocation)
}

/// Checks a build against the cut, index grouping and root derived here from
/// the documented rules; with `sink`, also the stored bytes of every leaf.
func expectMatchesReference(_ built: BuiltSnapshot, records: [(RecordKey, [UInt8])], recordsPerChunk: Int, model: String,
                            version: UInt32, metadata: [UInt8], sink: MemoryChunks? = nil, _ what: String = "",
                            sourceLocation: SourceLocation = #_sourceLocation) {
    let reference = Reference.leaves(records, recordsPerChunk: recordsPerChunk)
    let leaves = built.layout.leaves
    guard leaves.count == reference.count else {
        Issue.record("\(what): \(leaves.count) leaves, reference cut has \(reference.count)", sourceLocation: sourceLocation)
        return
    }
    for (i, (leaf, ref)) in zip(leaves, reference).enumerated() {
        let same = leaf.id == ref.id && leaf.rawSize == ref.raw.count && leaf.recordCount == ref.records.count
            && leaf.firstKey == ref.firstKey && leaf.lastKey == ref.lastKey && leaf.endsNaturally == ref.endsNaturally
            && leaf.endsIndexGroup == ref.endsIndexGroup
        if !same {
            Issue.record("\(what): leaf \(i) differs from the reference cut", sourceLocation: sourceLocation)
            return
        }
        if let sink {
            let stored = try? sink.raw(leaf.id)
            #expect(stored == ref.raw, "\(what): stored bytes of leaf \(i)", sourceLocation: sourceLocation)
            #expect(sink.chunks[leaf.id]?.count == leaf.compressedSize, "\(what): compressed size of leaf \(i)",
                    sourceLocation: sourceLocation)
        }
    }
    let groups = Reference.groups(endsGroup: reference.map(\.endsIndexGroup))
    #expect(groups.count == built.index.count, "\(what): index chunk count", sourceLocation: sourceLocation)
    for (group, ref) in zip(groups, built.index) {
        let raw = Reference.indexBytes(leaves[group].map { ($0.id, $0.rawSize, $0.compressedSize, $0.recordCount) })
        #expect(ref.id == Reference.chunkID(raw) && ref.rawSize == raw.count && ref.leafCount == group.count,
                "\(what): index chunk for leaves \(group)", sourceLocation: sourceLocation)
        if let sink { #expect((try? sink.raw(ref.id)) == raw, "\(what): stored index chunk", sourceLocation: sourceLocation) }
    }
    let root = Reference.stateRoot(model: model, version: version, metadata: metadata, recordCount: UInt64(records.count),
                                   leaves: reference.map { ($0.id, $0.raw.count, $0.records.count) })
    #expect(built.stateRoot == root, "\(what): state root", sourceLocation: sourceLocation)
}

@Suite("Chunking is canonical")
struct ChunkingTests {
    static let recordsPerChunk = 16
    static let metadata: [UInt8] = Array("admission state".utf8)
    /// ~20k records, shared by the tests of this suite.
    static let records = Sample.records(count: 20_000, seed: 0xC4A2)

    @Test("20k records: the same cut, index and root for every insertion order and for bulk loading")
    func insertionOrder() throws {
        let records = Self.records
        let builder = Bytes.builder(recordsPerChunk: Self.recordsPerChunk)
        var rng = SplitMix64(seed: 11)

        var ascending = SortedMap<[UInt8]>()
        for (k, v) in records { ascending.set(k, v) }
        var shuffled = SortedMap<[UInt8]>()
        for (k, v) in records.shuffled(using: &rng) { shuffled.set(k, v) }
        // A longer history reaching the same content: extra keys come and go,
        // values are overwritten and restored.
        let held = Set(records.map(\.0))
        var extra = [RecordKey]()
        var history = SortedMap<[UInt8]>()
        for (k, v) in records.reversed() {
            history.set(k, rng.bytes(3))
            let other = RecordKey(k.bytes + [0xEE])
            if rng.below(4) == 0, !held.contains(other) {
                history.set(other, v)
                extra.append(other)
            }
            history.set(k, v)
        }
        for key in extra { history.remove(key) }
        #expect(extra.count > 1000)
        let bulk = Sample.map(records)
        #expect(ascending == bulk && shuffled == bulk && history == bulk)

        var sink = MemoryChunks()
        let reference = try builder.build(bulk, metadata: Self.metadata, into: &sink)
        #expect(sink.duplicatePuts == 0)
        #expect(reference.layout.leaves.count > 20_000 / Self.recordsPerChunk / 2, "about one leaf per \(Self.recordsPerChunk) records")
        expectMatchesReference(reference, records: records, recordsPerChunk: Self.recordsPerChunk, model: "test.bytes", version: 1,
                               metadata: Self.metadata, sink: sink, "bulk")
        for (name, map) in [("ascending", ascending), ("shuffled", shuffled), ("history", history)] {
            var other = DiscardSink()
            let built = try builder.build(map, metadata: Self.metadata, into: &other)
            expectSameBuild(built, reference, name)
            #expect(other.puts == reference.newChunks, "\(name): every chunk is new to an empty sink")
        }
        // A builder for another model, version or metadata names another state.
        var scratch = DiscardSink()
        #expect(try Bytes.builder(recordsPerChunk: 16, model: "test.other").build(bulk, metadata: Self.metadata, into: &scratch).stateRoot
            != reference.stateRoot)
        #expect(try Bytes.builder(recordsPerChunk: 16, version: 2).build(bulk, metadata: Self.metadata, into: &scratch).stateRoot
            != reference.stateRoot)
        #expect(try builder.build(bulk, metadata: [], into: &scratch).stateRoot != reference.stateRoot)
    }

    @Test("20k records: incremental from a partial state equals the full build")
    func incrementalAtScale() throws {
        let records = Self.records
        let builder = Bytes.builder(recordsPerChunk: Self.recordsPerChunk)
        var rng = SplitMix64(seed: 12)
        var base = SortedMap<[UInt8]>()
        var held = [(RecordKey, [UInt8])]()
        for record in records where rng.below(10) != 0 { base.set(record.0, record.1); held.append(record) }
        var sink = MemoryChunks()
        let first = try builder.build(base, metadata: Self.metadata, into: &sink)

        var next = base
        for record in records where next[record.0] == nil { next.set(record.0, record.1) }  // the missing 10%
        for _ in 0..<100 { next.set(records[rng.below(records.count)].0, rng.bytes(20)) }
        for _ in 0..<100 { next.remove(records[rng.below(records.count)].0) }
        next.set(RecordKey([]), [1])  // before every key
        next.set(RecordKey([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]), [2])
        let changed = SortedMap.changedKeys(from: base, to: next, isEqual: ==)
        #expect(changed.count > 2000)

        let incremental = try builder.build(next, metadata: Self.metadata, previous: first.layout, changed: changed, into: &sink)
        var fresh = MemoryChunks()
        let full = try builder.build(next, metadata: Self.metadata, into: &fresh)
        expectSameBuild(incremental, full, "incremental vs full")
        expectMatchesReference(full, records: Reference.encodedRecords(next, Bytes.codec), recordsPerChunk: Self.recordsPerChunk,
                               model: "test.bytes", version: 1, metadata: Self.metadata, sink: fresh, "full")
        #expect(sink.duplicatePuts == 0)
        for leaf in incremental.layout.leaves { #expect(sink.chunks[leaf.id] != nil, "every leaf of the new layout is stored") }
        #expect(incremental.leavesEncoded < full.leavesEncoded, "unchanged runs are not re-encoded")
    }

    /// Leaf ids of `after` not in `before`, and of `before` not in `after`.
    static func difference(_ before: [LeafChunk], _ after: [LeafChunk]) -> (added: Int, removed: Int) {
        let a = Set(before.map(\.id))
        let b = Set(after.map(\.id))
        return (b.subtracting(a).count, a.subtracting(b).count)
    }

    @Test("20k records: one changed record changes O(1) leaf chunks", arguments: ["value", "insert", "delete"])
    func oneChange(kind: String) throws {
        let records = Self.records
        let rules = Boundaries(recordsPerChunk: Self.recordsPerChunk)
        let builder = Bytes.builder(recordsPerChunk: Self.recordsPerChunk)
        let base = Sample.map(records)
        var baseSink = MemoryChunks()
        let before = try builder.build(base, metadata: Self.metadata, into: &baseSink)
        var rng = SplitMix64(seed: 13 &+ UInt64(kind.utf8.count))

        // Which records to touch: random ones, the first and last, and
        // boundary keys (those that end a chunk naturally) on purpose.
        let naturals = records.indices.filter { rules.isNatural(records[$0].0) }
        var targets = [0, records.count - 1] + naturals.prefix(3)
        for _ in 0..<12 { targets.append(rng.below(records.count)) }
        for _ in 0..<8 { targets.append(naturals[rng.below(naturals.count)]) }

        var checkedFull = 0
        for (n, i) in targets.enumerated() {
            var next = base
            let key: RecordKey
            switch kind {
            case "value":
                key = records[i].0
                next.set(key, records[i].1 + [0x2A])
            case "insert":
                // Just after record i (or, for n == 0, before every key), alternating
                // between keys that end a chunk and keys that do not.
                var candidate = n == 0 ? RecordKey([]) : RecordKey(records[i].0.bytes + [0])
                var salt: UInt8 = 0
                while n != 0 && (rules.isNatural(candidate) != (n % 2 == 0) || base[candidate] != nil) {
                    candidate = RecordKey(records[i].0.bytes + [0, salt])
                    salt &+= 1
                }
                key = candidate
                next.set(key, [7, 7, 7])
            default:
                key = records[i].0
                next.remove(key)
            }
            let changed = SortedMap.changedKeys(from: base, to: next, isEqual: ==)
            #expect(changed == [key])
            var sink = baseSink
            let after = try builder.build(next, metadata: Self.metadata, previous: before.layout, changed: changed, into: &sink)
            let diff = Self.difference(before.layout.leaves, after.layout.leaves)
            let indexDiff = (Set(after.index.map(\.id)).subtracting(before.index.map(\.id)).count)
            let what = "\(kind) #\(n) (record \(i), natural: \(rules.isNatural(key)))"
            switch kind {
            case "value":
                #expect(diff.added == 1 && diff.removed == 1, "\(what): \(diff)")
                #expect(after.layout.leaves.count == before.layout.leaves.count, "\(what)")
                #expect(indexDiff == 1, "\(what): one index chunk changes")
            case "insert":
                #expect(diff.added >= 1 && diff.added <= 2 && diff.removed <= 1 && diff.added + diff.removed <= 3, "\(what): \(diff)")
                #expect(indexDiff <= 2, "\(what)")
            default:
                #expect(diff.removed >= 1 && diff.removed <= 2 && diff.added <= 1 && diff.added + diff.removed <= 3, "\(what): \(diff)")
                #expect(indexDiff <= 2, "\(what)")
            }
            #expect(after.leavesEncoded <= 4, "\(what): re-encodes O(1) leaves, not \(after.leavesEncoded)")
            #expect(after.newChunks <= diff.added + indexDiff, "\(what): writes only the changed chunks")
            #expect(after.stateRoot != before.stateRoot)
            if n < 2 || n == targets.count - 1 {
                var scratch = DiscardSink()
                expectSameBuild(after, try builder.build(next, metadata: Self.metadata, into: &scratch), what)
                checkedFull += 1
            }
        }
        #expect(checkedFull == 3)
    }

    @Test("object store records: stored leaf bytes, cut and root follow the documented format")
    func objectStoreFormat() throws {
        var rng = SplitMix64(seed: 14)
        var store = ObjectStore()
        let feed = Keys.publicKey(&rng)
        for i in 0..<600 {
            let id = "obj-\(rng.below(400))"
            let op: ObjectStore.Op = switch rng.below(5) {
            case 0: .delete(id: id)
            case 1: .setParent(id: id, parent: "obj-\(rng.below(400))")
            default: .put(id: id, fields: ["n": .int(Int64(i)), "s": .string("v\(rng.below(10))")])
            }
            _ = store.apply(op.encoded, context: EntryContext(feed: feed, seq: UInt64(i + 1), lamport: UInt64(i + 1)))
        }
        var sink = MemoryChunks()
        let built = try Objects.builder().build(store.records, metadata: Self.metadata, into: &sink)
        expectMatchesReference(built, records: Reference.encodedRecords(store.records, Objects.codec),
                               recordsPerChunk: ObjectStore.recordsPerChunk, model: Objects.model, version: Objects.version,
                               metadata: Self.metadata, sink: sink, "objects")
        // The manifest's totals are the layout's.
        let manifest = makeManifest(built, model: Objects.model, version: Objects.version)
        #expect(manifest.rawBytes == UInt64(built.layout.leaves.reduce(0) { $0 + $1.rawSize }))
        #expect(manifest.compressedBytes == UInt64(built.layout.leaves.reduce(0) { $0 + $1.compressedSize } + built.indexBytes))
        #expect(manifest.leafCount == UInt64(built.layout.leaves.count) && manifest.recordCount == UInt64(store.records.count))
    }

    @Test("an empty state has no chunks and the documented root")
    func emptyState() throws {
        var sink = MemoryChunks()
        let built = try Bytes.builder(recordsPerChunk: 4).build(SortedMap<[UInt8]>(), metadata: [1], into: &sink)
        #expect(built.layout.leaves.isEmpty && built.index.isEmpty && sink.chunks.isEmpty)
        #expect(built.stateRoot == Reference.stateRoot(model: "test.bytes", version: 1, metadata: [1], recordCount: 0, leaves: []))
        let manifest = makeManifest(built, model: "test.bytes", version: 1)
        let decoded = try SnapshotManifest(decoding: manifest.encoded)
        let loaded = try loadBytes(decoded, sink, recordsPerChunk: 4).get()
        #expect(loaded.isEmpty)
    }

    @Test("keys and chunks over the format's limits are refused by the builder")
    func builderLimits() throws {
        var sink = MemoryChunks()
        var map = SortedMap<[UInt8]>()
        map.set(RecordKey([UInt8](repeating: 1, count: SnapshotLimits.maxKeyBytes + 1)), [1])
        let longKey = snapshotError { () throws(SnapshotError) in try Bytes.builder(recordsPerChunk: 4).build(map, metadata: [], into: &sink) }
        #expect(longKey?.code.kind == "overLimit")

        var big = SortedMap<[UInt8]>()
        big.set(RecordKey("a"), [UInt8](repeating: 0, count: SnapshotLimits.maxChunkRawBytes))
        let bigChunk = snapshotError { () throws(SnapshotError) in try Bytes.builder(recordsPerChunk: 4).build(big, metadata: [], into: &sink) }
        #expect(bigChunk?.code.kind == "overLimit")
        #expect(sink.chunks.isEmpty, "nothing is stored for a refused chunk")

        // At the key limit itself the record is accepted.
        var edge = SortedMap<[UInt8]>()
        edge.set(RecordKey([UInt8](repeating: 1, count: SnapshotLimits.maxKeyBytes)), [1])
        let built = try Bytes.builder(recordsPerChunk: 4).build(edge, metadata: [], into: &sink)
        let loaded = try loadBytes(makeManifest(built, model: "test.bytes", version: 1), sink, recordsPerChunk: 4).get()
        #expect(loaded.count == 1)
    }
}
