import SheafCodec
import SheafCollections
import SheafCrypto
import SheafFeedLog
import SheafFeeds
import SheafFiles
import SheafModels
import SheafParallel
import SheafSnapshots

/// Everything a background snapshot needs, captured on the replica's actor
/// in O(1): the state is persistent, so this copy never changes while the
/// replica goes on applying entries.
struct SnapshotJob<M: Model>: Sendable {
    let core: ReplicaCore<M>
    let previous: Replica<M>.LastSnapshot?
    let frontier: Frontier
    let createdAt: UInt64
    let keyPair: KeyPair
    let store: SnapshotStore
    let deliveredAtStart: Int
    let keep: Int
    /// Feed logs to prune after the snapshot, when compaction is on.
    let compact: FeedStore?

    struct Output: @unchecked Sendable {
        var summary: SnapshotSummary
        var last: Replica<M>.LastSnapshot
    }

    /// Encodes the changed chunks into a new pack, commits the manifest, then
    /// retires old snapshots and (optionally) compacts the logs. All of it off
    /// the replica's actor.
    func run() throws -> Output {
        let clock = ContinuousClock()
        let start = clock.now
        let pack = try store.beginPack()
        var sink = pack
        // Leave a core to the writers appending meanwhile.
        let result = try Builder.build(core: core, previous: previous, workers: max(1, Parallel.processorCount - 1), sink: &sink)
        let manifest = SnapshotManifest(space: core.space, model: M.descriptor.name, modelVersion: M.descriptor.version,
                                        content: result.content, frontier: frontier, built: result.built,
                                        createdAt: createdAt, signedBy: keyPair)
        try store.commit(pack, manifest: manifest)
        let written = clock.now - start
        try store.retain(newest: keep)
        if let compact { try Self.compact(compact, keeping: store.manifests) }
        let summary = SnapshotSummary(manifest: manifest, leavesEncoded: result.built.leavesEncoded,
                                      newChunks: result.built.newChunks,
                                      bytesWritten: result.built.newBytes + manifest.encoded.count, duration: written)
        return Output(summary: summary, last: Replica<M>.LastSnapshot(manifest: manifest, layout: result.built.layout,
                                                                       base: .records(result.records)))
    }

    /// Prunes, in every feed, the entries all kept snapshots cover.
    static func compact(_ feeds: FeedStore, keeping kept: [SnapshotManifest]) throws {
        guard !kept.isEmpty else { return }
        for key in Set(kept.flatMap { $0.frontier.feeds }) {
            let covered = kept.map { $0.frontier.seq(of: key) }.min() ?? 0
            guard covered > 0 else { continue }
            try feeds.log(key).prune(through: covered)
        }
    }
}

/// What one snapshot cost.
public struct SnapshotSummary: Sendable {
    public let manifest: SnapshotManifest
    /// Leaf chunks encoded (the rest were reused untouched).
    public let leavesEncoded: Int
    /// Chunks and bytes (compressed chunks plus the manifest) newly written.
    public let newChunks: Int
    public let bytesWritten: Int
    /// Time to build and commit (before retention and compaction).
    public let duration: Duration
}

/// A sink that stores nothing: for computing a state root without writing.
struct DiscardingSink: ChunkSink {
    func storedSize(of id: Hash) -> Int? { 0 }
    mutating func put(id: Hash, rawSize: Int, compressed: [UInt8]) throws(SnapshotError) {}
}

/// Builds snapshot content for any model: its records when it is a
/// `SnapshotModel`, its ops otherwise.
enum Builder {
    struct Result {
        var built: BuiltSnapshot
        var records: Any
        var content: SnapshotContent
    }

    /// Records per chunk for snapshots that carry ops.
    static let opsPerChunk = 32

    static func build<M: Model, Sink: ChunkSink>(core: ReplicaCore<M>, previous: Replica<M>.LastSnapshot?,
                                                 workers: Int = Parallel.processorCount,
                                                 sink: inout Sink) throws(SnapshotError) -> Result {
        let metadata = core.metadata
        if core.keepsOps {
            var builder = SnapshotBuilder<[UInt8]>(model: M.descriptor.name, version: M.descriptor.version,
                                                   codec: opsCodec, recordsPerChunk: opsPerChunk)
            builder.workers = workers
            let built: BuiltSnapshot
            if let previous, case .records(let base) = previous.base, let old = base as? SortedMap<[UInt8]> {
                let changes = SortedMap.changes(from: old, to: core.ops, isEqual: ==)
                built = try builder.build(core.ops, metadata: metadata, previous: previous.layout, changes: changes, into: &sink)
            } else {
                built = try builder.build(core.ops, metadata: metadata, into: &sink)
            }
            return Result(built: built, records: core.ops, content: .entries)
        }
        guard let model = core.model as? any SnapshotModel else {
            throw SnapshotError(.unsupportedModel(M.descriptor.description))
        }
        return try buildNative(model, metadata: metadata, feeds: core.admission.feedTable, previous: previous,
                               workers: workers, sink: &sink)
    }

    private static func buildNative<S: SnapshotModel, Sink: ChunkSink, M: Model>(
        _ model: S, metadata: [UInt8], feeds: FeedTable, previous: Replica<M>.LastSnapshot?, workers: Int, sink: inout Sink
    ) throws(SnapshotError) -> Result {
        var builder = SnapshotBuilder<S.Record>(
            model: S.descriptor.name, version: S.descriptor.version,
            codec: RecordCodec(encode: { record, writer in S.encode(record, into: &writer, feeds: feeds) }, isEqual: { $0 == $1 }),
            recordsPerChunk: S.recordsPerChunk)
        builder.workers = workers
        let changes: KeyChanges? = switch previous?.base {
        case .records(let base): (base as? SortedMap<S.Record>).map { SortedMap.changes(from: $0, to: model.records, isEqual: ==) }
        case .keys(let keys): SortedMap.changes(fromKeys: keys, to: model.records)
        case nil: nil
        }
        let built: BuiltSnapshot
        if let previous, let changes {
            built = try builder.build(model.records, metadata: metadata, previous: previous.layout, changes: changes, into: &sink)
        } else {
            built = try builder.build(model.records, metadata: metadata, into: &sink)
        }
        return Result(built: built, records: model.records, content: .records)
    }

    static let opsCodec = RecordCodec<[UInt8]>(encode: { op, writer in writer.writeLengthPrefixed(op) }, isEqual: { $0 == $1 })
}

/// Loads a stored snapshot into a replica core, checking that it is for this
/// space and model, signed by a trusted key, consistent with the local
/// feeds, and intact down to every chunk.
enum Loader {
    /// Whether `error` says a chunk's stored bytes do not match its content
    /// address (missing, cut, or not hashing to its id): damage no other
    /// build could load past, unlike decoding or version failures.
    static func isDamage(_ error: any Error) -> Bool {
        guard let error = error as? SnapshotError else { return false }
        switch error.code {
        case .compression, .chunkHashMismatch, .missingChunk, .sizeMismatch:
            return true
        default:
            return false
        }
    }

    /// A snapshot as loaded: the core it holds, and the base for the next one.
    struct Loaded<M: Model>: Sendable {
        var core: ReplicaCore<M>
        var last: Replica<M>.LastSnapshot?
    }

    static func load<M: Model>(_ manifest: SnapshotManifest, as model: M.Type, store: some ChunkSource, space: PublicKey, trusted: Set<PublicKey>,
                               logs: [PublicKey: FeedLog]) throws -> Loaded<M> {
        try check(manifest, as: M.self, space: space, trusted: trusted, logs: logs)
        return try decode(manifest, as: M.self, store: store, space: space)
    }

    /// The cheap checks, in the order `load` makes them: the manifest is for
    /// this space and model, signed by a trusted key, and (given the logs)
    /// consistent with the local feeds.
    static func check<M: Model>(_ manifest: SnapshotManifest, as model: M.Type, space: PublicKey, trusted: Set<PublicKey>,
                                logs: [PublicKey: FeedLog]?) throws {
        guard manifest.space == space else { throw SnapshotError(.wrongSpace) }
        guard manifest.model == M.descriptor.name else { throw SnapshotError(.unsupportedModel("\(manifest.model)@\(manifest.modelVersion)")) }
        guard trusted.contains(manifest.signer) else { throw ReplicaError(.wrongSpace("snapshot signed by an untrusted key \(manifest.signer)")) }
        try manifest.verifySignature()
        for (key, anchor) in manifest.frontier.heads {
            guard let log = logs?[key], log.length >= anchor.seq, !log.isPruned(anchor.seq) || log.prunedAnchor?.seq == anchor.seq else { continue }
            let hash = log.prunedAnchor?.seq == anchor.seq ? log.prunedAnchor?.hash : try log.hash(at: anchor.seq)
            guard hash == anchor.hash else {
                throw ReplicaError(.wrongSpace("snapshot disagrees with the local log of \(key) at seq \(anchor.seq)"))
            }
        }
    }

    /// Reads, verifies and decodes the snapshot's content (the costly part).
    static func decode<M: Model>(_ manifest: SnapshotManifest, as model: M.Type, store: some ChunkSource,
                                 space: PublicKey) throws -> Loaded<M> {
        var core = ReplicaCore<M>(space: space)
        do {
            var reader = ByteReader(manifest.metadata)
            core.admission = try Admission(genesis: space, decoding: &reader)
            try reader.expectEnd("metadata")
        } catch { throw SnapshotError(.malformed(error)) }
        core.delivered = manifest.frontier.heads.mapValues(\.seq)
        let sameVersion = manifest.modelVersion == M.descriptor.version

        switch manifest.content {
        case .records:
            guard let type = M.self as? any SnapshotModel.Type else {
                throw SnapshotError(.unsupportedModel("\(M.descriptor) has no record snapshots"))
            }
            let (model, records, layout) = try loadNative(type, manifest, store, feeds: core.admission.feedTable)
            guard let model = model as? M else { throw SnapshotError(.unsupportedModel("\(M.descriptor)")) }
            core.model = model
            // An older encoding's chunks cannot seed incremental snapshots.
            let last = sameVersion ? Replica<M>.LastSnapshot(manifest: manifest, layout: layout, base: .records(records)) : nil
            return Loaded(core: core, last: last)
        case .entries:
            guard core.keepsOps, manifest.modelVersion <= M.descriptor.version else {
                throw SnapshotError(.unsupportedModel("\(manifest.model)@\(manifest.modelVersion)"))
            }
            let (ops, layout) = try SnapshotReader.loadMap(manifest, from: store, recordsPerChunk: Builder.opsPerChunk) {
                (reader: inout ByteReader) throws(DecodingError) -> [UInt8] in
                try reader.readLengthPrefixed("op", limit: FeedLimits.maxPayloadBytes)
            }
            var badKey = false
            ops.forEach { key, op in
                guard let context = ReplicaCore<M>.context(ofOpKey: key) else {
                    badKey = true
                    return false
                }
                _ = core.model.apply(op, context: context)
                return true
            }
            guard !badKey else { throw SnapshotError(.inconsistent("bad op key")) }
            core.ops = ops
            let last = sameVersion ? Replica<M>.LastSnapshot(manifest: manifest, layout: layout, base: .records(ops)) : nil
            return Loaded(core: core, last: last)
        }
    }

    private static func loadNative<S: SnapshotModel>(_ type: S.Type, _ manifest: SnapshotManifest,
                                                     _ store: some ChunkSource, feeds: FeedTable) throws -> (model: Any, records: Any, layout: ChunkLayout) {
        guard S.loadableVersions.contains(manifest.modelVersion) else {
            throw SnapshotError(.unsupportedModel("\(manifest.model)@\(manifest.modelVersion): this build loads versions \(S.loadableVersions)"))
        }
        let version = manifest.modelVersion
        let (map, layout) = try SnapshotReader.loadMap(manifest, from: store, recordsPerChunk: S.recordsPerChunk) {
            (reader: inout ByteReader) throws(DecodingError) -> S.Record in
            try S.decode(&reader, version: version, feeds: feeds)
        }
        return (try S(records: map) as Any, map as Any, layout)
    }
}

/// `<dir>/SPACE` names the space and model a directory holds, so a replica
/// never opens another space's data by mistake.
enum SpaceFile {
    static func check(directory: String, space: PublicKey, model: ModelDescriptor, durable: Bool) throws {
        let path = Path.join(directory, "SPACE")
        let expected = "space=\(space.hex)\nmodel=\(model.name)\n"
        if Directory.exists(path) {
            let bytes: [UInt8]
            do { bytes = try FileDescriptor.readWholeFile(path, limit: 4096) } catch {
                throw ReplicaError(.feedLog(FeedLogError(.io(error))))
            }
            let text = String(decoding: bytes, as: UTF8.self)
            guard text == expected else {
                throw ReplicaError(.wrongSpace("\(directory) holds \(text.split(separator: "\n").joined(separator: ", "))"))
            }
            return
        }
        do { try Directory.writeAtomically(Array(expected.utf8), to: path, durable: durable) } catch {
            throw ReplicaError(.feedLog(FeedLogError(.io(error))))
        }
    }
}
