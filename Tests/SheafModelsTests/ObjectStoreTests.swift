import SheafCodec
import SheafCollections
import SheafCrypto
@testable import SheafModels
import Testing

/// Applies `op` as an entry of `feed` at Lamport time `lamport`.
@discardableResult
private func apply(_ store: inout ObjectStore, _ op: ObjectStore.Op, by feed: PublicKey = Writers.alice,
                   at lamport: UInt64) -> ApplyOutcome {
    store.apply(op.encoded, context: context(feed, lamport: lamport))
}

private func objectKey(_ id: String) -> RecordKey { RecordKey([UInt8(ascii: "o")] + Array(id.utf8)) }

/// Applies a payload that must be ignored, and checks that it changed nothing.
private func expectIgnored(_ payload: [UInt8], in store: ObjectStore, _ comment: Comment,
                           sourceLocation: SourceLocation = #_sourceLocation) {
    var copy = store
    let outcome = copy.apply(payload, context: context(Writers.carol, lamport: 1_000))
    #expect(outcome.isIgnored, comment, sourceLocation: sourceLocation)
    #expect(copy.records == store.records, comment, sourceLocation: sourceLocation)
    #expect(sameCanonicalState(copy, store), comment, sourceLocation: sourceLocation)
    for id in ["a", "b", "p", ""] {
        #expect(copy.children(of: id) == store.children(of: id), comment, sourceLocation: sourceLocation)
    }
}

@Suite("ObjectStore")
struct ObjectStoreTests {
    @Test("put then get; fields from several puts accumulate")
    func putAndGet() throws {
        var store = ObjectStore()
        let outcome = apply(&store, .put(id: "doc", fields: ["title": .string("Hello"), "n": .int(3)]), at: 1)
        #expect(outcome == .applied(changed: [objectKey("doc")]))
        #expect(store.object("doc") == StoredObject(id: "doc", parent: nil,
                                                    fields: ["title": .string("Hello"), "n": .int(3)]))
        #expect(store.object("missing") == nil)
        #expect(store.object("Doc") == nil)
        #expect(store.liveCount == 1)
        #expect(store.records.keys == [objectKey("doc")])

        apply(&store, .put(id: "doc", fields: ["done": .bool(false)]), by: Writers.bob, at: 2)
        apply(&store, .put(id: "other", fields: [:]), at: 3)
        #expect(store.object("doc")?.fields == ["title": .string("Hello"), "n": .int(3), "done": .bool(false)])
        #expect(store.object("other") == StoredObject(id: "other", parent: nil, fields: [:]))
        #expect(store.liveCount == 2)

        // Stored in name (byte) order, each field its own register.
        let record = try #require(store.records[objectKey("doc")])
        #expect(record.fields.map(\.name.string) == ["done", "n", "title"])
        #expect(record.fields.map(\.register.stamp.lamport) == [2, 1, 1])
        #expect(record.alive == Register(value: true, stamp: Stamp(lamport: 2, feed: Writers.bob)))
    }

    @Test("last writer wins per field: by Lamport time, then by feed key")
    func lastWriterWins() throws {
        // Which writer has the larger key, by bytes.
        let (low, high) = referenceStampLess(Stamp(lamport: 1, feed: Writers.alice), Stamp(lamport: 1, feed: Writers.bob))
            ? (Writers.alice, Writers.bob) : (Writers.bob, Writers.alice)

        var store = ObjectStore()
        apply(&store, .put(id: "x", fields: ["f": .int(1)]), by: low, at: 5)
        // An older write arriving later loses, even from the larger key.
        let stale = apply(&store, .put(id: "x", fields: ["f": .int(2)]), by: high, at: 4)
        #expect(stale == .applied(changed: []), "a losing write changes nothing")
        #expect(store.object("x")?.fields["f"] == .int(1))
        // Same Lamport time: the larger feed key wins, whichever comes first.
        apply(&store, .put(id: "x", fields: ["f": .int(3)]), by: high, at: 5)
        #expect(store.object("x")?.fields["f"] == .int(3))
        var reversed = ObjectStore()
        apply(&reversed, .put(id: "x", fields: ["f": .int(3)]), by: high, at: 5)
        apply(&reversed, .put(id: "x", fields: ["f": .int(1)]), by: low, at: 5)
        #expect(reversed.object("x")?.fields["f"] == .int(3))
        // A newer Lamport time wins over a larger key.
        apply(&store, .put(id: "x", fields: ["f": .int(4)]), by: low, at: 6)
        #expect(store.object("x")?.fields["f"] == .int(4))

        // Concurrent writes to different fields both survive; a put that
        // wins one field and loses another keeps the newer of each.
        apply(&store, .put(id: "x", fields: ["g": .string("g9"), "f": .int(0)]), by: high, at: 3)
        #expect(store.object("x")?.fields == ["f": .int(4), "g": .string("g9")])
        let record = try #require(store.records[objectKey("x")])
        #expect(record.fields.map(\.register.stamp) == [Stamp(lamport: 6, feed: low), Stamp(lamport: 3, feed: high)])
    }

    @Test("delete is a tombstone; a newer put revives, an older put does not")
    func deleteAndRevive() throws {
        var store = ObjectStore()
        apply(&store, .put(id: "a", fields: ["v": .int(1)]), at: 1)
        apply(&store, .put(id: "b", fields: ["v": .int(2)]), at: 2)
        #expect(apply(&store, .delete(id: "a"), by: Writers.bob, at: 10) == .applied(changed: [objectKey("a")]))
        #expect(store.object("a") == nil)
        #expect(store.list().map(\.id) == ["b"])
        #expect(store.liveCount == 1)
        // The record stays, marked deleted, with the delete's stamp.
        let tombstone = try #require(store.records[objectKey("a")])
        #expect(tombstone.alive == Register(value: false, stamp: Stamp(lamport: 10, feed: Writers.bob)))
        #expect(store.records.count == 2)

        // An older put (stamp below the delete) does not revive.
        apply(&store, .put(id: "a", fields: ["v": .int(3)]), at: 9)
        #expect(store.object("a") == nil)
        #expect(store.liveCount == 1)
        // A newer put does.
        apply(&store, .put(id: "a", fields: ["w": .int(4)]), at: 11)
        #expect(store.object("a")?.fields["w"] == .int(4))
        #expect(store.list().map(\.id) == ["a", "b"])
        // An older delete does not delete it again.
        apply(&store, .delete(id: "a"), by: Writers.carol, at: 10)
        #expect(store.object("a") != nil)
        #expect(store.liveCount == 2)

        // Deleting an object never written leaves a tombstone, so a put
        // older than the delete, arriving later, stays deleted.
        apply(&store, .delete(id: "ghost"), at: 20)
        #expect(store.object("ghost") == nil)
        apply(&store, .put(id: "ghost", fields: ["v": .null]), at: 19)
        #expect(store.object("ghost") == nil)
        #expect(store.liveCount == 2)
    }

    @Test("setParent and children(of:): set, reparent, clear, stale writes, deleted children")
    func hierarchy() {
        var store = ObjectStore()
        for id in ["p", "q", "c1", "c2", "c3"] { apply(&store, .put(id: id, fields: [:]), at: 1) }
        apply(&store, .setParent(id: "c2", parent: "p"), at: 2)
        apply(&store, .setParent(id: "c1", parent: "p"), at: 2)
        #expect(store.children(of: "p").map(\.id) == ["c1", "c2"])
        #expect(store.object("c1")?.parent == "p")
        #expect(store.children(of: "q").isEmpty)

        // Reparenting moves the child.
        #expect(apply(&store, .setParent(id: "c1", parent: "q"), at: 3) == .applied(changed: [objectKey("c1")]))
        #expect(store.children(of: "p").map(\.id) == ["c2"])
        #expect(store.children(of: "q").map(\.id) == ["c1"])
        #expect(store.object("c1")?.parent == "q")

        // An older setParent loses: no move, nothing changed.
        #expect(apply(&store, .setParent(id: "c1", parent: "p"), at: 2) == .applied(changed: []))
        #expect(store.children(of: "q").map(\.id) == ["c1"])
        #expect(store.children(of: "p").map(\.id) == ["c2"])

        // Clearing.
        apply(&store, .setParent(id: "c2", parent: nil), at: 4)
        #expect(store.children(of: "p").isEmpty)
        #expect(store.object("c2")?.parent == nil)
        #expect(store.object("c2") != nil)
        // A stale set after the clear stays cleared.
        apply(&store, .setParent(id: "c2", parent: "p"), at: 3)
        #expect(store.children(of: "p").isEmpty)

        // Deleted children are not listed; reviving lists them again.
        apply(&store, .setParent(id: "c3", parent: "q"), at: 5)
        #expect(store.children(of: "q").map(\.id) == ["c1", "c3"])
        apply(&store, .delete(id: "c1"), at: 6)
        #expect(store.children(of: "q").map(\.id) == ["c3"])
        apply(&store, .put(id: "c1", fields: [:]), at: 7)
        #expect(store.children(of: "q").map(\.id) == ["c1", "c3"])

        // A parent need not exist; a parent id that extends another is a
        // different parent (the index key is length-prefixed).
        apply(&store, .setParent(id: "c4", parent: "qq"), at: 8)
        apply(&store, .put(id: "c4", fields: [:]), at: 8)
        #expect(store.children(of: "qq").map(\.id) == ["c4"])
        #expect(store.children(of: "q").map(\.id) == ["c1", "c3"])
        // Long parent ids (two-byte length prefix) too.
        let long = String(repeating: "L", count: 200)
        let longer = long + "x"
        apply(&store, .setParent(id: "c5", parent: long), at: 9)
        apply(&store, .setParent(id: "c6", parent: longer), at: 9)
        apply(&store, .put(id: "c5", fields: [:]), at: 9)
        apply(&store, .put(id: "c6", fields: [:]), at: 9)
        #expect(store.children(of: long).map(\.id) == ["c5"])
        #expect(store.children(of: longer).map(\.id) == ["c6"])
    }

    @Test("children(of:) lists in id byte order")
    func childrenOrder() {
        var store = ObjectStore()
        let ids = ["b", "a", "\u{E9}", "z", "Z", "a\u{0}", "e\u{301}"]
        for (i, id) in ids.enumerated() {
            apply(&store, .put(id: id, fields: [:]), at: UInt64(i + 1))
            apply(&store, .setParent(id: id, parent: "root"), at: UInt64(i + 1))
        }
        let expected = ids.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        #expect(store.children(of: "root").map { Array($0.id.utf8) } == expected.map { Array($0.utf8) })
    }

    @Test("list(after:limit:) pages through live objects in id byte order")
    func listing() {
        var store = ObjectStore()
        let ids = ["b", "a", "\u{E9}", "z", "Z", "a\u{0}", "ab", "e\u{301}", "dead1", "dead2"]
        for (i, id) in ids.enumerated() { apply(&store, .put(id: id, fields: ["i": .int(Int64(i))]), at: 1) }
        apply(&store, .delete(id: "dead1"), at: 2)
        apply(&store, .delete(id: "dead2"), at: 2)
        // Byte order: "Z" (0x5a) < "a" < "a\0" < "ab" < "b" < "e\u{301}" < "z" < "\u{E9}" (0xc3).
        let live = ["Z", "a", "a\u{0}", "ab", "b", "e\u{301}", "z", "\u{E9}"].map { Array($0.utf8) }
        #expect(store.list().map { Array($0.id.utf8) } == live)
        #expect(store.liveCount == live.count)
        #expect(store.list(limit: 0).isEmpty)
        #expect(store.list(limit: 3).map { Array($0.id.utf8) } == Array(live.prefix(3)))
        // after: strictly after that id, whether or not it exists.
        #expect(store.list(after: "a").map { Array($0.id.utf8) } == Array(live[2...]))
        #expect(store.list(after: "aa").map { Array($0.id.utf8) } == Array(live[3...]))
        #expect(store.list(after: "\u{E9}").isEmpty)
        #expect(store.list(after: "").map { Array($0.id.utf8) } == live)
        // Tombstones between pages are skipped and do not use up the limit.
        #expect(store.list(after: "b", limit: 2).map { Array($0.id.utf8) } == Array(live[5...6]))
        // Paging with limit 3 until empty gives the full listing.
        var paged = [StoredObject]()
        var cursor: String? = nil
        for _ in 0...live.count {  // bounded: a broken cursor must fail, not hang
            let page = store.list(after: cursor, limit: 3)
            if page.isEmpty { break }
            #expect(page.count <= 3)
            paged += page
            cursor = page.last!.id
        }
        #expect(paged == store.list())
        #expect(paged.map { Array($0.id.utf8) } == live)
    }

    @Test("malformed or disallowed ops are ignored and change nothing")
    func malformedOps() {
        var store = ObjectStore()
        apply(&store, .put(id: "a", fields: ["x": .int(1)]), at: 1)
        apply(&store, .put(id: "p", fields: [:]), at: 1)
        apply(&store, .setParent(id: "a", parent: "p"), at: 2)
        apply(&store, .delete(id: "b"), at: 3)

        let valid: [ObjectStore.Op] = [
            .put(id: "a", fields: ["x": .int(9), "s": .string("\u{E9}t\u{E9}"), "d": .double(2.5), "b": .bool(true),
                                   "n": .null, "y": .bytes([1, 2, 3])]),
            .delete(id: "a"),
            .setParent(id: "a", parent: "q"),
            .setParent(id: "a", parent: nil),
        ]
        for op in valid {
            let bytes = op.encoded
            // Every proper prefix is truncated; one extra byte is trailing.
            for cut in 0..<bytes.count {
                expectIgnored(Array(bytes[..<cut]), in: store, "\(op) cut at \(cut)")
            }
            expectIgnored(bytes + [0], in: store, "\(op) with a trailing byte")
        }

        expectIgnored([0], in: store, "tag 0")
        expectIgnored([4, 1, 0x61], in: store, "unknown tag 4")
        expectIgnored([0xff], in: store, "unknown tag 0xff")
        // Ids and names must be UTF-8 and within their limits.
        expectIgnored([2, 1, 0xff], in: store, "id not UTF-8")
        expectIgnored([2, 2, 0xc3, 0x28], in: store, "id with a broken UTF-8 sequence")
        expectIgnored(ObjectStore.Op.delete(id: String(repeating: "i", count: 257)).encoded, in: store, "id of 257 bytes")
        expectIgnored(ObjectStore.Op.put(id: "a", fields: [String(repeating: "n", count: 65): .null]).encoded,
                      in: store, "field name of 65 bytes")
        expectIgnored([1, 1, 0x61, 1, 1, 0xff, 0], in: store, "field name not UTF-8")
        expectIgnored(ObjectStore.Op.setParent(id: "a", parent: String(repeating: "p", count: 257)).encoded,
                      in: store, "parent of 257 bytes")
        expectIgnored([3, 1, 0x61, 1, 1, 0xff], in: store, "parent not UTF-8")
        expectIgnored([3, 1, 0x61, 2], in: store, "parent presence byte 2")
        // Too many fields in one op.
        let many = Dictionary(uniqueKeysWithValues: (0..<65).map { ("f\($0)", FieldValue.null) })
        expectIgnored(ObjectStore.Op.put(id: "a", fields: many).encoded, in: store, "65 fields in one op")
        // Bad field values.
        expectIgnored([1, 1, 0x61, 1, 1, 0x78, 1, 2], in: store, "bool byte 2")
        expectIgnored([1, 1, 0x61, 1, 1, 0x78, 6], in: store, "value tag 6")
        expectIgnored([1, 1, 0x61, 1, 1, 0x78, 4, 1, 0xff], in: store, "string value not UTF-8")
        expectIgnored([1, 1, 0x61, 1, 1, 0x78, 2, 0x80, 0x00], in: store, "overlong varint")
        expectIgnored([1, 0x81, 0x00, 0x61], in: store, "overlong id length")
        // Field names must strictly ascend in the encoding: an op with
        // unsorted or repeated names is not canonical, so it is refused.
        expectIgnored([1, 1, 0x61, 2, 1, 0x79, 0, 1, 0x78, 0], in: store, "names y, x")
        expectIgnored([1, 1, 0x61, 2, 1, 0x78, 0, 1, 0x78, 1, 1], in: store, "names x, x")
        // ... while the same fields in order are applied.
        var copy = store
        #expect(!copy.apply([1, 1, 0x61, 2, 1, 0x78, 0, 1, 0x79, 0], context: context(Writers.carol, lamport: 50)).isIgnored)
        #expect(copy.object("a")?.fields["y"] == .null)
    }

    @Test("an empty id is ignored by every op, and an object cannot be its own parent")
    func disallowedIds() {
        var store = ObjectStore()
        apply(&store, .put(id: "a", fields: [:]), at: 1)
        expectIgnored(ObjectStore.Op.put(id: "", fields: ["x": .null]).encoded, in: store, "put with empty id")
        expectIgnored(ObjectStore.Op.delete(id: "").encoded, in: store, "delete with empty id")
        expectIgnored(ObjectStore.Op.setParent(id: "", parent: "a").encoded, in: store, "setParent with empty id")
        expectIgnored(ObjectStore.Op.setParent(id: "a", parent: "").encoded, in: store, "setParent to an empty parent id")
        expectIgnored(ObjectStore.Op.setParent(id: "a", parent: "a").encoded, in: store, "own parent")
        // Own parent is decided by bytes: canonically equivalent but
        // different ids are different objects.
        var copy = store
        let outcome = apply(&copy, .setParent(id: "\u{E9}", parent: "e\u{301}"), at: 2)
        #expect(!outcome.isIgnored)
    }

    @Test("maxFieldsPerObject bounds an object's fields, and the bound converges")
    func fieldLimit() throws {
        let limit = ObjectStore.maxFieldsPerObject
        #expect(limit == 1024)
        var store = ObjectStore()
        // Names f0000 … f1023, 64 per put (the per-op limit).
        let names = (0..<limit).map { "f" + String(repeating: "0", count: 4 - String($0).count) + String($0) }
        for start in stride(from: 0, to: limit, by: ObjectStore.maxFieldsPerOp) {
            let chunk = names[start..<(start + ObjectStore.maxFieldsPerOp)]
            let fields = Dictionary(uniqueKeysWithValues: chunk.map { ($0, FieldValue.int(1)) })
            #expect(!apply(&store, .put(id: "big", fields: fields), at: 1).isIgnored)
        }
        #expect(try #require(store.records[objectKey("big")]).fields.count == limit)
        // Writing existing fields at the limit still works.
        apply(&store, .put(id: "big", fields: ["f0007": .int(2)]), at: 2)
        #expect(store.object("big")?.fields["f0007"] == .int(2))
        // One more name never takes the object past the limit. The rule
        // (the one that converges): keep the `limit` smallest names by bytes.
        // "g" sorts after every "f…" name, so it is dropped at once; with a
        // stamp too old to touch the alive register, the put changes nothing.
        #expect(apply(&store, .put(id: "big", fields: ["g": .int(3)]), at: 1) == .applied(changed: []))
        #expect(store.object("big")?.fields["g"] == nil)
        // "a" sorts first: it is kept and pushes out the largest, "f1023".
        #expect(apply(&store, .put(id: "big", fields: ["a": .int(4)]), at: 4) == .applied(changed: [objectKey("big")]))
        let record = try #require(store.records[objectKey("big")])
        #expect(record.fields.count == limit)
        #expect(record.fields.first?.name == FieldName("a"))
        #expect(record.fields.last?.name == FieldName("f1022"))
        #expect(store.object("big")?.fields["f1023"] == nil)
        // A later write to a dropped name does not bring it back.
        apply(&store, .put(id: "big", fields: ["f1023": .int(5)]), at: 5)
        #expect(store.object("big")?.fields["f1023"] == nil)
        #expect(try #require(store.records[objectKey("big")]).fields.count == limit)
        // The record must still load from a snapshot: its decoder refuses
        // more than the limit.
        var writer = ByteWriter()
        ObjectStore.encode(record, into: &writer)
        var reader = ByteReader(writer.bytes)
        #expect(try ObjectStore.decode(&reader, version: ObjectStore.descriptor.version) == record)
    }

    @Test("concurrent puts at the field limit commute")
    func fieldLimitCommutes() throws {
        let limit = ObjectStore.maxFieldsPerObject
        var base = ObjectStore()
        // 1,022 fields: room for two more.
        let names = (0..<(limit - 2)).map { "m" + String(repeating: "0", count: 4 - String($0).count) + String($0) }
        for start in stride(from: 0, to: names.count, by: ObjectStore.maxFieldsPerOp) {
            let chunk = names[start..<min(names.count, start + ObjectStore.maxFieldsPerOp)]
            apply(&base, .put(id: "o", fields: Dictionary(uniqueKeysWithValues: chunk.map { ($0, FieldValue.null) })), at: 1)
        }
        // Two concurrent puts, each adding two new names (one before and
        // one after the existing names in byte order), plus a delete and a
        // field overwrite, in every order.
        let ops: [(ObjectStore.Op, EntryContext)] = [
            (.put(id: "o", fields: ["a1": .int(1), "z1": .int(1)]), context(Writers.alice, lamport: 5)),
            (.put(id: "o", fields: ["a2": .int(2), "z2": .int(2)]), context(Writers.bob, lamport: 6)),
            (.put(id: "o", fields: ["m0003": .int(3), "z3": .int(3)]), context(Writers.carol, lamport: 4)),
            (.delete(id: "o"), context(Writers.carol, lamport: 5)),
        ]
        var results = [ObjectStore]()
        for permutation in permutations(of: Array(ops.indices)) {
            var store = base
            for i in permutation { _ = store.apply(ops[i].0.encoded, context: ops[i].1) }
            let record = try #require(store.records[objectKey("o")])
            #expect(record.fields.count <= limit)
            results.append(store)
        }
        for store in results.dropFirst() {
            #expect(store.records == results[0].records)
            #expect(sameCanonicalState(store, results[0]))
        }
        // What converges: the 1,024 smallest names of all ever written.
        let record = try #require(results[0].records[objectKey("o")])
        #expect(record.fields.map(\.name) == ([FieldName("a1"), FieldName("a2")] + names.map { FieldName($0) }))
        #expect(record.fields[0].register.value == .int(1))
        #expect(record.fields.first { $0.name == FieldName("m0003") }?.register.value == .int(3))
        #expect(results[0].object("o") != nil, "bob's put at Lamport 6 is newer than the delete at 5")
    }

    @Test("init(records:) rebuilds the children index from another store's records")
    func reloadRebuildsIndex() throws {
        var store = ObjectStore()
        for id in ["p", "c1", "c2", "c3", "q"] { apply(&store, .put(id: id, fields: ["k": .string(id)]), at: 1) }
        apply(&store, .setParent(id: "c1", parent: "p"), at: 2)
        apply(&store, .setParent(id: "c2", parent: "p"), at: 2)
        apply(&store, .setParent(id: "c3", parent: "p"), at: 2)
        apply(&store, .setParent(id: "c3", parent: "q"), at: 3)   // moved
        apply(&store, .setParent(id: "c2", parent: nil), at: 3)   // cleared
        apply(&store, .setParent(id: "orphan", parent: "p"), at: 4)  // never put: not alive

        let loaded = try ObjectStore(records: store.records)
        #expect(loaded.records == store.records)
        #expect(loaded.children(of: "p").map(\.id) == ["c1"])
        #expect(loaded.children(of: "q").map(\.id) == ["c3"])
        for id in ["p", "q", "c1", "c2", "c3", "orphan"] {
            #expect(loaded.children(of: id) == store.children(of: id))
            #expect(loaded.object(id) == store.object(id))
        }
        #expect(loaded.list() == store.list())

        // The loaded store keeps the index up to date as ops arrive.
        var next = loaded
        var original = store
        apply(&next, .setParent(id: "c1", parent: "q"), at: 5)
        apply(&next, .put(id: "orphan", fields: [:]), at: 5)
        apply(&original, .setParent(id: "c1", parent: "q"), at: 5)
        apply(&original, .put(id: "orphan", fields: [:]), at: 5)
        #expect(next.children(of: "p").map(\.id) == ["orphan"])
        #expect(next.children(of: "q").map(\.id) == ["c1", "c3"])
        #expect(next.children(of: "p") == original.children(of: "p"))
        #expect(sameCanonicalState(next, original))

        // Records that are not objects are refused.
        var foreign = store.records
        foreign.set(RecordKey("x1"), try #require(store.records[objectKey("p")]))
        #expect(throws: ModelError.self) { try ObjectStore(records: foreign) }
        #expect(throws: Never.self) { try ObjectStore(records: SortedMap<ObjectRecord>()) }
    }

    @Test("canonically equivalent field names are distinct fields")
    func unicodeFieldNames() throws {
        var store = ObjectStore()
        apply(&store, .put(id: "u", fields: ["\u{E9}": .int(1)]), at: 1)
        apply(&store, .put(id: "u", fields: ["e\u{301}": .int(2)]), at: 2)
        let record = try #require(store.records[objectKey("u")])
        // Two registers, ordered by bytes: "e\u{301}" (0x65 …) before "\u{E9}" (0xc3 …).
        #expect(record.fields.map(\.name.bytes) == [Array("e\u{301}".utf8), Array("\u{E9}".utf8)])
        #expect(record.fields.map(\.register.value) == [.int(2), .int(1)])
    }
}

/// All orderings of `items` (Heap's algorithm).
func permutations<T>(of items: [T]) -> [[T]] {
    var items = items
    var out = [[T]]()
    func generate(_ k: Int) {
        if k <= 1 { out.append(items); return }
        generate(k - 1)
        for i in 0..<(k - 1) {
            items.swapAt(k % 2 == 0 ? i : 0, k - 1)
            generate(k - 1)
        }
    }
    generate(items.count)
    return out
}
