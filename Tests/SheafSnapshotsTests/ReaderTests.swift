import SheafCodec
import SheafCollections
import SheafCompression
import SheafCrypto
import SheafSnapshots
import Testing

/// An honest snapshot of byte records (with forced cuts), its reference cut,
/// and helpers to forge variants of it.
struct ReaderFixture {
    let recordsPerChunk: Int
    let records: [(RecordKey, [UInt8])]
    let snapshot: Snapshot<[UInt8]>
    /// The canonical leaves, with their records.
    let leaves: [ReferenceLeaf]

    init(count: Int = 400, recordsPerChunk: Int = 4, seed: UInt64 = 21) throws {
        self.recordsPerChunk = recordsPerChunk
        var rng = SplitMix64(seed: seed)
        let keys = KeySpace.withLongRuns(count: count, recordsPerChunk: recordsPerChunk, using: &rng)
        records = keys.map { ($0, rng.bytes(4 + rng.below(30))) }
        let map = Sample.map(records)
        var chunks = MemoryChunks()
        let built = try Bytes.builder(recordsPerChunk: recordsPerChunk).build(map, metadata: [4, 2], into: &chunks)
        let manifest = makeManifest(built, model: "test.bytes", version: 1)
        snapshot = Snapshot(records: map, built: built, manifest: manifest, chunks: chunks)
        leaves = Reference.leaves(records, recordsPerChunk: recordsPerChunk)
    }

    var manifest: SnapshotManifest { snapshot.manifest }
    var chunks: MemoryChunks { snapshot.chunks }
    var layout: [LeafChunk] { snapshot.built.layout.leaves }

    /// The honest index entries and served bytes of every leaf.
    var specs: [LeafSpec] {
        layout.map { LeafSpec(id: $0.id, rawSize: $0.rawSize, compressedSize: $0.compressedSize, recordCount: $0.recordCount,
                              served: snapshot.chunks.chunks[$0.id]) }
    }

    var groupEnds: [Bool] { layout.map(\.endsIndexGroup) }

    func forge(_ specs: [LeafSpec], groupEnds: [Bool], groups: [Range<Int>]? = nil, recordCount: UInt64? = nil,
               stateRoot: Hash? = nil) -> (manifest: SnapshotManifest, chunks: MemoryChunks) {
        Forge.snapshot(leaves: specs, groupEnds: groupEnds, groups: groups, template: manifest, recordCount: recordCount,
                       stateRoot: stateRoot)
    }

    func load(_ manifest: SnapshotManifest, _ source: some ChunkSource, workers: Int = 2) -> Result<[(RecordKey, [UInt8])], SnapshotError> {
        loadBytes(manifest, source, recordsPerChunk: recordsPerChunk, workers: workers)
    }

    func error(_ manifest: SnapshotManifest, _ source: some ChunkSource, workers: Int = 2) -> SnapshotError? {
        switch load(manifest, source, workers: workers) {
        case .success: nil
        case .failure(let e): e
        }
    }

    /// The index of an interior leaf with at least `records` records, not
    /// ending an index group, followed by one that does not either.
    func interiorLeaf(minRecords: Int = 2, naturally: Bool = true) -> Int {
        (1..<(layout.count - 2)).first { i in
            layout[i].recordCount >= minRecords && layout[i].endsNaturally == naturally && !layout[i].endsIndexGroup
                && !layout[i + 1].endsIndexGroup && layout[i + 1].endsNaturally
        }!
    }
}

@Suite("SnapshotReader: verifying loads")
struct ReaderTests {
    @Test("an honest snapshot loads exactly, with the builder's layout, on any number of workers")
    func honest() throws {
        let f = try ReaderFixture()
        #expect(f.layout.contains { !$0.endsNaturally && $0.recordCount == 32 }, "the fixture has forced cuts")
        for workers in [1, 2, 8] {
            let (records, layout) = try SnapshotReader.load(f.manifest, from: f.chunks, recordsPerChunk: 4, workers: workers,
                                                            decodeValue: Bytes.decode)
            #expect(sameRecords(records, f.records))
            #expect(layout.leaves == f.layout, "the loaded layout can seed an incremental build")
            #expect(layout.recordCount == UInt64(f.records.count))
        }
        // The forging helper reproduces the honest snapshot exactly.
        let control = f.forge(f.specs, groupEnds: f.groupEnds)
        #expect(control.manifest.index.map(\.id) == f.manifest.index.map(\.id))
        #expect(control.manifest.stateRoot == f.manifest.stateRoot)
        #expect(try sameRecords(f.load(control.manifest, control.chunks).get(), f.records))
    }

    /// A source that checked its leaves already (a node that checked each
    /// chunk on arrival) is believed about their bytes, never about their
    /// sizes: the index declares those.
    @Test("bytes a source vouches for are taken as they are; sizes still come from the index")
    func vouchedBytes() throws {
        let f = try ReaderFixture()
        // Leaves served as bytes no decompressor accepts: only the vouched
        // raw bytes can make the load succeed.
        var source = VouchingSource(chunks: f.chunks)
        for leaf in f.layout {
            source.served[leaf.id] = [UInt8](repeating: 0xFF, count: leaf.compressedSize)
            source.raw[leaf.id] = try f.chunks.raw(leaf.id)
        }
        #expect(try sameRecords(f.load(f.manifest, source).get(), f.records))
        // Unvouched, the same bytes fail as any corrupt chunk does.
        var unvouched = source
        unvouched.raw = [:]
        #expect(f.error(f.manifest, unvouched)?.code.compressionError != nil)
        // Vouched bytes of another size than the index declares are refused.
        let leaf = f.layout[f.layout.count / 2]
        var longer = source
        longer.raw[leaf.id]?.append(0)
        #expect(f.error(f.manifest, longer)?.code == .sizeMismatch(id: leaf.id.hex, expected: leaf.rawSize, actual: leaf.rawSize + 1))
        // And served bytes of another size than declared, whatever they hold.
        var shorter = source
        shorter.served[leaf.id]?.removeLast()
        #expect(f.error(f.manifest, shorter)?.code == .sizeMismatch(id: leaf.id.hex, expected: leaf.compressedSize,
                                                                         actual: leaf.compressedSize - 1))
    }

    @Test("every flipped bit of a leaf chunk and of an index chunk is caught (or harmless)")
    func flippedBits() throws {
        let f = try ReaderFixture(count: 120)
        let targets = [f.layout[f.layout.count / 2].id, f.manifest.index[0].id]
        var caught = [String: Int]()
        var harmless = 0
        for id in targets {
            let original = f.chunks.chunks[id]!
            for bit in 0..<(original.count * 8) {
                var chunks = f.chunks
                chunks.chunks[id]![bit / 8] ^= 1 << UInt8(bit % 8)
                switch f.load(f.manifest, chunks) {
                case .success(let records):
                    // A flip zstd ignores must give the very same records.
                    #expect(sameRecords(records, f.records), "bit \(bit) of \(id)")
                    harmless += 1
                case .failure(let error):
                    #expect(["compression", "chunkHashMismatch", "sizeMismatch"].contains(error.code.kind), "bit \(bit): \(error)")
                    caught[error.code.kind, default: 0] += 1
                }
            }
        }
        #expect(caught.values.reduce(0, +) > harmless * 20)
        #expect(caught["compression", default: 0] > 0 && caught["chunkHashMismatch", default: 0] > 0)
    }

    @Test("truncated chunks: caught by size, or by zstd when the index is forged to match")
    func truncatedChunks() throws {
        let f = try ReaderFixture(count: 120)
        let i = f.layout.count / 2
        let leaf = f.layout[i]
        let original = f.chunks.chunks[leaf.id]!
        for cut in 0..<original.count {
            var chunks = f.chunks
            chunks.chunks[leaf.id] = Array(original[0..<cut])
            let error = f.error(f.manifest, chunks)
            #expect(error?.code == .sizeMismatch(id: leaf.id.hex, expected: original.count, actual: cut), "cut \(cut)")

            var specs = f.specs
            specs[i].served = Array(original[0..<cut])
            specs[i].compressedSize = cut
            let forged = f.forge(specs, groupEnds: f.groupEnds)
            let forgedError = f.error(forged.manifest, forged.chunks)
            if cut == 0 {
                #expect(forgedError?.code.decodingError?.field == "index.compressedSize", "a zero size does not decode")
            } else {
                #expect(forgedError?.code.compressionError?.code == .malformed, "cut \(cut): \(String(describing: forgedError))")
            }
        }
        // A truncated index chunk.
        var chunks = f.chunks
        let ref = f.manifest.index[0]
        chunks.chunks[ref.id]!.removeLast()
        #expect(f.error(f.manifest, chunks)?.code == .sizeMismatch(id: ref.id.hex, expected: ref.compressedSize, actual: ref.compressedSize - 1))
    }

    @Test("chunks served under the wrong id, and missing chunks")
    func wrongAndMissing() throws {
        let f = try ReaderFixture()
        let a = f.layout[3]
        let b = f.layout[10]
        var swapped = f.chunks
        swapped.chunks[a.id] = f.chunks.chunks[b.id]
        swapped.chunks[b.id] = f.chunks.chunks[a.id]
        #expect(["sizeMismatch", "chunkHashMismatch"].contains(f.error(f.manifest, swapped)?.code.kind ?? "none"))

        // Same sizes, other content: only the hash can tell.
        var raw = try f.chunks.raw(a.id)
        raw[raw.count - 1] ^= 0x01
        var specs = f.specs
        specs[3].served = Frames.stored(raw)
        specs[3].compressedSize = specs[3].served!.count
        let forged = f.forge(specs, groupEnds: f.groupEnds)
        #expect(f.error(forged.manifest, forged.chunks)?.code == .chunkHashMismatch(id: a.id.hex))
        // Control: the same stored-block frame of the right bytes is accepted.
        specs[3].served = Frames.stored(try f.chunks.raw(a.id))
        let control = f.forge(specs, groupEnds: f.groupEnds)
        #expect(try sameRecords(f.load(control.manifest, control.chunks).get(), f.records))

        // An index chunk swapped for another.
        if f.manifest.index.count > 1 {
            var chunks = f.chunks
            chunks.chunks[f.manifest.index[0].id] = f.chunks.chunks[f.manifest.index[1].id]
            #expect(["sizeMismatch", "chunkHashMismatch"].contains(f.error(f.manifest, chunks)?.code.kind ?? "none"))
        }

        var missingLeaf = f.chunks
        missingLeaf.chunks[a.id] = nil
        #expect(f.error(f.manifest, missingLeaf)?.code == .missingChunk(id: a.id.hex))
        var missingIndex = f.chunks
        let last = f.manifest.index[f.manifest.index.count - 1].id
        missingIndex.chunks[last] = nil
        #expect(f.error(f.manifest, missingIndex)?.code == .missingChunk(id: last.hex))
    }

    @Test("lying raw and compressed sizes and record counts in index chunks (validly signed)")
    func lyingIndexEntries() throws {
        let f = try ReaderFixture()
        let i = 7
        let leaf = f.layout[i]
        func error(_ change: (inout LeafSpec) -> Void) -> SnapshotError? {
            var specs = f.specs
            change(&specs[i])
            let forged = f.forge(specs, groupEnds: f.groupEnds)
            return f.error(forged.manifest, forged.chunks)
        }
        #expect(error { $0.rawSize += 1 }?.code == .sizeMismatch(id: leaf.id.hex, expected: leaf.rawSize + 1, actual: leaf.rawSize))
        #expect(error { $0.rawSize -= 1 }?.code.compressionError?.code == .declaredSizeOverLimit)
        #expect(error { $0.compressedSize += 1 }?.code
            == .sizeMismatch(id: leaf.id.hex, expected: leaf.compressedSize + 1, actual: leaf.compressedSize))
        #expect(error { $0.compressedSize -= 1 }?.code
            == .sizeMismatch(id: leaf.id.hex, expected: leaf.compressedSize - 1, actual: leaf.compressedSize))
        #expect(error { $0.recordCount += 1 }?.code.kind == "inconsistent")
        #expect(error { $0.recordCount -= 1 }?.code.kind == "inconsistent")
        #expect(error { $0.rawSize = SnapshotLimits.maxChunkRawBytes + 1 }?.code.decodingError?.field == "index.rawSize")
        #expect(error { $0.compressedSize = SnapshotLimits.maxChunkCompressedBytes + 1 }?.code.decodingError?.field
            == "index.compressedSize")
        #expect(error { $0.recordCount = 0 }?.code.decodingError?.field == "index.recordCount")
        // Control: the unchanged forgery loads.
        #expect(error { _ in } == nil)
    }

    @Test("lying sizes and counts in the manifest's index references")
    func lyingReferences() throws {
        let f = try ReaderFixture()
        let ref = f.manifest.index[0]
        func error(_ change: (inout SnapshotManifest) -> Void, resign: Bool = true) -> SnapshotError? {
            var m = f.manifest
            change(&m)
            return f.error(resign ? resigned(m) : m, f.chunks)
        }
        #expect(error { $0.index[0].rawSize += 1 }?.code == .sizeMismatch(id: ref.id.hex, expected: ref.rawSize + 1, actual: ref.rawSize))
        #expect(error { $0.index[0].rawSize -= 1 }?.code.compressionError?.code == .declaredSizeOverLimit)
        #expect(error { $0.index[0].compressedSize += 1 }?.code.kind == "sizeMismatch")
        // A manifest that never went through the decoder (its counts disagree).
        #expect(error({ $0.index[0].leafCount += 1 }, resign: false)?.code.kind == "inconsistent")
        #expect(error({ $0.leafCount -= 1 }, resign: false)?.code.kind == "inconsistent")
        #expect(error({ $0.leafCount += 1 }, resign: false)?.code.kind == "inconsistent")
        #expect(error({ $0.index[0].rawSize = SnapshotLimits.maxChunkRawBytes + 1 }, resign: false)?.code.kind == "overLimit")
        #expect(error({ $0.index[0].compressedSize = SnapshotLimits.maxChunkCompressedBytes + 1 }, resign: false)?.code.kind == "overLimit")
        // Signed record counts that disagree with the chunks.
        #expect(error { $0.recordCount += 1 }?.code.kind == "inconsistent")
        #expect(error { $0.recordCount -= 1 }?.code.kind == "inconsistent")
    }

    @Test("manifest totals of raw and compressed bytes must match the chunks")
    func lyingTotals() throws {
        let f = try ReaderFixture()
        for change in [{ (m: inout SnapshotManifest) in m.rawBytes += 1 }, { $0.rawBytes -= 1 }, { $0.compressedBytes += 1 },
                       { $0.compressedBytes = 0 }] {
            var m = f.manifest
            change(&m)
            #expect(f.error(resigned(m), f.chunks)?.code.kind == "inconsistent")
        }
    }

    @Test("a zstd bomb in a leaf or an index chunk is stopped at the declared size, without allocating its output")
    func zstdBomb() throws {
        let f = try ReaderFixture(count: 200)
        let total = 1 << 30
        let bomb = try Frames.zeroBomb(total: total, pledged: false)
        #expect(Frames.declaredSize(bomb) == nil && bomb.count < 64 << 10, "a small frame without a declared size")
        let pledged = try Frames.zeroBomb(total: total, pledged: true)
        #expect(Frames.declaredSize(pledged) == UInt64(total))

        let i = f.layout.count / 2
        let before = peakResidentBytes()
        for (frame, expected) in [(bomb, CompressionError.Code.outputOverLimit), (pledged, .declaredSizeOverLimit)] {
            var specs = f.specs
            specs[i].served = frame
            specs[i].compressedSize = frame.count
            let forged = f.forge(specs, groupEnds: f.groupEnds)
            #expect(f.error(forged.manifest, forged.chunks)?.code.compressionError?.code == expected)

            // As an index chunk, named by the manifest.
            var m = f.manifest
            var chunks = f.chunks
            chunks.chunks[m.index[0].id] = frame
            m.index[0].compressedSize = frame.count
            #expect(f.error(resigned(m), chunks)?.code.compressionError?.code == expected)
        }
        let growth = peakResidentBytes() - before
        // Generous: other tests in this process may allocate ~100 MiB meanwhile;
        // output allowed to grow toward the bomb would add a whole GiB.
        #expect(growth < 512 << 20, "peak memory grew by \(growth >> 20) MiB while rejecting a \(total >> 20) MiB bomb")
    }

    @Test("leaves cut where the canonical cut does not are refused, though the root matches")
    func nonCanonicalCuts() throws {
        let f = try ReaderFixture()
        // Two leaves merged: the first continues past its natural boundary.
        let j = f.interiorLeaf()
        var merged = f.leaves
        merged[j] = ReferenceLeaf(records: f.leaves[j].records + f.leaves[j + 1].records, raw: [], id: .zero, endsNaturally: true,
                                  endsIndexGroup: f.leaves[j + 1].endsIndexGroup)
        merged.remove(at: j + 1)
        #expect(merged[j].records.count <= 32)
        let mergedForgery = f.forge(Forge.specs(merged.map(\.records)), groupEnds: merged.map(\.endsIndexGroup))
        #expect(f.error(mergedForgery.manifest, mergedForgery.chunks)?.code.inconsistency == "leaf continues past a natural boundary")

        // A leaf split after its first record: the cut has no reason.
        var split = f.leaves
        let k = f.interiorLeaf(minRecords: 3)
        let head = Array(split[k].records.prefix(1))
        split[k].records.removeFirst()
        split.insert(ReferenceLeaf(records: head, raw: [], id: .zero, endsNaturally: false, endsIndexGroup: false), at: k)
        let splitForgery = f.forge(Forge.specs(split.map(\.records)), groupEnds: split.map(\.endsIndexGroup))
        #expect(f.error(splitForgery.manifest, splitForgery.chunks)?.code.inconsistency == "leaf ends without a boundary")

        // A forced cut one record early.
        let forced = try #require(f.leaves.indices.dropLast().first { !f.leaves[$0].endsNaturally })
        var early = f.leaves
        let moved = early[forced].records.removeLast()
        early[forced + 1].records.insert(moved, at: 0)
        let earlyForgery = f.forge(Forge.specs(early.map(\.records)), groupEnds: early.map(\.endsIndexGroup))
        #expect(f.error(earlyForgery.manifest, earlyForgery.chunks)?.code.kind == "inconsistent")

        // Control: the reference cut itself loads.
        let control = f.forge(Forge.specs(f.leaves.map(\.records)), groupEnds: f.leaves.map(\.endsIndexGroup))
        #expect(control.manifest.stateRoot == f.manifest.stateRoot)
        #expect(f.error(control.manifest, control.chunks) == nil)
    }

    @Test("a leaf longer than the forced limit is refused, in the middle and at the end")
    func leafOverForcedLimit() throws {
        let rules = Boundaries(recordsPerChunk: 4)
        // 40 keys without a natural boundary, then one with: the canonical cut
        // is 32 (forced) + 9; the forgery keeps all 41 in one leaf.
        var keys = [RecordKey]()
        var candidate = 0
        while keys.count < 40 {
            let key = KeySpace.key(candidate)
            if !rules.isNatural(key) { keys.append(key) }
            candidate += 1
        }
        var natural = KeySpace.key(candidate)
        while !rules.isNatural(natural) { candidate += 1; natural = KeySpace.key(candidate) }
        var rng = SplitMix64(seed: 31)
        let records = (keys + [natural]).map { ($0, rng.bytes(5)) }
        let canonical = Reference.leaves(records, recordsPerChunk: 4)
        #expect(canonical.map(\.records.count) == [32, 9])

        let template = try ReaderFixture(count: 40).manifest
        let honest = Forge.snapshot(leaves: Forge.specs(canonical.map(\.records)), groupEnds: canonical.map(\.endsIndexGroup),
                                    template: template)
        #expect(try sameRecords(loadBytes(honest.manifest, honest.chunks, recordsPerChunk: 4).get(), records))

        let long = Forge.snapshot(leaves: Forge.specs([records]), groupEnds: [rules.endsGroup(natural)], template: template)
        #expect(loadBytes(long.manifest, long.chunks, recordsPerChunk: 4).failure?.code.kind == "inconsistent",
                "a 41-record leaf where at most 32 fit")

        // The last leaf of a snapshot may end without a natural boundary,
        // but not beyond the forced limit either.
        let tail = Array(records.prefix(40))
        let longTail = Forge.snapshot(leaves: Forge.specs([tail]), groupEnds: [false], template: template)
        #expect(loadBytes(longTail.manifest, longTail.chunks, recordsPerChunk: 4).failure?.code.kind == "inconsistent")
        let tailCut = Reference.leaves(tail, recordsPerChunk: 4)
        let honestTail = Forge.snapshot(leaves: Forge.specs(tailCut.map(\.records)), groupEnds: tailCut.map(\.endsIndexGroup),
                                        template: template)
        #expect(loadBytes(honestTail.manifest, honestTail.chunks, recordsPerChunk: 4).failure == nil)
    }

    @Test("index chunks grouped where the canonical grouping does not are refused")
    func nonCanonicalGroups() throws {
        let f = try ReaderFixture(count: 600)
        let ends = f.groupEnds
        let groups = Reference.groups(endsGroup: ends)
        let wide = try #require(groups.firstIndex { $0.count >= 2 })
        // A group cut in two.
        var cut = groups
        let g = groups[wide]
        cut.replaceSubrange(wide...wide, with: [g.lowerBound..<(g.lowerBound + 1), (g.lowerBound + 1)..<g.upperBound])
        let early = f.forge(f.specs, groupEnds: ends, groups: cut)
        #expect(f.error(early.manifest, early.chunks)?.code.inconsistency == "index chunk does not end at a group boundary")
        // Two groups merged.
        #expect(groups.count >= 2)
        var joined = groups
        joined.replaceSubrange(0...1, with: [groups[0].lowerBound..<groups[1].upperBound])
        let late = f.forge(f.specs, groupEnds: ends, groups: joined)
        #expect(f.error(late.manifest, late.chunks)?.code.inconsistency == "index chunk does not end at a group boundary")
    }

    @Test("an index chunk longer than the group limit is refused")
    func indexGroupOverLimit() throws {
        // With one record per chunk every key ends a leaf; keep 300 keys that
        // do not end an index group: the canonical grouping is 256 + 44.
        let rules = Boundaries(recordsPerChunk: 1)
        var keys = [RecordKey]()
        var candidate = 0
        while keys.count < 300 {
            let key = KeySpace.key(candidate)
            if !rules.endsGroup(key) { keys.append(key) }
            candidate += 1
        }
        let records = keys.map { ($0, [UInt8(truncatingIfNeeded: $0.bytes.last!)]) }
        let leaves = Reference.leaves(records, recordsPerChunk: 1)
        #expect(leaves.count == 300)
        let ends = leaves.map(\.endsIndexGroup)
        #expect(Reference.groups(endsGroup: ends) == [0..<256, 256..<300])

        let map = Sample.map(records)
        var chunks = MemoryChunks()
        let built = try Bytes.builder(recordsPerChunk: 1).build(map, metadata: [], into: &chunks)
        #expect(built.index.map(\.leafCount) == [256, 44], "the builder cuts full groups")
        let template = makeManifest(built, model: "test.bytes", version: 1)
        #expect(try sameRecords(loadBytes(template, chunks, recordsPerChunk: 1).get(), records))

        let oversized = Forge.snapshot(leaves: Forge.specs(leaves.map(\.records)), groupEnds: ends, groups: [0..<300], template: template)
        #expect(loadBytes(oversized.manifest, oversized.chunks, recordsPerChunk: 1).failure?.code.kind == "inconsistent")
    }

    @Test("keys that do not ascend across chunks are refused")
    func keysAcrossChunks() throws {
        let f = try ReaderFixture()
        // Two leaves, each valid on its own, in the wrong order.
        let j = f.interiorLeaf()
        var swapped = f.leaves
        swapped.swapAt(j, j + 1)
        let forgery = f.forge(Forge.specs(swapped.map(\.records)), groupEnds: swapped.map(\.endsIndexGroup))
        let error = f.error(forgery.manifest, forgery.chunks)
        #expect(error?.code.decodingError?.code == .notCanonical)
        #expect(error?.code.decodingError?.field == "leaf.key")

        // A key repeated as a leaf of its own: every leaf is locally fine.
        var repeated = f.leaves
        let last = repeated[j].records[repeated[j].records.count - 1]
        repeated.insert(ReferenceLeaf(records: [last], raw: [], id: .zero, endsNaturally: true, endsIndexGroup: false), at: j + 1)
        let duplicate = f.forge(Forge.specs(repeated.map(\.records)), groupEnds: repeated.map(\.endsIndexGroup))
        #expect(f.error(duplicate.manifest, duplicate.chunks)?.code.decodingError?.code == .notCanonical)
    }

    @Test("state root, metadata, model and version are checked against the chunks")
    func stateRoot() throws {
        let f = try ReaderFixture()
        var rng = SplitMix64(seed: 8)
        for change in [{ (m: inout SnapshotManifest) in m.stateRoot = Keys.hash(&rng) }, { $0.metadata = [4, 3] }, { $0.metadata = [] },
                       { $0.model = "test.other" }, { $0.modelVersion = 2 }] {
            var m = f.manifest
            change(&m)
            #expect(f.error(resigned(m), f.chunks)?.code == .stateRootMismatch)
        }
        // Frontier and creation time are not part of the state.
        var m = f.manifest
        m.frontier = Keys.frontier(feeds: 3, using: &rng)
        m.createdAt = 1
        #expect(f.error(resigned(m), f.chunks) == nil)
    }

    @Test("the wrong chunking parameter or record decoder is caught")
    func wrongParameters() throws {
        let f = try ReaderFixture()
        #expect(loadBytes(f.manifest, f.chunks, recordsPerChunk: 8).failure?.code.kind == "inconsistent")
        #expect(loadBytes(f.manifest, f.chunks, recordsPerChunk: 2).failure?.code.kind == "inconsistent")
        let asObjects = snapshotError { () throws(SnapshotError) in
            try SnapshotReader.load(f.manifest, from: f.chunks, recordsPerChunk: 4, decodeValue: Objects.decode)
        }
        #expect(asObjects?.code.kind == "malformed")
    }

    @Test("the first bad leaf in key order is reported, whatever the number of workers")
    func deterministicErrors() throws {
        let f = try ReaderFixture(count: 800)
        let first = f.layout[5].id
        let second = f.layout[f.layout.count - 3].id
        var chunks = f.chunks
        chunks.chunks[second] = f.chunks.chunks[f.layout[0].id]
        chunks.chunks[first]![0] ^= 0xFF
        for workers in [1, 2, 3, 8] {
            let error = try #require(f.error(f.manifest, chunks, workers: workers))
            #expect(error.code.compressionError != nil, "workers \(workers): \(error)")
        }
        chunks.chunks[first] = nil
        #expect(f.error(f.manifest, chunks, workers: 8)?.code == .missingChunk(id: first.hex))
    }
}

extension Result {
    var failure: Failure? { if case .failure(let e) = self { e } else { nil } }
}

/// Chunks checked on arrival (`precheck`) are found by `verifiedChunk` only
/// for the very same bytes, and the declared sizes still count.
@Suite("SnapshotReader: prechecked chunks")
struct PrecheckTests {
    static func chunk(seed: UInt64) throws -> (id: Hash, raw: [UInt8], compressed: [UInt8]) {
        var rng = SplitMix64(seed: seed)
        let raw = rng.bytes(3000) + [UInt8](repeating: 7, count: 3000)
        return (Hash.of(raw, domain: SnapshotDomains.chunk), raw, try Zstd.compress(raw))
    }

    @Test func aPrecheckedChunkIsFoundWithTheSameChecks() throws {
        let c = try Self.chunk(seed: 0x9C01)
        SnapshotReader.precheck(c.compressed, id: c.id)
        // Sizes other than the index declares still fail, prechecked or not.
        #expect(throws: SnapshotError.self) {
            _ = try SnapshotReader.verifiedChunk(c.compressed, id: c.id, rawSize: c.raw.count - 1, compressedSize: c.compressed.count)
        }
        SnapshotReader.precheck(c.compressed, id: c.id)
        #expect(try SnapshotReader.verifiedChunk(c.compressed, id: c.id, rawSize: c.raw.count, compressedSize: c.compressed.count) == c.raw)
        // Still held (for the install to take): the same answer again.
        #expect(try SnapshotReader.verifiedChunk(c.compressed, id: c.id, rawSize: c.raw.count, compressedSize: c.compressed.count) == c.raw)
    }

    @Test func otherBytesUnderTheSameIdAreCheckedInFull() throws {
        let c = try Self.chunk(seed: 0x9C02)
        let other = try Self.chunk(seed: 0x9C03)
        SnapshotReader.precheck(c.compressed, id: c.id)
        // Another chunk's bytes claimed under this id: no shortcut, and they fail.
        #expect(throws: SnapshotError.self) {
            _ = try SnapshotReader.verifiedChunk(other.compressed, id: c.id, rawSize: other.raw.count,
                                                 compressedSize: other.compressed.count)
        }
        // A chunk that does not hash to its id is never remembered.
        SnapshotReader.precheck(other.compressed, id: c.id)
        #expect(try SnapshotReader.verifiedChunk(c.compressed, id: c.id, rawSize: c.raw.count, compressedSize: c.compressed.count) == c.raw)
        #expect(throws: SnapshotError.self) {
            _ = try SnapshotReader.verifiedChunk(other.compressed, id: c.id, rawSize: other.raw.count,
                                                 compressedSize: other.compressed.count)
        }
    }
}

/// Serves a snapshot's chunks, some replaced (`served`), and vouches for
/// the raw bytes of those it lists in `raw`, as a source that checked them
/// on arrival does.
struct VouchingSource: ChunkSource {
    var chunks: MemoryChunks
    var served: [Hash: [UInt8]] = [:]
    var raw: [Hash: [UInt8]] = [:]

    func compressedChunk(_ id: Hash, limit: Int) throws(SnapshotError) -> [UInt8]? { served[id] ?? chunks.chunks[id] }

    func checkedRaw(_ id: Hash, compressed: [UInt8]) -> [UInt8]? {
        served[id] == compressed ? raw[id] : nil
    }
}
