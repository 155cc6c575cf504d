import Logging
import SheafCrypto
import SheafFeeds
import SheafFiles
import SheafModels
@testable import SheafReplica
import SheafSnapshots
import Synchronization
import Testing

/// A two-writer space: genesis G with 150 objects, admitted writer B with 60
/// more entries. Returns the two replicas, open.
func twoWriterSpace(_ dir: String, g: KeyPair, b: KeyPair, options: ReplicaOptions = fastOptions())
    async throws -> (genesis: Replica<ObjectStore>, writer: Replica<ObjectStore>) {
    let genesis = try await openReplica(ObjectStore.self, Path.join(dir, "g"), space: g.publicKey, identity: g, options: options)
    let writer = try await openReplica(ObjectStore.self, Path.join(dir, "b"), space: g.publicKey, identity: b, options: options)
    try await genesis.admit(b.publicKey)
    try await fillObjects(genesis, count: 150, perBatch: 10)
    try await transfer(g.publicKey, from: genesis, to: writer)
    for i in 0..<60 { try await writer.append(put("obj-\(i * 2)", ["b": .int(Int64(i))])) }
    try await transfer(b.publicKey, from: writer, to: genesis)
    return (genesis, writer)
}

/// Opens a copy of `directory` without its snapshots: a full replay.
func fullReplayRoot<M: Model>(_ type: M.Type, of directory: String, space: PublicKey, identity: KeyPair,
                              scratch: String) async throws -> (root: Hash, startup: StartupReport) {
    try RawFile.copyTree(directory, to: scratch)
    try Directory.removeTree(Path.join(scratch, "snapshots"))
    let replica = try await openReplica(M.self, scratch, space: space, identity: identity)
    let result = (try await replica.stateRoot(), await replica.startup)
    await replica.close()
    return result
}

/// Pack files of a replica's snapshot store, oldest first.
func packFiles(_ dir: String) throws -> [String] {
    try Directory.list(Path.join(dir, "snapshots/packs")).filter { $0.hasSuffix(".pack") }.sorted()
        .map { Path.join(Path.join(dir, "snapshots/packs"), $0) }
}

/// A log handler that keeps every message.
final class CapturingLogHandler: LogHandler, @unchecked Sendable {
    let lines = Mutex<[String]>([])
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(event: LogEvent) {
        let text = "\(event.level) \(event.message) \(event.metadata.map { "\($0)" } ?? "")"
        lines.withLock { $0.append(text) }
    }
}

/// Item 5: restart from snapshot + tail.
@Suite struct RestartTests {
    /// Invariant 2: snapshot + tail ≡ full replay.
    @Test func restartFromSnapshotPlusTailEqualsFullReplay() async throws {
        try await withTemporaryDirectory { dir in
            let g = testKeyPair(90), b = testKeyPair(91)
            let pair = try await twoWriterSpace(dir, g: g, b: b)
            var genesis = pair.genesis
            let writer = pair.writer
            let snapshot = try await genesis.snapshotNow().manifest
            #expect(snapshot.frontier.entryCount == 1 + 150 + 60)
            // A tail after the snapshot, from both feeds.
            try await genesis.append([put("obj-1", ["v": .string("tail")]), ObjectStore.Op.delete(id: "obj-3").encoded])
            try await genesis.append(ObjectStore.Op.setParent(id: "obj-4", parent: "obj-1").encoded)
            for i in 0..<5 { try await writer.append(put("obj-\(i)", ["b": .int(100 + Int64(i))])) }
            try await transfer(b.publicKey, from: writer, to: genesis)
            let root = try await genesis.stateRoot()
            let records = try await genesis.read { $0.records }
            let frontier = try await genesis.frontier()
            await genesis.close()
            await writer.close()

            let gdir = Path.join(dir, "g")
            genesis = try await openReplica(ObjectStore.self, gdir, space: g.publicKey, identity: g)
            let startup = await genesis.startup
            #expect(startup.source == .snapshot(id: snapshot.id.hex, entries: 211))
            #expect(startup.replayed == 3 + 5)
            #expect(startup.rejected.isEmpty)
            #expect(try await genesis.stateRoot() == root)
            #expect(try await genesis.stateRoot(recomputeFully: true) == root)
            #expect(try await genesis.read { $0.records } == records)
            #expect(try await genesis.frontier() == frontier)
            #expect(try await genesis.read { $0.children(of: "obj-1").map(\.id) } == ["obj-4"])
            #expect(await genesis.admittedFeeds == [g.publicKey, b.publicKey])
            await genesis.close()

            let replay = try await fullReplayRoot(ObjectStore.self, of: gdir, space: g.publicKey, identity: g,
                                                  scratch: Path.join(dir, "copy"))
            #expect(replay.startup.source == .fullReplay)
            #expect(replay.startup.replayed == 219)
            #expect(replay.root == root)
        }
    }

    /// A tail shorter than the snapshot has records leaves the next snapshot
    /// incremental; one at least as long (here mostly on one object, the
    /// case where re-encoding everything costs most) makes it re-encode
    /// every leaf, cutting afresh around new keys. All agree with a full replay.
    @Test func longTailMakesTheNextSnapshotReencodeEveryLeaf() async throws {
        try await withTemporaryDirectory { dir in
            let g = testKeyPair(94)
            // (tail length, new objects among them, whether the next snapshot re-encodes every leaf)
            for (tail, added, full) in [(20, 0, false), (300, 0, true), (300, 40, true)] {
                let path = Path.join(dir, "tail-\(tail)-\(added)")
                var replica = try await openReplica(ObjectStore.self, path, space: g.publicKey, identity: g)
                try await fillObjects(replica, count: 300)
                let base = try await replica.snapshotNow().manifest
                #expect(base.recordCount == 300)
                for i in 0..<tail {
                    let id = i < added ? "new-\(i)" : "obj-7"
                    try await replica.append(put(id, ["v": .int(Int64(i))]))
                }
                let root = try await replica.stateRoot()
                await replica.close()

                replica = try await openReplica(ObjectStore.self, path, space: g.publicKey, identity: g)
                #expect(await replica.startup.replayed == tail)
                #expect(try await replica.stateRoot() == root)
                let next = try await replica.snapshotNow()
                #expect(next.manifest.stateRoot == root)
                if full {
                    #expect(next.leavesEncoded == Int(next.manifest.leafCount))
                } else {
                    #expect(next.leavesEncoded >= 1 && next.leavesEncoded < Int(next.manifest.leafCount) / 4)
                }
                await replica.close()

                let replay = try await fullReplayRoot(ObjectStore.self, of: path, space: g.publicKey, identity: g,
                                                      scratch: path + "-replay")
                #expect(replay.root == root)
            }
        }
    }

    /// After restarting from a snapshot the node's clock still covers what
    /// it has seen, so its new writes win over older ones, as after a full replay.
    @Test func writesAfterRestartFromSnapshotWinLikeAfterFullReplay() async throws {
        try await withTemporaryDirectory { dir in
            let g = testKeyPair(92), b = testKeyPair(93)
            let pair = try await twoWriterSpace(dir, g: g, b: b)
            var genesis = pair.genesis
            let writer = pair.writer
            // B's many writes push its Lamport time far past G's own.
            for i in 0..<40 { try await writer.append(put("contested", ["v": .string("b-\(i)")])) }
            try await transfer(b.publicKey, from: writer, to: genesis)
            #expect(try await genesis.read { $0.object("contested")?.fields["v"] } == .string("b-39"))
            try await genesis.snapshotNow()
            await genesis.close()
            await writer.close()

            let gdir = Path.join(dir, "g")
            try RawFile.copyTree(gdir, to: Path.join(dir, "replay"))
            try Directory.removeTree(Path.join(dir, "replay/snapshots"))
            for (path, snapshot) in [(gdir, true), (Path.join(dir, "replay"), false)] {
                genesis = try await openReplica(ObjectStore.self, path, space: g.publicKey, identity: g)
                #expect(await genesis.startup.source.isSnapshot == snapshot)
                try await genesis.append(put("contested", ["v": .string("g")]))
                #expect(try await genesis.read { $0.object("contested")?.fields["v"] } == .string("g"),
                        "after restart from \(snapshot ? "snapshot" : "full replay")")
                await genesis.close()
            }
        }
    }

    /// A damaged newest snapshot is skipped (and said so); the older one
    /// loads, the state is right, and the next snapshot is sound.
    @Test func damagedPackFallsBackToOlderSnapshot() async throws {
        try await withTemporaryDirectory { dir in
            let g = testKeyPair(94)
            var replica = try await openReplica(ObjectStore.self, dir, space: g.publicKey, identity: g)
            try await fillObjects(replica, count: 400)
            let older = try await replica.snapshotNow().manifest
            try await fillObjects(replica, count: 30, from: 1000)
            let newer = try await replica.snapshotNow().manifest
            try await replica.append(put("tail", [:]))
            let root = try await replica.stateRoot()
            await replica.close()

            // Flip one byte inside the first chunk of the newest pack (only the newer snapshot's chunks are there).
            let packs = try packFiles(dir)
            #expect(packs.count == 2)
            var bytes = try RawFile.read(packs[1])
            bytes[16 + 40 + 5] ^= 0x40
            try RawFile.write(bytes, to: packs[1])

            replica = try await openReplica(ObjectStore.self, dir, space: g.publicKey, identity: g)
            var startup = await replica.startup
            #expect(startup.source == .snapshot(id: older.id.hex, entries: 400))
            #expect(startup.rejected.map(\.id) == [newer.id.hex])
            #expect(startup.rejected.first?.reason.isEmpty == false)
            #expect(startup.replayed == 31)
            #expect(try await replica.stateRoot() == root)
            #expect(try await replica.read { $0.liveCount } == 431)
            #expect(replica.storedSnapshots.map(\.id) == [older.id])
            #expect(try packFiles(dir).count == 1)

            // A new snapshot must not lean on the damaged chunks.
            let fresh = try await replica.snapshotNow().manifest
            #expect(fresh.stateRoot == root)
            await replica.close()
            replica = try await openReplica(ObjectStore.self, dir, space: g.publicKey, identity: g)
            startup = await replica.startup
            #expect(startup.source == .snapshot(id: fresh.id.hex, entries: 431))
            #expect(startup.rejected.isEmpty)
            #expect(try await replica.stateRoot() == root)
            await replica.close()
        }
    }

    @Test func missingPackOrCorruptManifestFallsBack() async throws {
        try await withTemporaryDirectory { dir in
            let g = testKeyPair(95)
            let capture = CapturingLogHandler()
            let logger = Logger(label: "capture", factory: { _ in capture })
            func open() async throws -> Replica<ObjectStore> {
                try await Replica<ObjectStore>.open(directory: dir, space: g.publicKey, identity: g,
                                                    options: fastOptions(snapshotsKept: 3), logger: logger)
            }
            var replica = try await open()
            try await fillObjects(replica, count: 200)
            let first = try await replica.snapshotNow().manifest
            try await fillObjects(replica, count: 20, from: 500)
            let second = try await replica.snapshotNow().manifest
            try await fillObjects(replica, count: 20, from: 600)
            let third = try await replica.snapshotNow().manifest
            try await replica.append(put("tail", [:]))
            let root = try await replica.stateRoot()
            await replica.close()

            // 1. The newest snapshot's pack is gone.
            let packs = try packFiles(dir)
            #expect(packs.count == 3)
            try RawFile.remove(packs[2])
            replica = try await open()
            var startup = await replica.startup
            #expect(startup.source == .snapshot(id: second.id.hex, entries: 220))
            #expect(startup.rejected.map(\.id) == [third.id.hex])
            #expect(startup.rejected.first?.reason.contains("missing") == true)
            #expect(startup.replayed == 21)
            #expect(try await replica.stateRoot() == root)
            // A snapshot that can never load again is deleted.
            #expect(replica.storedSnapshots.map(\.id) == [second.id, first.id])
            #expect(!RawFile.exists(Path.join(dir, "snapshots/manifests/\(third.id.hex).manifest")))
            await replica.close()

            // 2. A manifest tampered with (re-named to its new id, so the store reads it): its signature fails.
            let secondPath = Path.join(dir, "snapshots/manifests/\(second.id.hex).manifest")
            var bytes = try RawFile.read(secondPath)
            bytes[bytes.count - 10] ^= 0x01
            let tampered = try SnapshotManifest(decoding: bytes)
            try RawFile.remove(secondPath)
            try RawFile.write(bytes, to: Path.join(dir, "snapshots/manifests/\(tampered.id.hex).manifest"))
            replica = try await open()
            startup = await replica.startup
            #expect(startup.source == .snapshot(id: first.id.hex, entries: 200))
            #expect(startup.rejected.map(\.id) == [tampered.id.hex])
            #expect(startup.rejected.first?.reason.contains("signature") == true)
            #expect(try await replica.stateRoot() == root)
            // Not damaged, only untrusted: left alone.
            #expect(replica.storedSnapshots.count == 2)
            await replica.close()

            // 3. Manifests that are garbage: none loads, the feeds are replayed, the log says why.
            for name in try Directory.list(Path.join(dir, "snapshots/manifests")) where name.hasSuffix(".manifest") {
                let path = Path.join(Path.join(dir, "snapshots/manifests"), name)
                var garbage = try RawFile.read(path)
                garbage[12] ^= 0xFF
                try RawFile.write(Array(garbage.prefix(garbage.count / 2)), to: path)
            }
            capture.lines.withLock { $0.removeAll() }
            replica = try await open()
            startup = await replica.startup
            #expect(startup.source == .fullReplay)
            #expect(startup.replayed == 241)
            #expect(try await replica.stateRoot() == root)
            #expect(capture.lines.withLock { $0.filter { $0.contains("unreadable manifest") }.count } == 2)
            await replica.close()
        }
    }

    /// A crash after a snapshot's chunks were written but before its
    /// manifest: the previous snapshot is used and the state is right.
    @Test func crashBetweenChunksAndManifest() async throws {
        try await withTemporaryDirectory { dir in
            let g = testKeyPair(96)
            var replica = try await openReplica(ObjectStore.self, dir, space: g.publicKey, identity: g)
            try await fillObjects(replica, count: 300)
            let first = try await replica.snapshotNow().manifest
            try await fillObjects(replica, count: 40, from: 2000)
            let second = try await replica.snapshotNow().manifest
            let root = try await replica.stateRoot()
            await replica.close()

            // The second snapshot's pack is complete, its manifest never written.
            try RawFile.remove(Path.join(dir, "snapshots/manifests/\(second.id.hex).manifest"))
            // And a third snapshot died while writing its pack: no footer.
            let packs = try packFiles(dir)
            let partial = try RawFile.read(packs[1])
            let torn = Path.join(Path.join(dir, "snapshots/packs"), "00000000000000000009.pack")
            try RawFile.write(Array(partial.prefix(partial.count - 30)), to: torn)

            replica = try await openReplica(ObjectStore.self, dir, space: g.publicKey, identity: g)
            let startup = await replica.startup
            #expect(startup.source == .snapshot(id: first.id.hex, entries: 300))
            #expect(startup.rejected.isEmpty)
            #expect(startup.replayed == 40)
            #expect(try await replica.stateRoot() == root)
            #expect(!RawFile.exists(torn))
            #expect(replica.storedSnapshots.map(\.id) == [first.id])

            // Snapshots go on, and load.
            try await replica.append(put("more", [:]))
            let next = try await replica.snapshotNow().manifest
            let root2 = try await replica.stateRoot()
            #expect(next.stateRoot == root2)
            await replica.close()
            replica = try await openReplica(ObjectStore.self, dir, space: g.publicKey, identity: g)
            #expect(await replica.startup.source == .snapshot(id: next.id.hex, entries: 341))
            #expect(try await replica.stateRoot() == root2)
            await replica.close()
        }
    }
}
