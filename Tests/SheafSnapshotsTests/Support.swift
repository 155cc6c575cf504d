import CZstd
import SheafCodec
import SheafCollections
import SheafCompression
import SheafCrypto
import SheafFeeds
import SheafFiles
import SheafModels
import SheafSnapshots
import Testing
@_exported import SheafTestSupport
@_exported import SheafRandom

#if canImport(Glibc)
import Glibc
#endif

// MARK: Keys and frontiers

enum Keys {
    /// The key pair whose seed is 32 bytes drawn from `seed`.
    static func keyPair(_ seed: UInt64) -> KeyPair {
        var rng = SplitMix64(seed: seed)
        return KeyPair(seed: rng.bytes(32))!
    }

    static let signer = keyPair(0x5EED_0001)
    static let other = keyPair(0x5EED_0002)
    static let space = keyPair(0x5EED_0003).publicKey

    static func publicKey(_ rng: inout SplitMix64) -> PublicKey { PublicKey(raw: Bytes32(rng.bytes(32))!) }
    static func hash(_ rng: inout SplitMix64) -> Hash { Hash(raw: Bytes32(rng.bytes(32))!) }

    /// A frontier of `feeds` random feeds, each at a random seq.
    static func frontier(feeds: Int, using rng: inout SplitMix64) -> Frontier {
        var heads = [PublicKey: FeedAnchor]()
        for _ in 0..<feeds { heads[publicKey(&rng)] = FeedAnchor(seq: UInt64(rng.below(1000) + 1), hash: hash(&rng)) }
        return Frontier(heads)
    }

    /// A frontier holding `entries` entries of one fixed feed.
    static func frontier(entries: UInt64) -> Frontier {
        var rng = SplitMix64(seed: 77)
        return Frontier([publicKey(&rng): FeedAnchor(seq: entries, hash: hash(&rng))])
    }
}

// MARK: Records

/// Records whose value is a plain byte string.
enum Bytes {
    static let codec = RecordCodec<[UInt8]>(encode: { value, writer in writer.writeRaw(value) }, isEqual: { $0 == $1 })
    static let decode: @Sendable (inout ByteReader) throws(DecodingError) -> [UInt8] = {
        (reader: inout ByteReader) throws(DecodingError) -> [UInt8] in
        Array(try reader.readRaw("value", count: reader.remaining))
    }

    static func builder(recordsPerChunk: Int, model: String = "test.bytes", version: UInt32 = 1) -> SnapshotBuilder<[UInt8]> {
        SnapshotBuilder(model: model, version: version, codec: codec, recordsPerChunk: recordsPerChunk)
    }
}

/// The object store as a `SnapshotModel`, wired the way a replica wires it.
enum Objects {
    static let model = ObjectStore.descriptor.name
    static let version = ObjectStore.descriptor.version
    static let codec = RecordCodec<ObjectRecord>(encode: { record, writer in ObjectStore.encode(record, into: &writer) },
                                                 isEqual: { $0 == $1 })
    static let decode: @Sendable (inout ByteReader) throws(DecodingError) -> ObjectRecord = {
        (reader: inout ByteReader) throws(DecodingError) -> ObjectRecord in
        try ObjectStore.decode(&reader, version: ObjectStore.descriptor.version)
    }

    static func builder() -> SnapshotBuilder<ObjectRecord> {
        SnapshotBuilder(model: model, version: version, codec: codec, recordsPerChunk: ObjectStore.recordsPerChunk)
    }

    static func encoded(_ record: ObjectRecord) -> [UInt8] {
        var writer = ByteWriter()
        ObjectStore.encode(record, into: &writer)
        return writer.bytes
    }
}

// MARK: Chunk sinks and sources

/// Chunks in memory: what a test builds into and loads from.
struct MemoryChunks: ChunkSink, ChunkSource {
    var chunks: [Hash: [UInt8]] = [:]
    var rawSizes: [Hash: Int] = [:]
    /// Chunks `put` although already stored (the builder should never do it).
    var duplicatePuts = 0

    func storedSize(of id: Hash) -> Int? { chunks[id]?.count }

    mutating func put(id: Hash, rawSize: Int, compressed: [UInt8]) throws(SnapshotError) {
        if chunks[id] != nil { duplicatePuts += 1 }
        chunks[id] = compressed
        rawSizes[id] = rawSize
    }

    func compressedChunk(_ id: Hash, limit: Int) throws(SnapshotError) -> [UInt8]? { chunks[id] }

    /// The uncompressed bytes of a stored chunk.
    func raw(_ id: Hash) throws -> [UInt8] {
        let compressed = try #require(chunks[id], "chunk \(id) is not stored")
        return try Zstd.decompress(compressed, maxOutput: SnapshotLimits.maxChunkRawBytes)
    }
}

/// Claims to hold every chunk already, so nothing is compressed: for
/// computing state roots alone (compressed sizes come out as 0).
struct RootOnlySink: ChunkSink {
    func storedSize(of id: Hash) -> Int? { 0 }
    mutating func put(id: Hash, rawSize: Int, compressed: [UInt8]) throws(SnapshotError) {
        Issue.record("a chunk the sink claims to hold was written")
    }
}

/// Stores nothing and claims to hold nothing: every chunk is compressed.
struct DiscardSink: ChunkSink {
    var puts = 0
    func storedSize(of id: Hash) -> Int? { nil }
    mutating func put(id: Hash, rawSize: Int, compressed: [UInt8]) throws(SnapshotError) { puts += 1 }
}

// MARK: The format, re-derived from docs and doc comments

/// The chunk-boundary rules, computed here from the documented definition
/// (BLAKE2b of the key under `sheaf/boundary`, first 8 bytes little-endian),
/// not through the module's internals.
struct Boundaries {
    let recordsPerChunk: Int
    var maxRecords: Int { recordsPerChunk * 8 }

    static func hash(_ key: RecordKey) -> UInt64 {
        let bytes = Hash.of(key.bytes, domain: SnapshotDomains.boundary).raw.bytes
        var value: UInt64 = 0
        for i in (0..<8).reversed() { value = value << 8 | UInt64(bytes[i]) }
        return value
    }

    func isNatural(_ key: RecordKey) -> Bool { Self.hash(key) % UInt64(recordsPerChunk) == 0 }

    func endsGroup(_ key: RecordKey) -> Bool {
        let h = Self.hash(key)
        return h % UInt64(recordsPerChunk) == 0 && (h / UInt64(recordsPerChunk)) % 16 == 0
    }
}

/// One leaf, encoded by hand per the documented layout.
struct ReferenceLeaf {
    var records: [(RecordKey, [UInt8])]
    var raw: [UInt8]
    var id: Hash
    var endsNaturally: Bool
    var endsIndexGroup: Bool

    var firstKey: RecordKey { records[0].0 }
    var lastKey: RecordKey { records[records.count - 1].0 }
}

enum Reference {
    /// `varint n ‖ n × (varint keyLength ‖ key ‖ varint valueLength ‖ value)`.
    static func leafBytes(_ records: [(RecordKey, [UInt8])]) -> [UInt8] {
        var writer = ByteWriter()
        writer.writeVarint(UInt64(records.count))
        for (key, value) in records {
            writer.writeLengthPrefixed(key.bytes)
            writer.writeLengthPrefixed(value)
        }
        return writer.bytes
    }

    static func chunkID(_ raw: [UInt8]) -> Hash { Hash.of(raw, domain: SnapshotDomains.chunk) }

    /// The canonical cut of `records` (ascending, values already encoded).
    static func leaves(_ records: [(RecordKey, [UInt8])], recordsPerChunk: Int) -> [ReferenceLeaf] {
        let rules = Boundaries(recordsPerChunk: recordsPerChunk)
        var out = [ReferenceLeaf]()
        var current = [(RecordKey, [UInt8])]()
        func cut() {
            let last = current[current.count - 1].0
            let raw = leafBytes(current)
            out.append(ReferenceLeaf(records: current, raw: raw, id: chunkID(raw), endsNaturally: rules.isNatural(last),
                                     endsIndexGroup: rules.endsGroup(last)))
            current = []
        }
        for record in records {
            current.append(record)
            if rules.isNatural(record.0) || current.count == rules.maxRecords { cut() }
        }
        if !current.isEmpty { cut() }
        return out
    }

    /// Leaf index ranges of the canonical index chunks.
    static func groups(endsGroup: [Bool]) -> [Range<Int>] {
        var out = [Range<Int>]()
        var start = 0
        for i in endsGroup.indices where endsGroup[i] || i - start + 1 == 256 || i == endsGroup.count - 1 {
            out.append(start..<(i + 1))
            start = i + 1
        }
        return out
    }

    /// `varint n ‖ n × (id ‖ varint rawSize ‖ varint compressedSize ‖ varint recordCount)`.
    static func indexBytes(_ entries: [(id: Hash, rawSize: Int, compressedSize: Int, recordCount: Int)]) -> [UInt8] {
        var writer = ByteWriter()
        writer.writeVarint(UInt64(entries.count))
        for entry in entries {
            entry.id.encode(into: &writer)
            writer.writeVarint(UInt64(entry.rawSize))
            writer.writeVarint(UInt64(entry.compressedSize))
            writer.writeVarint(UInt64(entry.recordCount))
        }
        return writer.bytes
    }

    /// The state root, hashed in one piece (the module streams it).
    static func stateRoot(model: String, version: UInt32, metadata: [UInt8], recordCount: UInt64,
                          leaves: [(id: Hash, rawSize: Int, recordCount: Int)]) -> Hash {
        var writer = ByteWriter()
        writer.writeLengthPrefixed(Array(model.utf8))
        writer.writeUInt32(version)
        Hash.of(metadata, domain: SnapshotDomains.metadata).encode(into: &writer)
        writer.writeVarint(recordCount)
        for leaf in leaves {
            leaf.id.encode(into: &writer)
            writer.writeVarint(UInt64(leaf.rawSize))
            writer.writeVarint(UInt64(leaf.recordCount))
        }
        return Hash.of(writer.bytes, domain: SnapshotDomains.stateRoot)
    }

    /// Encoded records of a map, in key order.
    static func encodedRecords<R>(_ map: SortedMap<R>, _ codec: RecordCodec<R>) -> [(RecordKey, [UInt8])] {
        var out = [(RecordKey, [UInt8])]()
        out.reserveCapacity(map.count)
        map.forEach { key, value in
            var writer = ByteWriter()
            codec.encode(value, &writer)
            out.append((key, writer.bytes))
            return true
        }
        return out
    }
}

// MARK: Honest and forged snapshots

/// A manifest, the chunks it names, and the map it came from.
struct Snapshot<Record: Sendable> {
    var records: SortedMap<Record>
    var built: BuiltSnapshot
    var manifest: SnapshotManifest
    var chunks: MemoryChunks
}

func makeManifest(_ built: BuiltSnapshot, model: String, version: UInt32, frontier: Frontier = Keys.frontier(entries: 1),
                  createdAt: UInt64 = 1_700_000_000_000, key: KeyPair = Keys.signer) -> SnapshotManifest {
    SnapshotManifest(space: Keys.space, model: model, modelVersion: version, content: .records, frontier: frontier,
                     built: built, createdAt: createdAt, signedBy: key)
}

/// Signs `manifest` again (after a test changed it) so only the content checks can catch the change.
func resigned(_ manifest: SnapshotManifest, by key: KeyPair = Keys.signer) -> SnapshotManifest {
    var m = manifest
    m.signer = key.publicKey
    m.signature = key.sign(m.signedBody, domain: SnapshotDomains.manifest)
    return m
}

/// What the index says about one leaf, and the bytes a source serves for it.
struct LeafSpec {
    var id: Hash
    var rawSize: Int
    var compressedSize: Int
    var recordCount: Int
    /// Served under `id`; nil: nothing served.
    var served: [UInt8]?
}

extension LeafSpec {
    /// A leaf holding `records` (values encoded), compressed honestly.
    init(records: [(RecordKey, [UInt8])]) {
        let raw = Reference.leafBytes(records)
        let compressed = try! Zstd.compress(raw)
        self.init(id: Reference.chunkID(raw), rawSize: raw.count, compressedSize: compressed.count, recordCount: records.count,
                  served: compressed)
    }
}

enum Forge {
    /// Writes index chunks for `leaves` grouped as `groups` (canonically when
    /// nil, from the leaves' last keys), and a manifest over them signed by
    /// `Keys.signer`, with counts and the state root computed to match, so
    /// that a reader can only catch what the test broke on purpose.
    /// `template` must list at least one index chunk.
    static func snapshot(leaves: [LeafSpec], groupEnds: [Bool], groups: [Range<Int>]? = nil, template: SnapshotManifest,
                         recordCount: UInt64? = nil, stateRoot: Hash? = nil) -> (manifest: SnapshotManifest, chunks: MemoryChunks) {
        var chunks = MemoryChunks()
        for leaf in leaves { if let served = leaf.served { chunks.chunks[leaf.id] = served } }
        var refs = [IndexChunkRef]()
        var indexBytes = 0
        for group in groups ?? Reference.groups(endsGroup: groupEnds) {
            let raw = Reference.indexBytes(leaves[group].map { ($0.id, $0.rawSize, $0.compressedSize, $0.recordCount) })
            let compressed = try! Zstd.compress(raw)
            let id = Reference.chunkID(raw)
            chunks.chunks[id] = compressed
            // IndexChunkRef has no public initialiser: start from the template's.
            var ref = template.index[0]
            ref.id = id
            ref.rawSize = raw.count
            ref.compressedSize = compressed.count
            ref.leafCount = group.count
            refs.append(ref)
            indexBytes += compressed.count
        }
        var m = template
        let records = recordCount ?? UInt64(leaves.reduce(0) { $0 + $1.recordCount })
        m.index = refs
        m.leafCount = UInt64(leaves.count)
        m.recordCount = records
        m.rawBytes = UInt64(leaves.reduce(0) { $0 + $1.rawSize })
        m.compressedBytes = UInt64(leaves.reduce(0) { $0 + $1.compressedSize } + indexBytes)
        m.stateRoot = stateRoot ?? StateRoot.compute(model: m.model, version: m.modelVersion, metadata: m.metadata, recordCount: records,
                                                     leaves: leaves.map { (id: $0.id, rawSize: $0.rawSize, recordCount: $0.recordCount) })
        return (resigned(m), chunks)
    }

    /// Leaf specs of leaves given by their records, honestly encoded.
    static func specs(_ leaves: [[(RecordKey, [UInt8])]]) -> [LeafSpec] { leaves.map { LeafSpec(records: $0) } }
}

// MARK: Errors

extension SnapshotError.Code {
    /// The case name, for comparisons that ignore associated values.
    var kind: String {
        switch self {
        case .malformed: "malformed"
        case .compression: "compression"
        case .chunkHashMismatch: "chunkHashMismatch"
        case .missingChunk: "missingChunk"
        case .sizeMismatch: "sizeMismatch"
        case .stateRootMismatch: "stateRootMismatch"
        case .badSignature: "badSignature"
        case .wrongSpace: "wrongSpace"
        case .unsupportedModel: "unsupportedModel"
        case .inconsistent: "inconsistent"
        case .frontierRegression: "frontierRegression"
        case .overLimit: "overLimit"
        case .io: "io"
        case .notFound: "notFound"
        case .closed: "closed"
        }
    }

    var decodingError: DecodingError? { if case .malformed(let e) = self { e } else { nil } }
    var compressionError: CompressionError? { if case .compression(let e) = self { e } else { nil } }
    var inconsistency: String? { if case .inconsistent(let why) = self { why } else { nil } }
}

/// The `SnapshotError` that `body` throws, or nil when it succeeds.
func snapshotError<R>(_ body: () throws(SnapshotError) -> R) -> SnapshotError? {
    do {
        _ = try body()
        return nil
    } catch {
        return error
    }
}

/// Loads with the bytes decoder (the reader's only typed failure is `SnapshotError`).
func loadBytes(_ manifest: SnapshotManifest, _ source: some ChunkSource, recordsPerChunk: Int, workers: Int = 2)
    -> Result<[(RecordKey, [UInt8])], SnapshotError> {
    do throws(SnapshotError) {
        return .success(try SnapshotReader.load(manifest, from: source, recordsPerChunk: recordsPerChunk, workers: workers,
                                                decodeValue: Bytes.decode).records)
    } catch {
        return .failure(error)
    }
}

func sameRecords(_ a: [(RecordKey, [UInt8])], _ b: [(RecordKey, [UInt8])]) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
}

// MARK: Key spaces

enum KeySpace {
    /// Key `i` of an ordered family: `prefix ‖ big-endian i`.
    static func key(_ i: Int, prefix: UInt8 = 0x6B, width: Int = 3) -> RecordKey {
        var bytes = [prefix]
        for shift in stride(from: (width - 1) * 8, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: i >> shift)) }
        return RecordKey(bytes)
    }

    /// `count` keys in ascending order, chosen so that the canonical cut has
    /// long runs without a natural boundary (runs longer than the forced
    /// limit) next to ordinary stretches: candidates are scanned in order
    /// and, inside a "long run", natural ones are skipped.
    static func withLongRuns(count: Int, recordsPerChunk: Int, using rng: inout SplitMix64) -> [RecordKey] {
        let rules = Boundaries(recordsPerChunk: recordsPerChunk)
        var keys = [RecordKey]()
        var candidate = 0
        var runLeft = 0
        while keys.count < count {
            if runLeft == 0 && rng.below(3) == 0 { runLeft = rules.maxRecords + 1 + rng.below(rules.maxRecords * 2) }
            let key = Self.key(candidate)
            candidate += 1
            if runLeft > 0 {
                if rules.isNatural(key) { continue }
                runLeft -= 1
            }
            keys.append(key)
        }
        return keys
    }
}

// MARK: Files

/// Peak resident set size of this process, in bytes.
func peakResidentBytes() -> Int {
    var usage = rusage()
    getrusage(__rusage_who_t(truncatingIfNeeded: RUSAGE_SELF.rawValue), &usage)
    return usage.ru_maxrss * 1024
}

// MARK: zstd frames made by hand

enum Frames {
    /// A frame of raw (stored) blocks that declares its content size: its
    /// size is `13 + n + 3 × blocks`, whatever the content.
    static func stored(_ content: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0x28, 0xB5, 0x2F, 0xFD, 0xE0]  // magic; single segment, 8-byte content size
        var size = UInt64(content.count)
        for _ in 0..<8 { out.append(UInt8(truncatingIfNeeded: size)); size >>= 8 }
        var offset = 0
        repeat {
            let n = min(128 << 10, content.count - offset)
            let last: UInt32 = offset + n == content.count ? 1 : 0
            let header = UInt32(n) << 3 | last  // block type 0: raw
            out += [UInt8(truncatingIfNeeded: header), UInt8(truncatingIfNeeded: header >> 8), UInt8(truncatingIfNeeded: header >> 16)]
            out += content[offset..<(offset + n)]
            offset += n
        } while offset < content.count
        return out
    }

    /// `total` zero bytes compressed with zstd's streaming API from a 1 MiB
    /// buffer fed again and again; with `pledged` false the header declares
    /// no size (only streaming limits can stop it), with `pledged` true it
    /// declares the full size.
    static func zeroBomb(total: Int, pledged: Bool) throws -> [UInt8] {
        let cctx = try #require(ZSTD_createCCtx())
        defer { ZSTD_freeCCtx(cctx) }
        try #require(ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, 1)) == 0)
        if pledged { try #require(ZSTD_isError(ZSTD_CCtx_setPledgedSrcSize(cctx, UInt64(total))) == 0) }
        let zeros = [UInt8](repeating: 0, count: 1 << 20)
        var output = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: ZSTD_CStreamOutSize())
        func step(_ input: inout ZSTD_inBuffer, _ directive: ZSTD_EndDirective) throws -> Int {
            let remaining: Int = buffer.withUnsafeMutableBytes { dst in
                var out = ZSTD_outBuffer(dst: dst.baseAddress, size: dst.count, pos: 0)
                let r = ZSTD_compressStream2(cctx, &out, &input, directive)
                output += dst[0..<out.pos]
                return r
            }
            try #require(ZSTD_isError(remaining) == 0, "ZSTD_compressStream2 failed")
            return remaining
        }
        try zeros.withUnsafeBytes { raw in
            var fed = 0
            while fed < total {
                let n = min(raw.count, total - fed)
                var input = ZSTD_inBuffer(src: raw.baseAddress, size: n, pos: 0)
                while input.pos < input.size { _ = try step(&input, ZSTD_e_continue) }
                fed += n
            }
        }
        var empty = ZSTD_inBuffer(src: nil, size: 0, pos: 0)
        while try step(&empty, ZSTD_e_end) != 0 {}
        return output
    }

    /// The content size a frame declares, nil when none.
    static func declaredSize(_ frame: [UInt8]) -> UInt64? {
        let size = frame.withUnsafeBytes { ZSTD_getFrameContentSize($0.baseAddress, $0.count) }
        return size == ZSTD_CONTENTSIZE_UNKNOWN ? nil : size
    }
}
