import SheafCodec
import SheafCompression
import SheafCrypto
import SheafFeeds
import SheafFiles
import Synchronization

/// Snapshots of one space on disk: chunks in immutable pack files shared
/// between snapshots, signed manifests, and attestations.
///
/// ```
/// <dir>/packs/<20-digit number>.pack     chunks, with an index footer
/// <dir>/manifests/<manifest id>.manifest written atomically after its pack is durable
/// <dir>/attestations/<state root>.<signer>
/// ```
/// A snapshot becomes visible only when its manifest is written, after
/// every chunk it needs is synced; a crash between the two leaves an
/// unreferenced pack that `collectGarbage` removes. Nothing is read without
/// being checked: chunks by hash when loaded, manifests by signature.
public final class SnapshotStore: Sendable {
    public let directory: String
    public let durability: Durability
    private let pool = DescriptorPool(capacity: 16)
    private let state: Mutex<State>

    struct ChunkLocation: Hashable {
        var pack: UInt64
        var offset: UInt64
        var compressedSize: Int
        var rawSize: Int
    }

    struct State {
        var chunks: [Hash: ChunkLocation] = [:]
        var packs: [UInt64: PackInfo] = [:]
        var nextPack: UInt64 = 1
        var manifests: [Hash: SnapshotManifest] = [:]
        var closed = false
    }

    struct PackInfo {
        var path: String
        var chunks: [Hash]
        var bytes: UInt64
    }

    var packsDirectory: String { Path.join(directory, "packs") }
    var manifestsDirectory: String { Path.join(directory, "manifests") }
    var attestationsDirectory: String { Path.join(directory, "attestations") }

    /// What opening the store found wrong and dropped (incomplete packs,
    /// unreadable manifests); the snapshots left are intact.
    public let openReport: [String]

    public init(directory: String, durability: Durability = .fsync) throws(SnapshotError) {
        self.directory = directory
        self.durability = durability
        var state = State()
        var report = [String]()
        do {
            for dir in [Path.join(directory, "packs"), Path.join(directory, "manifests"), Path.join(directory, "attestations")] {
                try Directory.create(dir, durable: durability == .fsync)
            }
            let packNames = try Directory.list(Path.join(directory, "packs"))
            let newest = packNames.compactMap { $0.hasSuffix(".pack") ? UInt64($0.dropLast(5)) : nil }.max()
            for name in packNames {
                let path = Path.join(Path.join(directory, "packs"), name)
                guard name.hasSuffix(".pack"), let number = UInt64(name.dropLast(5)) else {
                    if name.hasSuffix(".tmp") { try Directory.removeFile(path) }
                    continue
                }
                state.nextPack = max(state.nextPack, number + 1)
                let entries: [PackFormat.Entry]
                do {
                    entries = try PackFormat.readFooter(path: path)
                } catch let error as FileError {
                    // Unreadable is not the same as damaged: refuse to guess.
                    throw error
                } catch {
                    if number == newest {
                        // The newest pack without a footer was being written
                        // when the process stopped: its snapshot never existed.
                        report.append("removed incomplete pack \(name) (\(error))")
                        try Directory.removeFile(path)
                    } else {
                        // An older one was complete once: keep it for inspection.
                        report.append("set aside damaged pack \(name) as \(name).damaged (\(error))")
                        try Directory.rename(path, to: path + ".damaged")
                    }
                    continue
                }
                var bytes: UInt64 = 0
                for entry in entries {
                    state.chunks[entry.id] = ChunkLocation(pack: number, offset: entry.offset,
                                                           compressedSize: entry.compressedSize, rawSize: entry.rawSize)
                    bytes += UInt64(entry.compressedSize)
                }
                state.packs[number] = PackInfo(path: path, chunks: entries.map(\.id), bytes: bytes)
            }
            for dir in [Path.join(directory, "manifests"), Path.join(directory, "attestations")] {
                for name in try Directory.list(dir) where name.hasSuffix(".tmp") {
                    try Directory.removeFile(Path.join(dir, name))  // an interrupted atomic write
                }
            }
            for name in try Directory.list(Path.join(directory, "manifests")) where name.hasSuffix(".manifest") {
                let path = Path.join(Path.join(directory, "manifests"), name)
                do {
                    let manifest = try SnapshotManifest(decoding: try FileDescriptor.readWholeFile(path, limit: SnapshotLimits.maxManifestBytes))
                    guard manifest.id.hex + ".manifest" == name else { throw SnapshotError(.inconsistent("file name")) }
                    state.manifests[manifest.id] = manifest
                } catch {
                    report.append("ignored unreadable manifest \(name): \(error)")
                }
            }
        } catch let error as FileError {
            throw SnapshotError(.io(error))
        } catch let error as SnapshotError {
            throw error
        } catch {
            throw SnapshotError(.inconsistent("\(error)"))
        }
        self.state = Mutex(state)
        openReport = report
    }

    // MARK: Manifests

    /// Stored manifests, newest first (most entries, then latest creation).
    public var manifests: [SnapshotManifest] {
        state.withLock { Array($0.manifests.values) }.sorted(by: Self.newerFirst)
    }

    static func newerFirst(_ a: SnapshotManifest, _ b: SnapshotManifest) -> Bool {
        let ea = a.frontier.entryCount, eb = b.frontier.entryCount
        if ea != eb { return ea > eb }
        if a.createdAt != b.createdAt { return a.createdAt > b.createdAt }
        return a.id < b.id
    }

    /// The ids of the stored manifests (kept as keys: no manifest is hashed).
    public var manifestIDs: Set<Hash> { state.withLock { Set($0.manifests.keys) } }

    public func manifest(_ id: Hash) -> SnapshotManifest? { state.withLock { $0.manifests[id] } }

    /// Removes a manifest; its chunks go at the next `collectGarbage`.
    public func deleteManifest(_ id: Hash) throws(SnapshotError) {
        state.withLock { _ = $0.manifests.removeValue(forKey: id) }
        do { try Directory.removeFile(Path.join(manifestsDirectory, id.hex + ".manifest")) } catch {
            throw SnapshotError(.io(error))
        }
    }

    /// Keeps the newest `count` snapshots, deletes the rest, collects garbage.
    @discardableResult
    public func retain(newest count: Int) throws(SnapshotError) -> GarbageReport {
        for manifest in manifests.dropFirst(max(0, count)) { try deleteManifest(manifest.id) }
        return try collectGarbage()
    }

    // MARK: Writing

    /// Starts a pack for a new snapshot's chunks.
    public func beginPack() throws(SnapshotError) -> PackWriter {
        let number: UInt64 = try state.withLock { state throws(SnapshotError) in
            if state.closed { throw SnapshotError(.closed) }
            defer { state.nextPack += 1 }
            return state.nextPack
        }
        let path = Path.join(packsDirectory, Self.packName(number))
        do {
            return try PackWriter(store: self, number: number, path: path)
        } catch { throw SnapshotError(.io(error)) }
    }

    static func packName(_ number: UInt64) -> String {
        let digits = String(number)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits + ".pack"
    }

    /// Makes a snapshot durable: finishes its pack (data, footer, fsync),
    /// then writes its manifest atomically. Only then is it visible.
    public func commit(_ pack: PackWriter, manifest: SnapshotManifest) throws(SnapshotError) {
        let number = pack.number
        let path = pack.path
        let entries: [PackFormat.Entry]
        do { entries = try pack.finish(durable: durability == .fsync) } catch { throw SnapshotError(.io(error)) }
        registerPack(number: number, path: path, entries: entries)
        // A snapshot that added no chunk leaves an empty pack no one would collect.
        if entries.isEmpty { try? Directory.removeFile(path) }
        do {
            try Directory.writeAtomically(manifest.encoded, to: Path.join(manifestsDirectory, manifest.id.hex + ".manifest"),
                                          durable: durability == .fsync)
        } catch { throw SnapshotError(.io(error)) }
        state.withLock { $0.manifests[manifest.id] = manifest }
    }

    func registerPack(number: UInt64, path: String, entries: [PackFormat.Entry]) {
        guard !entries.isEmpty else { return }
        state.withLock { state in
            var bytes: UInt64 = 0
            for entry in entries {
                state.chunks[entry.id] = ChunkLocation(pack: number, offset: entry.offset,
                                                       compressedSize: entry.compressedSize, rawSize: entry.rawSize)
                bytes += UInt64(entry.compressedSize)
            }
            state.packs[number] = PackInfo(path: path, chunks: entries.map(\.id), bytes: bytes)
        }
    }

    // MARK: Chunks

    public func contains(_ id: Hash) -> Bool { state.withLock { $0.chunks[id] != nil } }

    func location(_ id: Hash) -> ChunkLocation? { state.withLock { $0.chunks[id] } }

    /// Distinct chunks and their compressed bytes.
    public var chunkStats: (chunks: Int, bytes: UInt64, packs: Int) {
        state.withLock { s in (s.chunks.count, s.packs.values.reduce(0) { $0 + $1.bytes }, s.packs.count) }
    }

    func packPath(_ number: UInt64) -> String? { state.withLock { $0.packs[number]?.path } }

    // MARK: Attestations

    public func save(_ attestation: Attestation) throws(SnapshotError) {
        try attestation.verify()
        let name = attestation.stateRoot.hex + "." + attestation.signer.hex
        do {
            try Directory.writeAtomically(attestation.encoded, to: Path.join(attestationsDirectory, name), durable: durability == .fsync)
        } catch { throw SnapshotError(.io(error)) }
    }

    /// Verified attestations of `stateRoot`, one per signer.
    public func attestations(of stateRoot: Hash) -> [Attestation] {
        guard let names = try? Directory.list(attestationsDirectory) else { return [] }
        // Not the temporary file of an interrupted save: that would count its signer twice.
        return names.filter { $0.hasPrefix(stateRoot.hex + ".") && !$0.hasSuffix(".tmp") }.compactMap { name in
            guard let bytes = try? FileDescriptor.readWholeFile(Path.join(attestationsDirectory, name), limit: 1 << 20),
                  let attestation = try? Attestation(decoding: bytes), (try? attestation.verify()) != nil,
                  attestation.stateRoot == stateRoot
            else { return nil }
            return attestation
        }
    }

    // MARK: Garbage

    public struct GarbageReport: Hashable, Sendable {
        public var packsDeleted = 0
        public var packsRewritten = 0
        public var chunksFreed = 0
        public var bytesFreed: UInt64 = 0
    }

    /// Deletes chunks no stored manifest needs: packs with no live chunk
    /// are removed; packs less than half live are rewritten without the dead.
    @discardableResult
    public func collectGarbage() throws(SnapshotError) -> GarbageReport {
        var live = Set<Hash>()
        let decompressor = Zstd.Decompressor()
        for manifest in manifests {
            for ref in manifest.index {
                live.insert(ref.id)
                // Index chunks name the leaves. One we cannot read makes its
                // snapshot unloadable anyway; its leaves are then left alone
                // only if another manifest names them.
                guard let raw = try? SnapshotReader.fetch(ref.id, rawSize: ref.rawSize, compressedSize: ref.compressedSize, from: self,
                                                         decompressor: decompressor),
                      let entries = try? IndexEntry.decode(raw) else { continue }
                for entry in entries { live.insert(entry.id) }
            }
        }
        var report = GarbageReport()
        let packs = state.withLock { $0.packs }
        for (number, pack) in packs.sorted(by: { $0.key < $1.key }) {
            let liveChunks = pack.chunks.filter { live.contains($0) }
            if liveChunks.count == pack.chunks.count { continue }
            let liveBytes = liveChunks.reduce(UInt64(0)) { $0 + UInt64(location($1)?.compressedSize ?? 0) }
            if !liveChunks.isEmpty && liveBytes * 2 >= pack.bytes { continue }
            if !liveChunks.isEmpty {
                let writer = try beginPack()
                for id in liveChunks {
                    guard let loc = location(id), let bytes = try compressedChunk(id, limit: loc.compressedSize) else { continue }
                    try writer.put(id: id, rawSize: loc.rawSize, compressed: bytes)
                }
                let newNumber = writer.number
                let newPath = writer.path
                let entries: [PackFormat.Entry]
                do { entries = try writer.finish(durable: durability == .fsync) } catch { throw SnapshotError(.io(error)) }
                registerPack(number: newNumber, path: newPath, entries: entries)
                report.packsRewritten += 1
            } else {
                report.packsDeleted += 1
            }
            state.withLock { state in
                for id in pack.chunks where state.chunks[id]?.pack == number { state.chunks[id] = nil }
                state.packs[number] = nil
            }
            report.chunksFreed += pack.chunks.count - liveChunks.count
            report.bytesFreed += pack.bytes - liveBytes
            pool.evict(pack.path)
            do { try Directory.removeFile(pack.path) } catch { throw SnapshotError(.io(error)) }
        }
        if durability == .fsync, report.packsDeleted + report.packsRewritten > 0 {
            do { try Directory.sync(packsDirectory) } catch { throw SnapshotError(.io(error)) }
        }
        return report
    }

    /// Deletes every file of the store. The store cannot be used afterwards.
    public func drop() throws(SnapshotError) {
        state.withLock { state in
            state.closed = true
            state.chunks = [:]
            state.packs = [:]
            state.manifests = [:]
        }
        pool.closeAll()
        do { try Directory.removeTree(directory) } catch { throw SnapshotError(.io(error)) }
    }

    public func close() {
        state.withLock { $0.closed = true }
        pool.closeAll()
    }
}

extension SnapshotStore: ChunkSource {
    /// Reads chunks that sit close together in one pack with one read.
    public func compressedChunks(_ requests: [(id: Hash, limit: Int)]) throws(SnapshotError) -> [[UInt8]?] {
        var out = [[UInt8]?](repeating: nil, count: requests.count)
        var located: [(index: Int, location: ChunkLocation)] = []
        for (i, request) in requests.enumerated() {
            guard let loc = location(request.id) else { continue }
            guard loc.compressedSize <= request.limit else {
                throw SnapshotError(.sizeMismatch(id: request.id.hex, expected: request.limit, actual: loc.compressedSize))
            }
            located.append((i, loc))
        }
        located.sort { ($0.location.pack, $0.location.offset) < ($1.location.pack, $1.location.offset) }
        var start = 0
        while start < located.count {
            // Extend the span while the gaps stay small.
            var end = start + 1
            let pack = located[start].location.pack
            var spanEnd = located[start].location.offset + UInt64(located[start].location.compressedSize)
            while end < located.count, located[end].location.pack == pack,
                  located[end].location.offset <= spanEnd + 4096,
                  located[end].location.offset + UInt64(located[end].location.compressedSize) - located[start].location.offset <= 8 << 20 {
                spanEnd = max(spanEnd, located[end].location.offset + UInt64(located[end].location.compressedSize))
                end += 1
            }
            guard let path = packPath(pack) else { start = end; continue }
            let base = located[start].location.offset
            let bytes: [UInt8]
            do {
                bytes = try pool.withDescriptor(path) { fd throws(FileError) in try fd.read(at: base, count: Int(spanEnd - base)) }
            } catch { throw SnapshotError(.io(error)) }
            for item in located[start..<end] {
                let from = Int(item.location.offset - base)
                let to = from + item.location.compressedSize
                out[item.index] = to <= bytes.count ? Array(bytes[from..<to]) : nil
            }
            start = end
        }
        return out
    }

    public func compressedChunk(_ id: Hash, limit: Int) throws(SnapshotError) -> [UInt8]? {
        guard let loc = location(id), let path = packPath(loc.pack) else { return nil }
        guard loc.compressedSize <= limit else {
            throw SnapshotError(.sizeMismatch(id: id.hex, expected: limit, actual: loc.compressedSize))
        }
        do {
            return try pool.withDescriptor(path) { fd throws(FileError) in try fd.read(at: loc.offset, count: loc.compressedSize) }
        } catch { throw SnapshotError(.io(error)) }
    }
}

/// Writes one pack: chunks appended as they are built, then a footer.
public final class PackWriter: ChunkSink {
    let store: SnapshotStore
    let number: UInt64
    let path: String
    private let fd: FileDescriptor
    private var offset: UInt64
    private var buffer = ByteWriter(capacity: 1 << 20)
    private var entries: [PackFormat.Entry] = []
    private var ids = [Hash: Int]()
    private var finished = false

    init(store: SnapshotStore, number: UInt64, path: String) throws(FileError) {
        self.store = store
        self.number = number
        self.path = path
        fd = try FileDescriptor.open(path, .readWriteCreate)
        try fd.truncate(to: 0)
        PackFormat.writeHeader(into: &buffer)
        offset = 0
    }

    /// A pack dropped before `commit` is deleted: its snapshot never existed.
    deinit {
        if !finished {
            fd.close()
            try? Directory.removeFile(path)
        }
    }

    public var chunkCount: Int { entries.count }
    public var bytesWritten: UInt64 { offset + UInt64(buffer.count) }

    public func storedSize(of id: Hash) -> Int? {
        if let i = ids[id] { return entries[i].compressedSize }
        return store.location(id)?.compressedSize
    }

    public func put(id: Hash, rawSize: Int, compressed: [UInt8]) throws(SnapshotError) {
        guard ids[id] == nil else { return }
        id.encode(into: &buffer)
        buffer.writeUInt32(UInt32(rawSize))
        buffer.writeUInt32(UInt32(compressed.count))
        let dataOffset = offset + UInt64(buffer.count)
        buffer.writeRaw(compressed)
        ids[id] = entries.count
        entries.append(PackFormat.Entry(id: id, offset: dataOffset, compressedSize: compressed.count, rawSize: rawSize))
        if buffer.count >= 1 << 20 {
            do { try flush() } catch { throw SnapshotError(.io(error)) }
        }
    }

    private func flush() throws(FileError) {
        guard buffer.count > 0 else { return }
        try fd.write(buffer.bytes, at: offset)
        offset += UInt64(buffer.count)
        buffer.removeAll()
    }

    /// Writes the footer and syncs; returns what the pack holds.
    func finish(durable: Bool) throws(FileError) -> [PackFormat.Entry] {
        PackFormat.writeFooter(entries, footerStart: offset + UInt64(buffer.count), into: &buffer)
        try flush()
        if durable {
            try fd.sync()
            try Directory.sync(Path.parent(path))
        }
        fd.close()
        finished = true
        return entries
    }
}

/// Byte layout of a pack file (docs/FORMATS.md).
enum PackFormat {
    static let magic = Array("sheafpak".utf8)
    static let endMagic = Array("sheafend".utf8)
    static let tailSize = 20

    struct Entry: Hashable {
        var id: Hash
        var offset: UInt64
        var compressedSize: Int
        var rawSize: Int
    }

    static func writeHeader(into writer: inout ByteWriter) {
        writer.writeRaw(magic)
        writer.writeUInt32(1)
        writer.writeUInt32(0)
    }

    /// `u32 n ‖ n × (id ‖ u64 offset ‖ u32 compressed ‖ u32 raw) ‖ u64 footer start ‖ u32 crc ‖ "sheafend"`.
    static func writeFooter(_ entries: [Entry], footerStart: UInt64, into writer: inout ByteWriter) {
        let start = writer.count
        writer.writeUInt32(UInt32(entries.count))
        for entry in entries {
            entry.id.encode(into: &writer)
            writer.writeUInt64(entry.offset)
            writer.writeUInt32(UInt32(entry.compressedSize))
            writer.writeUInt32(UInt32(entry.rawSize))
        }
        writer.writeUInt64(footerStart)
        let crc = writer.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[start...])) }
        writer.writeUInt32(crc)
        writer.writeRaw(endMagic)
    }

    static func readFooter(path: String) throws -> [Entry] {
        let fd = try FileDescriptor.open(path, .readOnly)
        defer { fd.close() }
        let size = try fd.size()
        guard size >= UInt64(16 + 4 + tailSize) else { throw SnapshotError(.inconsistent("pack too short")) }
        let tail = try fd.read(at: size - UInt64(tailSize), count: tailSize)
        guard Array(tail[12...]) == endMagic else { throw SnapshotError(.inconsistent("pack has no footer")) }
        let footerStart = tail.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard footerStart >= 16, footerStart <= size - UInt64(tailSize + 4) else { throw SnapshotError(.inconsistent("pack footer offset")) }
        let footer = try fd.read(at: footerStart, count: Int(size - footerStart))
        let stored = footer.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: footer.count - 12, as: UInt32.self)) }
        let crc = footer.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[0..<(footer.count - 12)])) }
        guard crc == stored else { throw SnapshotError(.inconsistent("pack footer checksum")) }
        var reader = ByteReader(footer, range: 0..<(footer.count - 20))
        let count = Int(try reader.readUInt32("pack.count"))
        guard count <= reader.remaining / 48 else { throw SnapshotError(.inconsistent("pack footer count")) }
        var entries = [Entry]()
        entries.reserveCapacity(count)
        for _ in 0..<count {
            let id = try Hash(from: &reader)
            let offset = try reader.readUInt64("pack.offset")
            let compressed = Int(try reader.readUInt32("pack.compressed"))
            let raw = Int(try reader.readUInt32("pack.raw"))
            guard offset <= footerStart, UInt64(compressed) <= footerStart - offset else {
                throw SnapshotError(.inconsistent("pack entry outside data"))
            }
            entries.append(Entry(id: id, offset: offset, compressedSize: compressed, rawSize: raw))
        }
        try reader.expectEnd("pack.footer")
        return entries
    }
}
