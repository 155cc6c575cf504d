import SheafCodec
import SheafCollections
import SheafCompression
import SheafCrypto
import SheafFeeds
import SheafFiles
import SheafSnapshots
import Testing

/// Builds and commits snapshots of byte records into a store.
struct StoreHarness {
    let store: SnapshotStore
    let recordsPerChunk = 4
    var builder: SnapshotBuilder<[UInt8]> { Bytes.builder(recordsPerChunk: recordsPerChunk) }

    struct Committed {
        var map: SortedMap<[UInt8]>
        var manifest: SnapshotManifest
        var built: BuiltSnapshot
        var chunkIDs: Set<Hash> { Set(built.layout.leaves.map(\.id) + built.index.map(\.id)) }
    }

    /// Commits `map`, incrementally from `previous` when given.
    func commit(_ map: SortedMap<[UInt8]>, after previous: Committed? = nil, entries: UInt64, createdAt: UInt64) throws -> Committed {
        let pack = try store.beginPack()
        var sink = pack
        let built: BuiltSnapshot
        if let previous {
            let changed = SortedMap.changedKeys(from: previous.map, to: map, isEqual: ==)
            built = try builder.build(map, metadata: [7], previous: previous.built.layout, changed: changed, into: &sink)
        } else {
            built = try builder.build(map, metadata: [7], into: &sink)
        }
        let manifest = makeManifest(built, model: "test.bytes", version: 1, frontier: Keys.frontier(entries: entries), createdAt: createdAt)
        try store.commit(pack, manifest: manifest)
        return Committed(map: map, manifest: manifest, built: built)
    }

    static func load(_ manifest: SnapshotManifest, from store: SnapshotStore) throws -> [(RecordKey, [UInt8])] {
        try SnapshotReader.load(manifest, from: store, recordsPerChunk: 4, decodeValue: Bytes.decode).records
    }

    static func records(_ map: SortedMap<[UInt8]>) -> [(RecordKey, [UInt8])] {
        var out = [(RecordKey, [UInt8])]()
        map.forEach { out.append(($0, $1)); return true }
        return out
    }

    static func packFiles(_ directory: String) throws -> [String] {
        try Directory.list(Path.join(directory, "packs")).filter { $0.hasSuffix(".pack") }
    }

    static func manifestPath(_ directory: String, _ manifest: SnapshotManifest) -> String {
        Path.join(Path.join(directory, "manifests"), manifest.id.hex + ".manifest")
    }

    static func packPath(_ directory: String, _ number: Int) -> String {
        let digits = String(number)
        return Path.join(Path.join(directory, "packs"), String(repeating: "0", count: 20 - digits.count) + digits + ".pack")
    }
}

/// `count` records with keys `k ‖ i` and values from `seed`.
func storeMap(_ count: Int, seed: UInt64, keyOffset: Int = 0, valueBytes: Int = 24) -> SortedMap<[UInt8]> {
    var rng = SplitMix64(seed: seed)
    return Sample.map((0..<count).map { (KeySpace.key(keyOffset + $0), rng.bytes(valueBytes)) })
}

@Suite("SnapshotStore on disk")
struct StoreTests {
    @Test("commit, reopen: manifests newest first, chunks readable, loads verified")
    func commitAndReopen() throws {
        try withTemporaryDirectory { dir in
            let store = try SnapshotStore(directory: dir, durability: .fsync)
            let h = StoreHarness(store: store)
            var map = storeMap(5000, seed: 1)
            let s1 = try h.commit(map, entries: 10, createdAt: 100)
            map.set(KeySpace.key(17), [1, 2, 3])
            let s2 = try h.commit(map, after: s1, entries: 20, createdAt: 200)
            map.remove(KeySpace.key(4000))
            let s3 = try h.commit(map, after: s2, entries: 20, createdAt: 300)
            let s0 = try h.commit(storeMap(10, seed: 9), entries: 5, createdAt: 999)
            #expect(store.manifests.map(\.id) == [s3, s2, s1, s0].map(\.manifest.id), "most entries first, then latest")
            #expect(store.openReport.isEmpty)
            store.close()

            let reopened = try SnapshotStore(directory: dir)
            #expect(reopened.openReport.isEmpty)
            #expect(reopened.manifests == [s3, s2, s1, s0].map(\.manifest))
            for committed in [s0, s1, s2, s3] {
                #expect(reopened.manifest(committed.manifest.id) == committed.manifest)
                for id in committed.chunkIDs { #expect(reopened.contains(id)) }
                let loaded = try StoreHarness.load(committed.manifest, from: reopened)
                #expect(sameRecords(loaded, StoreHarness.records(committed.map)))
                try committed.manifest.verifySignature()
            }
            // Single reads and batched reads agree with what was built.
            let leaf = s3.built.layout.leaves[100]
            let single = try #require(try reopened.compressedChunk(leaf.id, limit: leaf.compressedSize))
            #expect(single.count == leaf.compressedSize)
            let batch = try reopened.compressedChunks(s3.built.layout.leaves.prefix(50).map { ($0.id, $0.compressedSize) })
            #expect(batch[0]?.count == s3.built.layout.leaves[0].compressedSize && batch.allSatisfy { $0 != nil })
            #expect(try reopened.compressedChunk(Hash.zero, limit: 100) == nil)
            #expect(snapshotError { () throws(SnapshotError) in try reopened.compressedChunk(leaf.id, limit: leaf.compressedSize - 1) }?
                .code.kind == "sizeMismatch", "a chunk larger than the caller's limit is not read")
            reopened.close()
        }
    }

    @Test("chunks shared by two snapshots are stored once")
    func sharing() throws {
        try withTemporaryDirectory { dir in
            let store = try SnapshotStore(directory: dir, durability: .none)
            let h = StoreHarness(store: store)
            var map = storeMap(3000, seed: 2)
            let s1 = try h.commit(map, entries: 1, createdAt: 1)
            map.set(KeySpace.key(1500), [9])
            let s2 = try h.commit(map, after: s1, entries: 2, createdAt: 2)
            let union = s1.chunkIDs.union(s2.chunkIDs)
            #expect(s2.built.newChunks == s2.chunkIDs.subtracting(s1.chunkIDs).count)
            #expect(s2.built.newChunks <= 3, "one leaf and its index chunk, not the whole state")
            #expect(store.chunkStats.chunks == union.count)
            #expect(store.chunkStats.packs == 2)
            let bytes = union.reduce(UInt64(0)) { total, id in
                total + UInt64((try? store.compressedChunk(id, limit: 1 << 24))?.count ?? 0)
            }
            #expect(store.chunkStats.bytes == bytes)
            // A third snapshot of the same state adds no chunk (and leaves no empty pack behind).
            _ = try h.commit(map, after: s2, entries: 3, createdAt: 3)
            #expect(store.chunkStats.chunks == union.count)
            #expect(try StoreHarness.packFiles(dir).count == store.chunkStats.packs, "every pack file on disk is a registered pack")
            store.close()
            let reopened = try SnapshotStore(directory: dir, durability: .none)
            #expect(reopened.chunkStats.chunks == union.count && reopened.chunkStats.bytes == bytes)
            #expect(reopened.manifests.count == 3)
            let report = try reopened.collectGarbage()
            #expect(report.packsDeleted + report.packsRewritten + report.chunksFreed == 0, "nothing is garbage while every snapshot is kept")
            #expect(try StoreHarness.packFiles(dir).count == reopened.chunkStats.packs)
        }
    }

    @Test("retain(newest: 1) deletes the older manifest; garbage collection frees only unreferenced chunks")
    func retainAndCollect() throws {
        try withTemporaryDirectory { dir in
            let store = try SnapshotStore(directory: dir, durability: .none)
            let h = StoreHarness(store: store)
            // Disjoint states: the first pack dies entirely.
            let s1 = try h.commit(storeMap(800, seed: 3), entries: 1, createdAt: 1)
            let s2 = try h.commit(storeMap(800, seed: 4, keyOffset: 100_000), after: s1, entries: 2, createdAt: 2)
            #expect(s1.chunkIDs.isDisjoint(with: s2.chunkIDs))
            let report = try store.retain(newest: 1)
            #expect(store.manifests.map(\.id) == [s2.manifest.id])
            #expect(!Directory.exists(StoreHarness.manifestPath(dir, s1.manifest)))
            #expect(report.packsDeleted == 1 && report.packsRewritten == 0)
            #expect(report.chunksFreed == s1.chunkIDs.count)
            #expect(store.chunkStats.chunks == s2.chunkIDs.count && store.chunkStats.packs == 1)
            for id in s1.chunkIDs { #expect(!store.contains(id)) }
            for id in s2.chunkIDs { #expect(store.contains(id)) }
            #expect(sameRecords(try StoreHarness.load(s2.manifest, from: store), StoreHarness.records(s2.map)))
            #expect(try StoreHarness.packFiles(dir).count == 1)
            let again = try store.collectGarbage()
            #expect(again.packsDeleted + again.packsRewritten + again.chunksFreed == 0 && again.bytesFreed == 0,
                    "a second collection finds nothing")

            // Keeping none frees everything.
            let all = try store.retain(newest: 0)
            #expect(store.manifests.isEmpty && store.chunkStats.chunks == 0 && store.chunkStats.packs == 0)
            #expect(all.packsDeleted == 1 && all.chunksFreed == s2.chunkIDs.count)
            #expect(try StoreHarness.packFiles(dir).isEmpty)
            #expect(try Directory.list(Path.join(dir, "manifests")).isEmpty)
        }
    }

    @Test("a pack that is mostly dead is rewritten with only its live chunks; a mostly live one is kept")
    func halfDeadPack() throws {
        try withTemporaryDirectory { dir in
            let store = try SnapshotStore(directory: dir, durability: .none)
            let h = StoreHarness(store: store)
            let base = storeMap(2000, seed: 5)
            let s1 = try h.commit(base, entries: 1, createdAt: 1)
            // Rewrite the values of the first 75% of the keys: a quarter of the
            // first pack stays live.
            var map = base
            var rng = SplitMix64(seed: 6)
            for i in 0..<1500 { map.set(KeySpace.key(i), rng.bytes(24)) }
            let s2 = try h.commit(map, after: s1, entries: 2, createdAt: 2)
            let shared = s1.chunkIDs.intersection(s2.chunkIDs)
            #expect(!shared.isEmpty && shared.count * 2 < s1.chunkIDs.count)

            let report = try store.retain(newest: 1)
            #expect(report.packsRewritten == 1 && report.packsDeleted == 0)
            #expect(report.chunksFreed == s1.chunkIDs.subtracting(s2.chunkIDs).count)
            #expect(store.chunkStats.chunks == s2.chunkIDs.count)
            #expect(!Directory.exists(StoreHarness.packPath(dir, 1)), "the old pack file is gone")
            #expect(try StoreHarness.packFiles(dir).count == 2)
            #expect(sameRecords(try StoreHarness.load(s2.manifest, from: store), StoreHarness.records(map)))
            store.close()
            let reopened = try SnapshotStore(directory: dir, durability: .none)
            #expect(reopened.openReport.isEmpty && reopened.chunkStats.chunks == s2.chunkIDs.count)
            #expect(sameRecords(try StoreHarness.load(s2.manifest, from: reopened), StoreHarness.records(map)))

            // One more record changes: the previous packs stay mostly live and are kept.
            let h2 = StoreHarness(store: reopened)
            var next = map
            next.set(KeySpace.key(10), [1])
            let s3 = try h2.commit(next, after: s2, entries: 3, createdAt: 3)
            let before = reopened.chunkStats
            let kept = try reopened.retain(newest: 1)
            #expect(kept.packsRewritten == 0 && kept.packsDeleted == 0 && kept.chunksFreed == 0)
            #expect(reopened.chunkStats.packs == before.packs)
            #expect(sameRecords(try StoreHarness.load(s3.manifest, from: reopened), StoreHarness.records(next)))
        }
    }

    @Test("a pack dropped before commit leaves nothing behind")
    func droppedPack() throws {
        try withTemporaryDirectory { dir in
            let store = try SnapshotStore(directory: dir, durability: .none)
            let h = StoreHarness(store: store)
            let s1 = try h.commit(storeMap(500, seed: 7), entries: 1, createdAt: 1)
            var ids = [Hash]()
            do {
                let pack = try store.beginPack()
                try withExtendedLifetime(pack) {
                    var sink = pack
                    let built = try h.builder.build(storeMap(500, seed: 8, keyOffset: 9000), metadata: [], into: &sink)
                    ids = built.layout.leaves.map(\.id)
                    #expect(pack.chunkCount == built.newChunks && pack.chunkCount > 0)
                    #expect(try StoreHarness.packFiles(dir).count == 2, "the pack exists while it is written")
                }
            }
            #expect(try StoreHarness.packFiles(dir).count == 1, "dropped without commit: the file is deleted")
            for id in ids { #expect(!store.contains(id)) }
            store.close()
            let reopened = try SnapshotStore(directory: dir, durability: .none)
            #expect(reopened.openReport.isEmpty)
            #expect(sameRecords(try StoreHarness.load(s1.manifest, from: reopened), StoreHarness.records(s1.map)))
        }
    }

    @Test("a crash between writing a pack and its manifest: the incomplete pack is removed and reported")
    func crashBeforeManifest() throws {
        try withTemporaryDirectory { dir in
            let store = try SnapshotStore(directory: dir, durability: .none)
            let h = StoreHarness(store: store)
            let s1 = try h.commit(storeMap(500, seed: 10), entries: 1, createdAt: 1)
            // A writer still holding its pack (the process "dies" here): over
            // 1 MiB of chunks, so part of it is already on disk.
            let pack = try store.beginPack()
            try withExtendedLifetime(pack) {
                var sink = pack
                _ = try h.builder.build(storeMap(300, seed: 11, keyOffset: 5000, valueBytes: 5000), metadata: [], into: &sink)
                #expect(pack.bytesWritten > 1 << 20)
                let name = try #require(try StoreHarness.packFiles(dir).last)
                #expect(try RawFile.read(Path.join(Path.join(dir, "packs"), name)).count > 0)

                let recovered = try SnapshotStore(directory: dir, durability: .none)
                #expect(recovered.openReport.count == 1)
                #expect(recovered.openReport.first?.hasPrefix("removed incomplete pack \(name) (") == true)
                #expect(try StoreHarness.packFiles(dir).count == 1)
                #expect(recovered.manifests.map(\.id) == [s1.manifest.id])
                #expect(sameRecords(try StoreHarness.load(s1.manifest, from: recovered), StoreHarness.records(s1.map)))
            }
        }
    }

    @Test("an older pack whose footer is damaged is set aside, not deleted, and its snapshot fails to load with a typed error")
    func damagedOlderPack() throws {
        try withTemporaryDirectory { dir in
            let store = try SnapshotStore(directory: dir, durability: .none)
            let h = StoreHarness(store: store)
            let s1 = try h.commit(storeMap(400, seed: 12), entries: 1, createdAt: 1)
            let s2 = try h.commit(storeMap(400, seed: 13, keyOffset: 7000), after: s1, entries: 2, createdAt: 2)
            store.close()
            // Pack 1 was complete (its snapshot committed); bit rot hits its footer later.
            let path = StoreHarness.packPath(dir, 1)
            var bytes = try RawFile.read(path)
            bytes[bytes.count - 12] ^= 0x40
            try RawFile.write(bytes, to: path)

            let reopened = try SnapshotStore(directory: dir, durability: .none)
            #expect(reopened.openReport.count == 1)
            #expect(reopened.openReport.first?.hasPrefix("set aside damaged pack \(Path.lastComponent(path))") == true)
            #expect(!Directory.exists(path))
            #expect(Directory.exists(path + ".damaged"))
            #expect(Set(reopened.manifests.map(\.id)) == [s1.manifest.id, s2.manifest.id])
            // Its chunks are gone from the index, so loading the first snapshot says which one is missing.
            #expect(throws: SnapshotError.self) { try StoreHarness.load(s1.manifest, from: reopened) }
        }
    }

    @Test("packs with a missing, truncated or damaged footer are removed and reported; earlier snapshots stay intact",
          arguments: ["truncated", "header only", "footer crc", "end magic", "empty file"])
    func damagedFooter(damage: String) throws {
        try withTemporaryDirectory { dir in
            let store = try SnapshotStore(directory: dir, durability: .none)
            let h = StoreHarness(store: store)
            let s1 = try h.commit(storeMap(400, seed: 12), entries: 1, createdAt: 1)
            let s2 = try h.commit(storeMap(400, seed: 13, keyOffset: 7000), after: s1, entries: 2, createdAt: 2)
            store.close()
            // The second snapshot's manifest never made it; its pack is damaged.
            try Directory.removeFile(StoreHarness.manifestPath(dir, s2.manifest))
            let path = StoreHarness.packPath(dir, 2)
            var bytes = try RawFile.read(path)
            switch damage {
            case "truncated": bytes.removeLast(7)
            case "header only": bytes = Array(bytes.prefix(16))
            case "footer crc": bytes[bytes.count - 12] ^= 0x40
            case "end magic": bytes[bytes.count - 1] ^= 0x01
            default: bytes = []
            }
            try RawFile.write(bytes, to: path)

            let reopened = try SnapshotStore(directory: dir, durability: .none)
            #expect(reopened.openReport.count == 1)
            #expect(reopened.openReport.first?.hasPrefix("removed incomplete pack \(Path.lastComponent(path)) (") == true)
            #expect(!Directory.exists(path))
            #expect(reopened.manifests.map(\.id) == [s1.manifest.id])
            #expect(sameRecords(try StoreHarness.load(s1.manifest, from: reopened), StoreHarness.records(s1.map)))
            // New packs do not reuse the removed pack's number.
            let h2 = StoreHarness(store: reopened)
            _ = try h2.commit(storeMap(50, seed: 14, keyOffset: 90_000), after: s1, entries: 3, createdAt: 3)
            #expect(Directory.exists(StoreHarness.packPath(dir, 3)))
        }
    }

    @Test("a pack footer whose checksum is right but whose entries are absurd does not crash the store")
    func craftedFooter() throws {
        try withTemporaryDirectory { dir in
            let store = try SnapshotStore(directory: dir, durability: .none)
            let s1 = try StoreHarness(store: store).commit(storeMap(100, seed: 15), entries: 1, createdAt: 1)
            store.close()
            for (n, offset) in [UInt64.max - 2, UInt64.max / 2, 1 << 40].enumerated() {
                // header ‖ 10 data bytes ‖ footer with one entry at `offset`.
                var writer = ByteWriter()
                writer.writeRaw(Array("sheafpak".utf8))
                writer.writeUInt32(1)
                writer.writeUInt32(0)
                writer.writeRaw([UInt8](repeating: 0xAB, count: 10))
                let footerStart = UInt64(writer.count)
                let start = writer.count
                writer.writeUInt32(1)
                Hash.of([UInt8(n)], domain: SnapshotDomains.chunk).encode(into: &writer)
                writer.writeUInt64(offset)
                writer.writeUInt32(10)
                writer.writeUInt32(10)
                writer.writeUInt64(footerStart)
                writer.writeUInt32(CRC32C.checksum(writer.bytes[start...]))
                writer.writeRaw(Array("sheafend".utf8))
                try RawFile.write(writer.bytes, to: StoreHarness.packPath(dir, 50 + n))
            }
            let reopened = try SnapshotStore(directory: dir, durability: .none)
            #expect(reopened.openReport.count == 3)
            #expect(try StoreHarness.packFiles(dir).count == 1)
            #expect(sameRecords(try StoreHarness.load(s1.manifest, from: reopened), StoreHarness.records(s1.map)))
        }
    }

    @Test("damage inside a pack's data is caught when the snapshot is loaded")
    func damagedPackData() throws {
        try withTemporaryDirectory { dir in
            let store = try SnapshotStore(directory: dir, durability: .none)
            let s1 = try StoreHarness(store: store).commit(storeMap(300, seed: 22), entries: 1, createdAt: 1)
            store.close()
            let path = StoreHarness.packPath(dir, 1)
            var bytes = try RawFile.read(path)
            // 16-byte header, then per chunk: id 32 ‖ u32 raw ‖ u32 compressed ‖ data.
            bytes[16 + 40 + 5] ^= 0x20
            try RawFile.write(bytes, to: path)
            let reopened = try SnapshotStore(directory: dir, durability: .none)
            #expect(reopened.openReport.isEmpty, "the footer is intact")
            let error = snapshotError { () throws(SnapshotError) in
                try SnapshotReader.load(s1.manifest, from: reopened, recordsPerChunk: 4, decodeValue: Bytes.decode)
            }
            #expect(["compression", "chunkHashMismatch"].contains(error?.code.kind ?? "none"), "\(String(describing: error))")
        }
    }

    @Test("corrupted, truncated and misnamed manifest files are ignored with a report")
    func corruptedManifests() throws {
        try withTemporaryDirectory { dir in
            let store = try SnapshotStore(directory: dir, durability: .none)
            let h = StoreHarness(store: store)
            let s1 = try h.commit(storeMap(200, seed: 16), entries: 1, createdAt: 1)
            let s2 = try h.commit(storeMap(200, seed: 17), after: s1, entries: 2, createdAt: 2)
            let s3 = try h.commit(storeMap(200, seed: 18), after: s2, entries: 3, createdAt: 3)
            let s4 = try h.commit(storeMap(200, seed: 19), after: s3, entries: 4, createdAt: 4)
            store.close()

            let flipped = StoreHarness.manifestPath(dir, s2.manifest)
            var bytes = try RawFile.read(flipped)
            bytes[bytes.count / 2] ^= 0x10
            try RawFile.write(bytes, to: flipped)
            let truncated = StoreHarness.manifestPath(dir, s3.manifest)
            try RawFile.write(Array(try RawFile.read(truncated).dropLast(30)), to: truncated)
            // A valid manifest under another manifest's name.
            let misnamed = StoreHarness.manifestPath(dir, s4.manifest)
            try RawFile.write(s1.manifest.encoded, to: misnamed)
            // Left-overs that are not manifests at all.
            try RawFile.write([1, 2, 3], to: Path.join(Path.join(dir, "manifests"), "x.manifest.tmp"))

            let reopened = try SnapshotStore(directory: dir, durability: .none)
            #expect(reopened.manifests.map(\.id) == [s1.manifest.id])
            #expect(reopened.openReport.count == 3)
            for path in [flipped, truncated, misnamed] {
                let name = Path.lastComponent(path)
                #expect(reopened.openReport.contains { $0.hasPrefix("ignored unreadable manifest \(name)") }, "\(name)")
            }
            #expect(sameRecords(try StoreHarness.load(s1.manifest, from: reopened), StoreHarness.records(s1.map)))
        }
    }

    @Test("attestations are saved, listed per state root, verified, and survive reopening")
    func attestations() throws {
        try withTemporaryDirectory { dir in
            let store = try SnapshotStore(directory: dir, durability: .fsync)
            let s1 = try StoreHarness(store: store).commit(storeMap(50, seed: 20), entries: 1, createdAt: 1)
            let m = s1.manifest
            let byOther = ManifestTests.attestation(of: m, by: Keys.other)
            let bySigner = ManifestTests.attestation(of: m, by: Keys.signer)
            try store.save(byOther)
            try store.save(bySigner)
            try store.save(byOther)  // saving twice keeps one
            #expect(Set(store.attestations(of: m.stateRoot)) == [byOther, bySigner])
            #expect(store.attestations(of: Hash.zero).isEmpty)

            var forged = byOther
            forged.stateRoot = Hash.zero
            #expect(snapshotError { () throws(SnapshotError) in try store.save(forged) }?.code == .badSignature)
            #expect(store.attestations(of: Hash.zero).isEmpty)

            // A complete temporary file left by an interrupted save is no second attestation.
            let saved = Path.join(Path.join(dir, "attestations"), m.stateRoot.hex + "." + Keys.other.publicKey.hex)
            try RawFile.write(try RawFile.read(saved), to: saved + ".tmp")
            #expect(store.attestations(of: m.stateRoot).count == 2, "one per signer")

            // A damaged file is skipped, not returned.
            let name = m.stateRoot.hex + "." + Keys.signer.publicKey.hex
            let path = Path.join(Path.join(dir, "attestations"), name)
            var bytes = try RawFile.read(path)
            bytes[bytes.count - 1] ^= 0x01
            try RawFile.write(bytes, to: path)
            store.close()
            let reopened = try SnapshotStore(directory: dir, durability: .none)
            let listed = reopened.attestations(of: m.stateRoot)
            #expect(listed == [byOther])
            for attestation in listed {
                try attestation.verify()
                #expect(attestation.matches(m))
            }
        }
    }

    @Test("drop() removes every file and closes the store")
    func drop() throws {
        try withTemporaryDirectory { dir in
            let root = Path.join(dir, "space")
            let store = try SnapshotStore(directory: root, durability: .none)
            let s1 = try StoreHarness(store: store).commit(storeMap(100, seed: 21), entries: 1, createdAt: 1)
            try store.save(ManifestTests.attestation(of: s1.manifest))
            #expect(Directory.exists(root))
            try store.drop()
            #expect(!Directory.exists(root))
            #expect(store.manifests.isEmpty && store.chunkStats.chunks == 0)
            #expect(snapshotError { () throws(SnapshotError) in try store.beginPack() }?.code == .closed)
            let loaded = snapshotError { () throws(SnapshotError) in
                try SnapshotReader.load(s1.manifest, from: store, recordsPerChunk: 4, decodeValue: Bytes.decode)
            }
            #expect(loaded?.code.kind == "missingChunk")
        }
    }
}

/// Downloaded chunks in memory over the store that will hold them.
@Suite("Downloaded chunks")
struct DownloadedChunksTests {
    /// A snapshot loads the same from memory as from the store, with the
    /// chunks split between the two; limits hold for the chunks in memory.
    @Test("load from memory over the store")
    func loadsOverTheStore() throws {
        try withTemporaryDirectory { dir in
            let source = try SnapshotStore(directory: Path.join(dir, "source"), durability: .none)
            let committed = try StoreHarness(store: source).commit(storeMap(500, seed: 3), entries: 5, createdAt: 1)
            let ids = committed.chunkIDs.sorted()
            #expect(ids.count > 4)
            var chunks: [Hash: (rawSize: Int, compressed: [UInt8])] = [:]
            for (n, id) in ids.enumerated() {
                let compressed = try #require(try source.compressedChunk(id, limit: 1 << 24))
                chunks[id] = (try Zstd.decompress(compressed, maxOutput: 1 << 20).count, compressed)
                // Every third chunk only in the destination store, as if held from before.
                if n % 3 == 0 { chunks[id] = nil }
            }
            let destination = try SnapshotStore(directory: Path.join(dir, "destination"), durability: .none)
            let pack = try destination.beginPack()
            for id in ids.enumerated().filter({ $0.offset % 3 == 0 }).map(\.element) {
                let compressed = try #require(try source.compressedChunk(id, limit: 1 << 24))
                try pack.put(id: id, rawSize: try Zstd.decompress(compressed, maxOutput: 1 << 20).count, compressed: compressed)
            }
            try destination.commit(pack, manifest: committed.manifest)
            let downloaded = DownloadedChunks(chunks, over: destination)
            let loaded = try SnapshotReader.load(committed.manifest, from: downloaded, recordsPerChunk: 4, decodeValue: Bytes.decode).records
            #expect(loaded.map(\.0) == (try StoreHarness.load(committed.manifest, from: source)).map(\.0))
            #expect(loaded.map(\.1) == (try StoreHarness.load(committed.manifest, from: source)).map(\.1))

            // Chunks checked on arrival are vouched for once, to the load
            // that takes them: this load checked every chunk itself.
            for (id, chunk) in chunks { #expect(downloaded.checkedRaw(id, compressed: chunk.compressed) == nil) }

            let inMemory = try #require(chunks.first { $0.value.compressed.count > 1 })
            #expect(throws: SnapshotError.self) { _ = try downloaded.compressedChunk(inMemory.key, limit: inMemory.value.compressed.count - 1) }
            #expect(try downloaded.compressedChunk(Hash.of([1, 2, 3], domain: HashDomain("absent")), limit: 1 << 20) == nil)
            source.close()
            destination.close()
        }
    }

    /// A chunk checked on arrival (`precheck`) need not be decompressed and
    /// hashed again by the load: the downloaded chunks vouch for its bytes,
    /// once, and only for the very bytes that were checked.
    @Test("chunks checked on arrival are vouched for, once")
    func prechecked() throws {
        try withTemporaryDirectory { dir in
            let source = try SnapshotStore(directory: Path.join(dir, "source"), durability: .none)
            let committed = try StoreHarness(store: source).commit(storeMap(300, seed: 11), entries: 5, createdAt: 1)
            var chunks: [Hash: (rawSize: Int, compressed: [UInt8])] = [:]
            var raws: [Hash: [UInt8]] = [:]
            for id in committed.chunkIDs {
                let compressed = try #require(try source.compressedChunk(id, limit: 1 << 24))
                raws[id] = try Zstd.decompress(compressed, maxOutput: 1 << 20)
                chunks[id] = (raws[id]?.count ?? 0, compressed)
            }
            let destination = try SnapshotStore(directory: Path.join(dir, "destination"), durability: .none)
            let downloaded = DownloadedChunks(chunks, over: destination)
            let (id, chunk) = try #require(chunks.first { $0.value.compressed.count > 8 })
            #expect(downloaded.checkedRaw(id, compressed: chunk.compressed) == nil, "not checked yet")
            // A chunk that does not hash to its id is not remembered.
            SnapshotReader.precheck(chunk.compressed, id: Hash.of([9], domain: HashDomain("other")))
            #expect(downloaded.checkedRaw(Hash.of([9], domain: HashDomain("other")), compressed: chunk.compressed) == nil)
            for (id, chunk) in chunks { SnapshotReader.precheck(chunk.compressed, id: id) }
            var other = chunk.compressed
            other[other.count - 1] ^= 1
            #expect(downloaded.checkedRaw(id, compressed: other) == nil, "other bytes under the same id")
            #expect(downloaded.checkedRaw(id, compressed: chunk.compressed) == raws[id])
            #expect(downloaded.checkedRaw(id, compressed: chunk.compressed) == nil, "taken")
            // The load takes the rest and gives the same records as the store.
            let loaded = try SnapshotReader.load(committed.manifest, from: downloaded, recordsPerChunk: 4, decodeValue: Bytes.decode).records
            #expect(loaded.map(\.1) == (try StoreHarness.load(committed.manifest, from: source)).map(\.1))
            let leaves = Set(committed.chunkIDs).subtracting(committed.manifest.index.map(\.id))
            for leaf in leaves { #expect(downloaded.checkedRaw(leaf, compressed: chunks[leaf]?.compressed ?? []) == nil) }
            source.close()
            destination.close()
        }
    }
}
