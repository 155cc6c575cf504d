import PropertyBased
import SheafCodec
import SheafCollections
import SheafCrypto
@testable import SheafModels
import Testing

// Invariant 1 (determinism): models are CRDTs, so causally concurrent
// entries commute. These tests take a random set of entries from several
// writers, treat them all as mutually concurrent (even a feed's own entries
// are shuffled, which is stronger than the contract needs), apply them in
// many random orders to fresh models, and require equal record maps and
// byte-identical canonical encodings — and, for the object store and the
// counters, equality with an independent oracle of what the winner is.

/// An op with the entry context it arrives in.
private struct Written<Op> {
    var op: Op
    var context: EntryContext
}

/// Entry contexts for `writers` feeds: seqs from 1, Lamport times rising
/// per feed by 1-3 from a random start, so different feeds often share a
/// Lamport time (ties broken by feed key).
private func contexts(writers: Int, perWriter: ClosedRange<Int>, using rng: inout SplitMix64) -> [EntryContext] {
    var out = [EntryContext]()
    for feed in Writers.all.prefix(writers) {
        var lamport = UInt64(1 + rng.below(3))
        for seq in 1...UInt64(perWriter.lowerBound + rng.below(perWriter.count)) {
            out.append(EntryContext(feed: feed, seq: seq, lamport: lamport))
            lamport += UInt64(1 + rng.below(3))
        }
    }
    return out
}

/// Applies `ops` in `permutations` random orders plus the given order.
private func applyInOrders<M: Model, Op>(_ ops: [Written<Op>], permutations: Int, encode: (Op) -> [UInt8],
                                         using rng: inout SplitMix64) -> [M] {
    var orders = [Array(ops.indices), Array(ops.indices.reversed())]
    for _ in 0..<permutations { orders.append(Array(ops.indices).shuffled(using: &rng)) }
    return orders.map { order in
        var model = M()
        for i in order { _ = model.apply(encode(ops[i].op), context: ops[i].context) }
        return model
    }
}

private func expectAllSame<M: SnapshotModel>(_ models: [M], sourceLocation: SourceLocation = #_sourceLocation) {
    let first = canonicalState(models[0])
    for model in models.dropFirst() {
        #expect(model.records == models[0].records, sourceLocation: sourceLocation)
        let state = canonicalState(model)
        #expect(state.map(\.key) == first.map(\.key), sourceLocation: sourceLocation)
        #expect(state.map(\.bytes) == first.map(\.bytes), "canonical encodings differ", sourceLocation: sourceLocation)
    }
}

// MARK: Object store

/// Ids and field names from a small space (canonically equivalent pairs
/// included), so conflicts are frequent.
private let ids = ["a", "b", "c", "\u{E9}", "e\u{301}"]
private let names = ["x", "y", "", "\u{E9}", "e\u{301}"]

private func randomObjectOp(using rng: inout SplitMix64) -> ObjectStore.Op {
    let id = ids[rng.below(ids.count)]
    switch rng.below(10) {
    case 0..<5:
        var fields = [String: FieldValue]()
        for _ in 0..<(1 + rng.below(3)) { fields[names[rng.below(names.count)]] = rng.fieldValue() }
        if rng.below(8) == 0 { fields = [:] }  // a put of no fields: only (re)creates
        return .put(id: id, fields: fields)
    case 5..<7:
        return .delete(id: id)
    default:
        // Now and then the object's own id: the op must be ignored everywhere.
        return .setParent(id: id, parent: rng.below(4) == 0 ? nil : ids[rng.below(ids.count)])
    }
}

/// The oracle: for every id, each register is the write with the largest
/// stamp (compared with `referenceStampLess`), computed from the ops alone.
private func expectedObjectRecords(_ ops: [Written<ObjectStore.Op>]) throws -> SortedMap<ObjectRecord> {
    struct Winners {
        var alive: Register<Bool> = Register(value: false, stamp: .zero)
        var parent: Register<[UInt8]?>?
        var fields: [FieldName: Register<FieldValue>] = [:]
    }
    func newer<V>(_ candidate: Register<V>, than current: Register<V>?) -> Bool {
        guard let current else { return true }
        return referenceStampLess(current.stamp, candidate.stamp)
    }
    var objects = [[UInt8]: Winners]()
    for written in ops {
        let stamp = Stamp(lamport: written.context.lamport, feed: written.context.feed)
        switch written.op {
        case .put(let id, let fields):
            let id = Array(id.utf8)
            var w = objects[id] ?? Winners()
            let alive = Register(value: true, stamp: stamp)
            if newer(alive, than: w.alive) { w.alive = alive }
            for (name, value) in fields {
                let register = Register(value: value, stamp: stamp)
                if newer(register, than: w.fields[FieldName(name)]) { w.fields[FieldName(name)] = register }
            }
            objects[id] = w
        case .delete(let id):
            let id = Array(id.utf8)
            var w = objects[id] ?? Winners()
            let alive = Register(value: false, stamp: stamp)
            if newer(alive, than: w.alive) { w.alive = alive }
            objects[id] = w
        case .setParent(let id, let parent):
            let id = Array(id.utf8)
            let parent = parent.map { Array($0.utf8) }
            guard parent != id else { continue }  // own parent: ignored
            var w = objects[id] ?? Winners()
            let register = Register(value: parent, stamp: stamp)
            if newer(register, than: w.parent) { w.parent = register }
            objects[id] = w
        }
    }
    let records = objects.map { id, w in
        (RecordKey([UInt8(ascii: "o")] + id),
         ObjectRecord(alive: w.alive, parent: w.parent,
                      fields: w.fields.sorted { $0.key.bytes.lexicographicallyPrecedes($1.key.bytes) }
                          .map { ObjectRecord.Field(name: $0.key, register: $0.value) }))
    }.sorted { referenceLess($0.0, $1.0) }
    return try #require(SortedMap(sortedRecords: records))
}

private func referenceLess(_ a: RecordKey, _ b: RecordKey) -> Bool { a.bytes.lexicographicallyPrecedes(b.bytes) }

// MARK: Counters

private let counterNames = ["a", "b", "\u{E9}", "e\u{301}", "long-" + String(repeating: "n", count: 200)]

private func randomDelta(using rng: inout SplitMix64) -> Int64 {
    switch rng.below(4) {
    case 0: [Int64.max, Int64.min, Int64.max - 1, Int64.min + 1, -1, 1][rng.below(6)]
    case 1: Int64(bitPattern: rng.next())
    default: Int64(rng.below(21)) - 10
    }
}

@Suite("Concurrent entries commute")
struct ConvergenceTests {
    @Test("object store: any order of concurrent puts, deletes and setParents gives one state", .shrinking(false))
    func objectStore() async {
        await propertyCheck(count: 150, input: Gen.uint64()) { seed throws in
            var rng = SplitMix64(seed: seed)
            let ops = contexts(writers: 2 + rng.below(3), perWriter: 1...10, using: &rng).map {
                Written(op: randomObjectOp(using: &rng), context: $0)
            }
            let models: [ObjectStore] = applyInOrders(ops, permutations: 10, encode: \.encoded, using: &rng)
            expectAllSame(models)

            // The state is the oracle's: every register is its newest write.
            let expected = try expectedObjectRecords(ops)
            #expect(models[0].records == expected)
            #expect(canonicalState(models[0]).map(\.bytes)
                == expected.keys.map { encoded(expected[$0]!, as: ObjectStore.self) })

            // Derived queries agree too, and follow the records.
            for model in models {
                #expect(model.list() == models[0].list())
                #expect(model.liveCount == models[0].liveCount)
                for id in ids {
                    #expect(model.children(of: id) == models[0].children(of: id))
                    // children(of:) = the live objects whose parent register names `id`.
                    let parentBytes = Array(id.utf8)
                    var expectedChildren = [[UInt8]]()
                    expected.forEach { key, record in
                        if record.alive.value, record.parent?.value == parentBytes {
                            expectedChildren.append(Array(key.bytes.dropFirst()))
                        }
                        return true
                    }
                    #expect(model.children(of: id).map { Array($0.id.utf8) } == expectedChildren)
                }
            }
            // A store loaded from the records answers the same queries.
            let loaded = try ObjectStore(records: models[0].records)
            for id in ids { #expect(loaded.children(of: id) == models[0].children(of: id)) }
        }
    }

    @Test("object store: a loaded snapshot plus the remaining ops equals a full replay", .shrinking(false))
    func objectStoreSnapshotPlusTail() async {
        await propertyCheck(count: 60, input: Gen.uint64()) { seed throws in
            var rng = SplitMix64(seed: seed)
            let ops = contexts(writers: 3, perWriter: 2...10, using: &rng).map {
                Written(op: randomObjectOp(using: &rng), context: $0)
            }.shuffled(using: &rng)
            var replay = ObjectStore()
            for written in ops { _ = replay.apply(written.op.encoded, context: written.context) }

            // Snapshot after a prefix: encode and decode every record, load, apply the rest.
            let cut = rng.below(ops.count + 1)
            var prefix = ObjectStore()
            for written in ops[..<cut] { _ = prefix.apply(written.op.encoded, context: written.context) }
            var decoded = [(RecordKey, ObjectRecord)]()
            for (key, bytes) in canonicalState(prefix) {
                var reader = ByteReader(bytes)
                decoded.append((key, try ObjectStore.decode(&reader, version: ObjectStore.descriptor.version)))
                #expect(reader.isAtEnd)
            }
            var resumed = try ObjectStore(records: try #require(SortedMap(sortedRecords: decoded)))
            for written in ops[cut...] { _ = resumed.apply(written.op.encoded, context: written.context) }
            #expect(resumed.records == replay.records)
            #expect(sameCanonicalState(resumed, replay))
            for id in ids { #expect(resumed.children(of: id) == replay.children(of: id)) }
        }
    }

    @Test("counters: any order gives one state, the wrapping sum per name", .shrinking(false))
    func counters() async {
        await propertyCheck(count: 150, input: Gen.uint64()) { seed throws in
            var rng = SplitMix64(seed: seed)
            let ops = contexts(writers: 2 + rng.below(3), perWriter: 1...12, using: &rng).map {
                Written(op: Counters.Op.add(name: counterNames[rng.below(counterNames.count)], delta: randomDelta(using: &rng)),
                        context: $0)
            }
            let models: [Counters] = applyInOrders(ops, permutations: 10, encode: \.encoded, using: &rng)
            expectAllSame(models)
            var sums = [[UInt8]: Int64]()
            for written in ops {
                guard case .add(let name, let delta) = written.op else { continue }
                sums[Array(name.utf8), default: 0] &+= delta
            }
            #expect(models[0].records.count == sums.count)
            for (name, sum) in sums {
                #expect(models[0].records[RecordKey([UInt8(ascii: "c")] + name)] == sum)
            }
        }
    }

    @Test("timeline: any order gives one state, ordered by (lamport, feed, seq)", .shrinking(false))
    func timeline() async {
        await propertyCheck(count: 150, input: Gen.uint64()) { seed throws in
            var rng = SplitMix64(seed: seed)
            let ops = contexts(writers: 2 + rng.below(3), perWriter: 1...12, using: &rng).map {
                Written(op: rng.bytes(rng.below(20)), context: $0)
            }
            let models: [Timeline] = applyInOrders(ops, permutations: 10, encode: { Timeline.op($0) }, using: &rng)
            expectAllSame(models)
            let expected = ops.sorted { a, b in
                if a.context.lamport != b.context.lamport { return a.context.lamport < b.context.lamport }
                if a.context.feed != b.context.feed {
                    return a.context.feed.raw.bytes.lexicographicallyPrecedes(b.context.feed.raw.bytes)
                }
                return a.context.seq < b.context.seq
            }
            let events = models[0].events()
            #expect(events.map(\.lamport) == expected.map(\.context.lamport))
            #expect(events.map(\.feed) == expected.map(\.context.feed))
            #expect(events.map(\.seq) == expected.map(\.context.seq))
            #expect(events.map(\.body) == expected.map(\.op))
        }
    }
}
