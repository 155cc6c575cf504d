import SheafCodec
import SheafCollections
import SheafCrypto
import SheafModels
import Testing

/// A minimal snapshot model relying on the protocol's defaults.
private struct DefaultsModel: SnapshotModel {
    static let descriptor = ModelDescriptor(name: "test.defaults", version: 7)
    var records = SortedMap<Int64>()
    init() {}
    init(records: SortedMap<Int64>) throws(ModelError) { self.records = records }
    mutating func apply(_ op: [UInt8], context: EntryContext) -> ApplyOutcome { .ignored(reason: "none") }
    static func encode(_ record: Int64, into writer: inout ByteWriter) { writer.writeUInt64(UInt64(bitPattern: record)) }
    static func decode(_ reader: inout ByteReader, version: UInt32) throws(DecodingError) -> Int64 {
        Int64(bitPattern: try reader.readUInt64("value"))
    }
}

/// One that widens `loadableVersions` and sets its own chunk density.
private struct WidenedModel: SnapshotModel {
    static let descriptor = ModelDescriptor(name: "test.widened", version: 3)
    static let loadableVersions: ClosedRange<UInt32> = 1...3
    static let recordsPerChunk = 5
    var records = SortedMap<Int64>()
    init() {}
    init(records: SortedMap<Int64>) throws(ModelError) { self.records = records }
    mutating func apply(_ op: [UInt8], context: EntryContext) -> ApplyOutcome { .ignored(reason: "none") }
    static func encode(_ record: Int64, into writer: inout ByteWriter) {}
    static func decode(_ reader: inout ByteReader, version: UInt32) throws(DecodingError) -> Int64 { 0 }
}

/// Reads the protocol requirements through a generic, as the replica does,
/// so a default and an override resolve the way callers will see them.
private func chunkDensity<M: SnapshotModel>(_: M.Type) -> Int { M.recordsPerChunk }
private func loadable<M: SnapshotModel>(_: M.Type) -> ClosedRange<UInt32> { M.loadableVersions }
private func descriptor<M: Model>(_: M.Type) -> ModelDescriptor { M.descriptor }

@Suite("Model descriptors")
struct DescriptorTests {
    @Test("built-in models: names, versions, chunk densities (docs/FORMATS.md), loadable versions")
    func builtIns() {
        #expect(descriptor(ObjectStore.self) == ModelDescriptor(name: "sheaf.objects", version: 2))
        #expect(descriptor(Counters.self) == ModelDescriptor(name: "sheaf.counters", version: 1))
        #expect(descriptor(Timeline.self) == ModelDescriptor(name: "sheaf.timeline", version: 1))
        #expect(Set([ObjectStore.descriptor.name, Counters.descriptor.name, Timeline.descriptor.name]).count == 3)
        #expect(chunkDensity(ObjectStore.self) == 8)
        #expect(chunkDensity(Counters.self) == 64)
        #expect(chunkDensity(Timeline.self) == 32)
        #expect(loadable(ObjectStore.self) == 1...2)
        #expect(loadable(Counters.self) == 1...1)
        #expect(loadable(Timeline.self) == 1...1)
        #expect(ObjectStore.descriptor.description == "sheaf.objects@2")
    }

    @Test("protocol defaults: loadable versions = the current one; 16 records per chunk; overrides win")
    func defaults() {
        #expect(loadable(DefaultsModel.self) == 7...7)
        #expect(chunkDensity(DefaultsModel.self) == 16)
        #expect(loadable(WidenedModel.self) == 1...3)
        #expect(chunkDensity(WidenedModel.self) == 5)
        #expect(DefaultsModel.descriptor.description == "test.defaults@7")
    }

    @Test("descriptors compare by name and version")
    func equality() {
        let a = ModelDescriptor(name: "m", version: 1)
        #expect(a == ModelDescriptor(name: "m", version: 1))
        #expect(a != ModelDescriptor(name: "m", version: 2))
        #expect(a != ModelDescriptor(name: "n", version: 1))
        #expect(Set([a, ModelDescriptor(name: "m", version: 1), ModelDescriptor(name: "m", version: 2)]).count == 2)
        // Names up to 64 bytes are accepted.
        #expect(ModelDescriptor(name: String(repeating: "x", count: 64), version: 0).name.utf8.count == 64)
    }

    @Test("stamps order by Lamport time, then by feed key bytes")
    func stampOrder() {
        let feeds = Writers.all
        for a in feeds {
            for b in feeds {
                for (la, lb) in [(1, 1), (1, 2), (2, 1), (UInt64.max, 1)] as [(UInt64, UInt64)] {
                    let x = Stamp(lamport: la, feed: a)
                    let y = Stamp(lamport: lb, feed: b)
                    #expect((x < y) == referenceStampLess(x, y))
                    #expect((x == y) == (la == lb && a == b))
                }
            }
        }
        #expect(Stamp.zero < Stamp(lamport: 1, feed: Stamp.zero.feed))
        #expect(Stamp.zero < Stamp(lamport: 0, feed: Writers.alice))
        #expect(context(Writers.bob, seq: 4, lamport: 9).stamp == Stamp(lamport: 9, feed: Writers.bob))
    }
}
