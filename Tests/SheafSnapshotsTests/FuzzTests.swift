import SheafCodec
import SheafCollections
import SheafCompression
import SheafCrypto
import SheafFeeds
import SheafModels
import SheafSnapshots
import Testing

/// Seeded fuzzing inside `swift test`. Every case draws from its own
/// `SplitMix64` seeded from the master seed and the test's stream, and every
/// failure names that case seed, so one case can be re-run alone by calling
/// the test's body with it.
enum Fuzz {
    static let masterSeed: UInt64 = 0x5EED_F022_0000_0001

    /// Case seeds of one fuzz test (`stream` tells the tests apart).
    static func seeds(_ stream: UInt64, count: Int) -> [UInt64] {
        var rng = SplitMix64(seed: masterSeed ^ (stream &* 0x9E37_79B9_7F4A_7C15))
        return (0..<count).map { _ in rng.next() }
    }

    /// Runs `body` for every case seed; stops after a few failing cases so
    /// one bug does not flood the log. Returns the number of cases run.
    @discardableResult
    static func run(_ name: String, stream: UInt64, count: Int, sourceLocation: SourceLocation = #_sourceLocation,
                    _ body: (UInt64, FuzzCase) throws -> Void) -> Int {
        let start = ContinuousClock.now
        var failing = 0
        var ran = 0
        for seed in seeds(stream, count: count) {
            let check = FuzzCase(seed: seed)
            do { try body(seed, check) } catch {
                check.fail("threw \(error)", sourceLocation: sourceLocation)
            }
            ran += 1
            if check.failures > 0 {
                failing += 1
                if failing >= 3 { break }
            }
        }
        print("fuzz \(name): \(ran) cases in \(ContinuousClock.now - start) (master seed 0x\(String(masterSeed, radix: 16)), stream \(stream))")
        #expect(ran == count, "\(name): stopped after \(failing) failing cases", sourceLocation: sourceLocation)
        return ran
    }
}

/// One fuzz case: `check` is `#expect` naming the case seed.
final class FuzzCase {
    let seed: UInt64
    private(set) var failures = 0

    init(seed: UInt64) { self.seed = seed }

    func check(_ condition: Bool, _ what: @autoclosure () -> String, sourceLocation: SourceLocation = #_sourceLocation) {
        guard !condition else { return }
        fail(what(), sourceLocation: sourceLocation)
    }

    func fail(_ what: String, sourceLocation: SourceLocation) {
        failures += 1
        Issue.record("\(what) [case seed 0x\(String(seed, radix: 16))]", sourceLocation: sourceLocation)
    }
}

// MARK: Generators

enum Gen0 {
    /// A stamp: Lamport time (small, large or extreme) and feed, as the
    /// current version writes it without a feed table (ref 0, then the key).
    static func stamp(_ writer: inout ByteWriter, _ rng: inout SplitMix64) {
        let lamport: UInt64 = switch rng.below(4) {
        case 0: UInt64(rng.below(3))
        case 1: UInt64(rng.below(1000))
        case 2: UInt64.max - UInt64(rng.below(3))
        default: rng.next()
        }
        writer.writeVarint(lamport)
        writer.writeUInt8(0)
        writer.writeRaw(rng.bytes(32))
    }

    /// Random valid UTF-8 of up to `maxBytes` bytes, with multi-byte scalars.
    static func utf8(_ rng: inout SplitMix64, maxBytes: Int) -> [UInt8] {
        var out = [UInt8]()
        for _ in 0..<rng.below(12) {
            let scalar: Unicode.Scalar = switch rng.below(5) {
            case 0: Unicode.Scalar(UInt8(0x20 + rng.below(0x5F)))
            case 1: Unicode.Scalar(UInt32(0xA0 + rng.below(0x700)))!
            case 2: Unicode.Scalar(UInt32(0x4E00 + rng.below(0x5000)))!
            case 3: Unicode.Scalar(UInt32(0x1F300 + rng.below(0x300)))!
            default: Unicode.Scalar(UInt8(rng.below(0x80)))
            }
            let bytes = Array(String(scalar).utf8)
            if out.count + bytes.count > maxBytes { break }
            out += bytes
        }
        return out
    }

    /// A field value in the documented encoding.
    static func fieldValue(_ writer: inout ByteWriter, _ rng: inout SplitMix64) {
        switch rng.below(6) {
        case 0: writer.writeUInt8(0)
        case 1: writer.writeUInt8(1); writer.writeUInt8(UInt8(rng.below(2)))
        case 2:
            let i: Int64 = [0, -1, 1, .min, .max, Int64(bitPattern: rng.next()), Int64(rng.below(100)) - 50][rng.below(7)]
            writer.writeUInt8(2)
            writer.writeVarint(UInt64(bitPattern: (i << 1) ^ (i >> 63)))
        case 3:
            let d: Double = [0, -0.0, .nan, -.infinity, .infinity, .pi, Double(bitPattern: rng.next())][rng.below(7)]
            writer.writeUInt8(3)
            writer.writeUInt64(d.bitPattern)
        case 4: writer.writeUInt8(4); writer.writeLengthPrefixed(utf8(&rng, maxBytes: 60))
        default: writer.writeUInt8(5); writer.writeLengthPrefixed(rng.bytes(rng.below(40)))
        }
    }

    /// An object record in the documented encoding:
    /// `u8 alive ‖ stamp ‖ parent ‖ varint n ‖ n × (name ‖ value ‖ stamp)`.
    static func objectRecord(_ rng: inout SplitMix64) -> [UInt8] {
        var writer = ByteWriter()
        writer.writeUInt8(UInt8(rng.below(2)))
        stamp(&writer, &rng)
        switch rng.below(3) {
        case 0: writer.writeUInt8(0)
        case 1: writer.writeUInt8(1); stamp(&writer, &rng)
        default:
            writer.writeUInt8(2)
            writer.writeLengthPrefixed(utf8(&rng, maxBytes: ObjectStore.maxIDBytes))
            stamp(&writer, &rng)
        }
        var names = Set<[UInt8]>()
        for _ in 0..<rng.below(6) { names.insert(utf8(&rng, maxBytes: ObjectStore.maxFieldNameBytes)) }
        writer.writeVarint(UInt64(names.count))
        for name in names.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            writer.writeLengthPrefixed(name)
            fieldValue(&writer, &rng)
            stamp(&writer, &rng)
        }
        return writer.bytes
    }

    /// Damages `bytes`: flipped bits, overwritten bytes, a cut, an insertion
    /// or a deletion.
    static func mutate(_ bytes: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
        var out = bytes
        for _ in 0..<(1 + rng.below(3)) {
            switch rng.below(6) {
            case 0, 1: if !out.isEmpty { out[rng.below(out.count)] ^= 1 << UInt8(rng.below(8)) }
            case 2: if !out.isEmpty { out[rng.below(out.count)] = UInt8(truncatingIfNeeded: rng.next()) }
            case 3: out = Array(out.prefix(rng.below(out.count + 1)))
            case 4: out.insert(UInt8(truncatingIfNeeded: rng.next()), at: rng.below(out.count + 1))
            default: if !out.isEmpty { out.remove(at: rng.below(out.count)) }
            }
        }
        return out
    }
}

/// Object-store histories: a few feeds, each a sequence of ops with rising
/// Lamport times (so every op has a distinct stamp), some of them malformed.
struct History {
    struct Op {
        var payload: [UInt8]
        var context: EntryContext
    }

    var feeds: [[Op]]
    var count: Int { feeds.reduce(0) { $0 + $1.count } }

    init(_ rng: inout SplitMix64, maxOps: Int = 14) {
        let ids = (0..<(3 + rng.below(10))).map { i in i % 7 == 6 ? "ü\(i)-\(String(repeating: "x", count: rng.below(30)))" : "o\(i)" }
        let names = ["a", "b", "c", "ä", ""]
        feeds = (0..<(1 + rng.below(4))).map { _ in
            let feed = Keys.publicKey(&rng)
            var lamport = UInt64(1 + rng.below(3))
            return (0..<rng.below(maxOps + 1)).map { seq in
                defer { lamport += UInt64(1 + rng.below(3)) }
                let id = ids[rng.below(ids.count)]
                let payload: [UInt8]
                switch rng.below(10) {
                case 0, 1: payload = ObjectStore.Op.delete(id: id).encoded
                case 2, 3:
                    let parent = rng.below(3) == 0 ? nil : ids[rng.below(ids.count)]
                    payload = ObjectStore.Op.setParent(id: id, parent: parent).encoded
                case 4: payload = rng.bytes(rng.below(12))  // malformed: ignored by every replica alike
                default:
                    var fields = [String: FieldValue]()
                    for _ in 0..<rng.below(4) {
                        fields[names[rng.below(names.count)]] = [.null, .bool(rng.below(2) == 0), .int(Int64(rng.below(9)) - 4),
                                                                  .double(Double(rng.below(5)) / 2), .string("s\(rng.below(4))"),
                                                                  .bytes(rng.bytes(rng.below(4)))][rng.below(6)]
                    }
                    payload = ObjectStore.Op.put(id: id, fields: fields).encoded
                }
                return Op(payload: payload, context: EntryContext(feed: feed, seq: UInt64(seq + 1), lamport: lamport))
            }
        }
    }

    /// A random causal order: each feed's ops in order, feeds interleaved at random.
    func causalOrder(_ rng: inout SplitMix64) -> [Op] {
        var next = [Int](repeating: 0, count: feeds.count)
        var out = [Op]()
        out.reserveCapacity(count)
        while out.count < count {
            let open = feeds.indices.filter { next[$0] < feeds[$0].count }
            let f = open[rng.below(open.count)]
            out.append(feeds[f][next[f]])
            next[f] += 1
        }
        return out
    }

    static func apply(_ ops: some Sequence<Op>, to store: inout ObjectStore) {
        for op in ops { _ = store.apply(op.payload, context: op.context) }
    }
}

/// The state root of an object store, computed without compressing or keeping chunks.
func objectRoot(_ store: ObjectStore, builder: SnapshotBuilder<ObjectRecord>) throws -> Hash {
    var sink = RootOnlySink()
    return try builder.build(store.records, metadata: [], into: &sink).stateRoot
}

func children(_ store: ObjectStore, ids: [String]) -> [[String]] {
    ids.map { store.children(of: $0).map(\.id) }
}

@Suite("Snapshot fuzzing (seeded)")
struct FuzzTests {
    @Test("round trip: object records decode, re-encode to the same bytes, and decode equal")
    func recordRoundTrip() throws {
        Fuzz.run("record round trip", stream: 1, count: 40_000) { seed, c in
            var rng = SplitMix64(seed: seed)
            let bytes = Gen0.objectRecord(&rng)
            var reader = ByteReader(bytes)
            do throws(DecodingError) {
                let record = try ObjectStore.decode(&reader, version: ObjectStore.descriptor.version)
                c.check(reader.isAtEnd, "decode reads the whole record")
                let again = Objects.encoded(record)
                c.check(again == bytes, "re-encodes to the same bytes")
                var second = ByteReader(again)
                c.check((try? ObjectStore.decode(&second, version: ObjectStore.descriptor.version)) == record, "decode(encode(record)) == record")
            } catch {
                c.check(false, "a valid encoding failed to decode: \(error)")
            }
        }
    }

    @Test("round trip: damaged record encodings are typed errors or canonical")
    func recordMutations() throws {
        var decoded = 0
        Fuzz.run("record mutations", stream: 2, count: 25_000) { seed, c in
            var rng = SplitMix64(seed: seed)
            let bytes = Gen0.mutate(Gen0.objectRecord(&rng), &rng)
            var reader = ByteReader(bytes)
            // A typed DecodingError is the only way to fail.
            guard let record = try? ObjectStore.decode(&reader, version: ObjectStore.descriptor.version) else { return }
            decoded += 1
            c.check(Objects.encoded(record) == Array(bytes[0..<reader.offset]), "what decodes is canonical")
        }
        #expect(decoded > 1000, "some damaged encodings still decode (\(decoded))")
    }

    @Test("round trip: leaf chunks decode and re-encode to the same bytes; damaged ones are typed errors or canonical")
    func leafChunks() throws {
        let decode = Objects.decode
        Fuzz.run("leaf round trip", stream: 3, count: 6_000) { seed, c in
            var rng = SplitMix64(seed: seed)
            var keys = Set<RecordKey>()
            for _ in 0..<(1 + rng.below(12)) { keys.insert(RecordKey([UInt8(ascii: "o")] + rng.bytes(rng.below(10)))) }
            let records = keys.sorted().map { ($0, Gen0.objectRecord(&rng)) }
            let raw = Reference.leafBytes(records)
            var out = [(RecordKey, ObjectRecord)]()
            do throws(DecodingError) {
                try LeafEncoding.decode(raw, decodeValue: decode, into: &out, after: nil)
            } catch {
                c.check(false, "a valid leaf failed to decode: \(error)")
                return
            }
            c.check(out.map(\.0) == records.map(\.0), "keys survive")
            c.check(Reference.leafBytes(out.map { ($0.0, Objects.encoded($0.1)) }) == raw, "leaf re-encodes to the same bytes")
            // Keys must follow the previous chunk's last key.
            var ignored = [(RecordKey, ObjectRecord)]()
            c.check((try? LeafEncoding.decode(raw, decodeValue: decode, into: &ignored, after: records[0].0)) == nil,
                       "a leaf that does not follow `after` is refused")
        }
        var decoded = 0
        Fuzz.run("leaf mutations", stream: 4, count: 12_000) { seed, c in
            var rng = SplitMix64(seed: seed)
            var keys = Set<RecordKey>()
            for _ in 0..<(1 + rng.below(6)) { keys.insert(RecordKey(rng.bytes(1 + rng.below(4)))) }
            let raw = Gen0.mutate(Reference.leafBytes(keys.sorted().map { ($0, Gen0.objectRecord(&rng)) }), &rng)
            var out = [(RecordKey, ObjectRecord)]()
            guard (try? LeafEncoding.decode(raw, decodeValue: decode, into: &out, after: nil)) != nil else { return }
            decoded += 1
            c.check(Reference.leafBytes(out.map { ($0.0, Objects.encoded($0.1)) }) == raw, "a decodable leaf is canonical")
        }
        #expect(decoded > 100)
    }

    @Test("determinism: random histories applied in random causal orders give one state root")
    func determinism() throws {
        let builder = Objects.builder()
        Fuzz.run("determinism", stream: 5, count: 2_500) { seed, c in
            var rng = SplitMix64(seed: seed)
            let history = History(&rng)
            var first: (root: Hash, records: SortedMap<ObjectRecord>, children: [[String]])?
            let ids = (0..<13).map { "o\($0)" }
            for _ in 0..<3 {
                var store = ObjectStore()
                History.apply(history.causalOrder(&rng), to: &store)
                let root = try objectRoot(store, builder: builder)
                let kids = children(store, ids: ids)
                if let first {
                    c.check(root == first.root, "same state root in another causal order")
                    c.check(store.records == first.records, "same records")
                    c.check(kids == first.children, "same derived child index")
                } else {
                    first = (root, store.records, kids)
                }
            }
        }
    }

    @Test("differential: snapshot at a random cut, load it, apply the tail ≡ replay everything")
    func snapshotPlusTail() throws {
        let builder = Objects.builder()
        var totalOps = 0
        Fuzz.run("snapshot + tail", stream: 6, count: 1_500) { seed, c in
            var rng = SplitMix64(seed: seed)
            let history = History(&rng, maxOps: 20)
            let order = history.causalOrder(&rng)
            totalOps += order.count
            let cut = rng.below(order.count + 1)

            var replay = ObjectStore()
            History.apply(order, to: &replay)
            let expected = try objectRoot(replay, builder: builder)

            var prefix = ObjectStore()
            History.apply(order[..<cut], to: &prefix)
            var chunks = MemoryChunks()
            let metadata = rng.bytes(rng.below(5))
            let built = try builder.build(prefix.records, metadata: metadata, into: &chunks)
            let signed = makeManifest(built, model: Objects.model, version: Objects.version, frontier: Keys.frontier(entries: UInt64(cut + 1)))
            let manifest = try SnapshotManifest(decoding: signed.encoded)
            try manifest.verifySignature()
            let loaded = try SnapshotReader.load(manifest, from: chunks, recordsPerChunk: ObjectStore.recordsPerChunk, workers: 1,
                                                 decodeValue: Objects.decode)
            let map = try #require(SortedMap(sortedRecords: loaded.records))
            var restored = try ObjectStore(records: map)
            c.check(restored.records == prefix.records, "the snapshot holds the prefix state")
            History.apply(order[cut...], to: &restored)
            c.check(restored.records == replay.records, "snapshot + tail has the replayed records")
            let ids = (0..<13).map { "o\($0)" }
            c.check(children(restored, ids: ids) == children(replay, ids: ids), "and the same derived index")

            // The loaded layout seeds an incremental build equal to the full one.
            let changed = SortedMap.changedKeys(from: map, to: restored.records, isEqual: ==)
            let incremental = try builder.build(restored.records, metadata: [], previous: loaded.layout, changed: changed, into: &chunks)
            c.check(incremental.stateRoot == expected, "snapshot + tail ≡ replay (state root)")
            var scratch = DiscardSink()
            let full = try builder.build(restored.records, metadata: [], into: &scratch)
            c.check(incremental.layout.leaves.map(\.id) == full.layout.leaves.map(\.id) && incremental.index.map(\.id) == full.index.map(\.id),
                       "incremental after load equals full")
        }
        #expect(totalOps > 1_500 * 10)
    }

    /// Small snapshots of byte records for the robustness cases.
    static func samples() throws -> [ReaderFixture] {
        try (0..<6).map { try ReaderFixture(count: 30 + $0 * 25, recordsPerChunk: 2 + $0 % 3, seed: 100 + UInt64($0)) }
    }

    @Test("robustness: damaged manifests are typed errors, signature failures, or the original")
    func manifestMutations() throws {
        var rng = SplitMix64(seed: 1)
        let manifests = try Self.samples().map(\.manifest) + (0..<4).map { i in
            var m = try ManifestFixtures.snapshot(count: 1 + i * 7, seed: UInt64(i)).manifest
            m.frontier = Keys.frontier(feeds: i, using: &rng)
            return resigned(m)
        }
        var outcomes = [String: Int]()
        Fuzz.run("manifest mutations", stream: 7, count: 12_000) { seed, c in
            var rng = SplitMix64(seed: seed)
            let original = manifests[rng.below(manifests.count)]
            let bytes = Gen0.mutate(original.encoded, &rng)
            do throws(SnapshotError) {
                let decoded = try SnapshotManifest(decoding: bytes)
                c.check(decoded.encoded == bytes, "a decodable manifest is canonical")
                if bytes == original.encoded {
                    outcomes["unchanged", default: 0] += 1
                } else {
                    let failure = snapshotError { () throws(SnapshotError) in try decoded.verifySignature() }
                    c.check(failure?.code == .badSignature, "a changed manifest fails its signature")
                    outcomes["badSignature", default: 0] += 1
                }
            } catch {
                c.check(["malformed", "inconsistent", "overLimit"].contains(error.code.kind), "unexpected \(error)")
                outcomes[error.code.kind, default: 0] += 1
            }
        }
        #expect(outcomes["malformed", default: 0] > 1000 && outcomes["badSignature", default: 0] > 1000)
    }

    @Test("robustness: damaged chunks, indexes and counts are typed errors or load the same records")
    func chunkMutations() throws {
        let samples = try Self.samples()
        var outcomes = [String: Int]()
        Fuzz.run("chunk mutations", stream: 8, count: 6_000) { seed, c in
            var rng = SplitMix64(seed: seed)
            let f = samples[rng.below(samples.count)]
            var manifest = f.manifest
            var chunks = f.chunks
            let ids = Array(chunks.chunks.keys).sorted()
            let victim = ids[rng.below(ids.count)]
            switch rng.below(7) {
            case 0, 1: chunks.chunks[victim] = Gen0.mutate(chunks.chunks[victim]!, &rng)
            case 2: chunks.chunks[victim] = chunks.chunks[ids[rng.below(ids.count)]]
            case 3: chunks.chunks[victim] = nil
            case 4:
                // Lying index entries, validly signed.
                var specs = f.specs
                let i = rng.below(specs.count)
                switch rng.below(3) {
                case 0: specs[i].rawSize = max(1, specs[i].rawSize + rng.below(5) - 2)
                case 1: specs[i].compressedSize = max(1, specs[i].compressedSize + rng.below(5) - 2)
                default: specs[i].recordCount = max(1, specs[i].recordCount + rng.below(5) - 2)
                }
                (manifest, chunks) = f.forge(specs, groupEnds: f.groupEnds)
            case 5:
                // Damaged index chunk bytes re-signed into the manifest.
                let r = rng.below(manifest.index.count)
                var raw = try f.chunks.raw(manifest.index[r].id)
                raw = Gen0.mutate(raw, &rng)
                if raw.isEmpty { raw = [0] }
                let compressed = try Zstd.compress(raw)
                manifest.index[r].id = Reference.chunkID(raw)
                manifest.index[r].rawSize = raw.count
                manifest.index[r].compressedSize = compressed.count
                chunks.chunks[manifest.index[r].id] = compressed
                manifest = resigned(manifest)
            default:
                // Lying manifest counts and sizes (in memory, never decoded).
                switch rng.below(5) {
                case 0: manifest.recordCount = UInt64(rng.below(Int(manifest.recordCount) * 2 + 2))
                case 1: manifest.leafCount = UInt64(rng.below(Int(manifest.leafCount) * 2 + 2))
                case 2: manifest.index[rng.below(manifest.index.count)].leafCount = rng.below(300)
                case 3: manifest.index[rng.below(manifest.index.count)].rawSize = rng.below(5000)
                default: manifest.index[rng.below(manifest.index.count)].compressedSize = rng.below(5000)
                }
            }
            switch f.load(manifest, chunks, workers: 1 + rng.below(3)) {
            case .success(let records):
                c.check(sameRecords(records, f.records), "a load that succeeds returns the original records")
                outcomes["same records", default: 0] += 1
            case .failure(let error):
                outcomes[error.code.kind, default: 0] += 1
            }
        }
        let errors = outcomes.filter { $0.key != "same records" }.values.reduce(0, +)
        #expect(errors > 5_000, "\(outcomes)")
    }
}
