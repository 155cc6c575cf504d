import SheafCodec
import SheafCollections
import SheafCrypto
import SheafFeeds
import SheafRandom
import SheafSnapshots
import Testing

@testable import SheafProtocol

/// The key pair whose seed is 32 bytes drawn from `seed`.
func testKeyPair(seed: UInt64) -> KeyPair {
    var rng = SplitMix64(seed: seed)
    guard let pair = KeyPair(seed: rng.bytes(32)) else { preconditionFailure("32 bytes make a seed") }
    return pair
}

/// A public key no one holds the secret of, for peers that never sign.
func testKey(_ n: UInt64) -> PublicKey { testKeyPair(seed: 0xFEED_0000 + n).publicKey }

/// An arbitrary hash, distinct per `n`.
func testHash(_ n: UInt64) -> Hash { Hash.of(Array("hash-\(n)".utf8), domain: HashDomain("test")) }

extension NodeTime {
    static func seconds(_ s: UInt64) -> NodeTime { NodeTime(nanoseconds: s * 1_000_000_000) }
    static func milliseconds(_ ms: UInt64) -> NodeTime { NodeTime(nanoseconds: ms * 1_000_000) }
}

/// `count` small entry drafts, distinct per `tag`.
func drafts(_ count: Int, tag: Int) -> [EntryDraft] {
    (0..<count).map { EntryDraft(payload: Array("entry \(tag).\($0)".utf8)) }
}

/// A range signed by someone else: the head claims `batch.feed` but its
/// signature is another key's over the same (feed, seq, hash).
func forgedRange(of batch: VerifiedBatch, signedBy forger: KeyPair) -> [UInt8] {
    let body = SignedHead.signedBody(feed: batch.feed, seq: batch.head.seq, hash: batch.head.hash)
    let head = SignedHead(feed: batch.feed, seq: batch.head.seq, hash: batch.head.hash,
                          signature: forger.sign(body, domain: FeedDomains.signedHead))
    var writer = ByteWriter()
    EncodedRange.encode(head: head, bodies: batch.bodyRanges.map { batch.buffer[$0] }, into: &writer)
    return writer.bytes
}

// MARK: Snapshots with real chunks

/// Built chunks kept in memory.
struct MemoryChunkSink: ChunkSink {
    var chunks: [Hash: [UInt8]] = [:]
    func storedSize(of id: Hash) -> Int? { chunks[id]?.count }
    mutating func put(id: Hash, rawSize: Int, compressed: [UInt8]) throws(SnapshotError) { chunks[id] = compressed }
}

/// A real snapshot of `records` byte-string records: its manifest, every
/// chunk (compressed, by id), and which leaves each index chunk names.
struct TestSnapshot {
    var manifest: SnapshotManifest
    var chunks: [Hash: [UInt8]]
    var leavesOf: [Hash: [Hash]]

    var indexIDs: [Hash] { manifest.index.map(\.id) }
    var leafIDs: Set<Hash> { Set(leavesOf.values.joined()) }

    init(records: Int, space: PublicKey, signer: KeyPair, frontier: Frontier, recordsPerChunk: Int = 2, tag: String = "") throws {
        let codec = RecordCodec<[UInt8]>(encode: { value, writer in writer.writeRaw(value) }, isEqual: { $0 == $1 })
        var builder = SnapshotBuilder(model: "test.bytes", version: 1, codec: codec, recordsPerChunk: recordsPerChunk)
        builder.workers = 1
        let map = try #require(SortedMap(sortedRecords: (0..<records).map { i in
            (RecordKey(Array("record-\(String(repeating: "0", count: 6 - String(i).count))\(i)".utf8)), Array("value \(i) \(tag)".utf8))
        }))
        var sink = MemoryChunkSink()
        let built = try builder.build(map, metadata: [1, 2, 3], into: &sink)
        manifest = SnapshotManifest(space: space, model: "test.bytes", modelVersion: 1, content: .records, frontier: frontier,
                                    built: built, createdAt: 1_700_000_000_000, signedBy: signer)
        chunks = sink.chunks
        leavesOf = [:]
        for ref in manifest.index {
            let raw = try SnapshotReader.verifiedChunk(try #require(chunks[ref.id]), id: ref.id, rawSize: ref.rawSize,
                                                       compressedSize: ref.compressedSize)
            leavesOf[ref.id] = try IndexEntry.decode(raw).map(\.id)
        }
    }
}

extension ChunkDownload.Outcome {
    var isAccepted: Bool { if case .accepted = self { true } else { false } }
    var isRejected: Bool { if case .rejected = self { true } else { false } }
    var isUnexpected: Bool { if case .unexpected = self { true } else { false } }
}
