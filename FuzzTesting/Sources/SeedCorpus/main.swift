// Writes the seed corpus: one valid input per decoder, prefixed with the
// selector byte its fuzz target expects (wire frames need none: one file per
// message kind). Run by `make fuzz-corpus`.
import SheafCodec
import SheafCollections
import SheafCompression
import SheafCrypto
import SheafFeeds
import SheafModels
import SheafProtocol
import SheafSnapshots

#if canImport(Glibc)
import Glibc
#endif

let root = CommandLine.arguments.count > 1 ? CommandLine.arguments[1] : "Corpus"

func write(_ target: String, _ name: String, _ bytes: [UInt8]) {
    mkdir("\(root)/\(target)", 0o755)
    let path = "\(root)/\(target)/\(name)"
    guard let file = fopen(path, "wb") else { fatalError("cannot write \(path)") }
    _ = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
    fclose(file)
    print("wrote \(path) (\(bytes.count) bytes)")
}

let writerKey = KeyPair(seed: [UInt8](repeating: 1, count: 32))!
let otherKey = KeyPair(seed: [UInt8](repeating: 2, count: 32))!
var writer = FeedWriter(keyPair: writerKey)
let batch = try writer.append([
    EntryDraft(payload: Array("first".utf8)),
    EntryDraft(payload: Array("second".utf8), dependencies: [Dependency(feed: otherKey.publicKey, seq: 3)]),
    EntryDraft(payload: []),
], timestamp: 1_700_000_000_000)
let entries = try batch.entries()
write("entry", "entry", [0] + entries[1].canonicalBytes)
write("entry", "signed-head", [1] + batch.head.canonicalBytes)
var frontier = Frontier()
frontier.advance(writerKey.publicKey, to: batch.head.anchor)
frontier.advance(otherKey.publicKey, to: FeedAnchor(seq: 3, hash: Hash.of([1, 2, 3], domain: HashDomain("seed"))))
write("entry", "frontier", [2] + frontier.canonicalBytes)
var forked = FeedWriter(keyPair: writerKey)
let fork = try forked.append([EntryDraft(payload: Array("other".utf8))], timestamp: 1)
var first = FeedWriter(keyPair: writerKey)
let original = try first.append([EntryDraft(payload: Array("first".utf8))], timestamp: 2)
let forkProof = try ForkProof(original.head, fork.head)
write("entry", "fork-proof", [3] + forkProof.canonicalBytes)
write("entry", "range", [4] + batch.encodedRange())

/// Collects chunks in memory.
final class MemorySink: ChunkSink {
    var chunks: [Hash: (raw: Int, compressed: [UInt8])] = [:]
    func storedSize(of id: Hash) -> Int? { chunks[id]?.compressed.count }
    func put(id: Hash, rawSize: Int, compressed: [UInt8]) throws(SnapshotError) { chunks[id] = (rawSize, compressed) }
}

var store = ObjectStore()
for i in 0..<40 {
    let op = ObjectStore.Op.put(id: "obj-\(i)", fields: ["name": .string("object \(i)"), "n": .int(Int64(i)), "ok": .bool(i % 2 == 0)])
    _ = store.apply(op.encoded, context: EntryContext(feed: writerKey.publicKey, seq: UInt64(i + 1), lamport: UInt64(i + 1)))
}
_ = store.apply(ObjectStore.Op.setParent(id: "obj-1", parent: "obj-0").encoded,
                context: EntryContext(feed: otherKey.publicKey, seq: 1, lamport: 100))
let builder = SnapshotBuilder<ObjectRecord>(
    model: ObjectStore.descriptor.name, version: ObjectStore.descriptor.version,
    codec: RecordCodec(encode: { ObjectStore.encode($0, into: &$1) }, isEqual: { $0 == $1 }),
    recordsPerChunk: ObjectStore.recordsPerChunk)
var sink = MemorySink()
let built = try builder.build(store.records, metadata: [0, 0], into: &sink)
let manifest = SnapshotManifest(space: writerKey.publicKey, model: ObjectStore.descriptor.name, modelVersion: 1,
                                content: .records, frontier: frontier, built: built, createdAt: 1_700_000_000_000,
                                signedBy: writerKey)
write("manifest", "manifest", [0] + manifest.encoded)
let attestation = Attestation(space: writerKey.publicKey, model: ObjectStore.descriptor.name, modelVersion: 1,
                              frontier: frontier, stateRoot: built.stateRoot, signedBy: otherKey)
write("manifest", "attestation", [1] + attestation.encoded)

let leaf = built.layout.leaves[0]
guard let stored = sink.chunks[leaf.id], let index = sink.chunks[built.index[0].id] else { fatalError("chunks missing") }
let decompressor = Zstd.Decompressor()
let rawLeaf = try decompressor.decompress(stored.compressed, maxOutput: stored.raw)
let rawIndex = try decompressor.decompress(index.compressed, maxOutput: index.raw)
write("chunk", "zstd-leaf", [0] + stored.compressed)
write("chunk", "index", [1] + rawIndex)
write("chunk", "leaf", [2] + rawLeaf)

// Wire frames: every message kind once (a few twice), carrying the values above.
let peer = PeerAddress(node: writerKey.publicKey, endpoint: "127.0.0.1:7000")
let otherPeer = PeerAddress(node: otherKey.publicKey, endpoint: "sim-2")
let space = DiscoveryKey(space: writerKey.publicKey)
let head = BroadcastID(feed: writerKey.publicKey, seq: batch.head.seq)
let request = FeedRangeRequest(feed: writerKey.publicKey, after: 1, through: 3)
let offer = SnapshotOffer(manifest: manifest.id, entryCount: frontier.entryCount, stateRoot: built.stateRoot,
                          signer: writerKey.publicKey, compressedBytes: manifest.compressedBytes, createdAt: manifest.createdAt)
let spaceMessages: [SpaceMessage] = [
    .overlay(.join), .overlay(.forwardJoin(joiner: otherPeer, ttl: 6)), .overlay(.neighbor(highPriority: true)),
    .overlay(.neighborReply(accepted: false)), .overlay(.disconnect(alive: true)),
    .overlay(.shuffle(origin: peer, ttl: 3, peers: [otherPeer, peer])), .overlay(.shuffleReply(peers: [otherPeer])),
    .broadcast(.gossip(id: head, round: 2, after: 0, range: batch.encodedRange())),
    .broadcast(.ihave([Announcement(id: head, round: 1), Announcement(id: BroadcastID(feed: otherKey.publicKey, seq: 300), round: 4)])),
    .broadcast(.graft(id: head, round: 1)), .broadcast(.prune),
    .sync(.frontier(frontier)), .sync(.request(request)), .sync(.range(feed: writerKey.publicKey, after: 0, range: batch.encodedRange())),
    .sync(.unavailable(request, reason: .pruned(through: 2))), .sync(.unavailable(request, reason: .forked)),
    .snapshot(.requestOffers), .snapshot(.requestSnapshot), .snapshot(.offers([offer])), .snapshot(.requestManifest(manifest.id)),
    .snapshot(.manifest(manifest.encoded)), .snapshot(.requestChunks([leaf.id, built.index[0].id])),
    .snapshot(.chunk(id: leaf.id, compressed: stored.compressed)), .snapshot(.chunkMissing(leaf.id)),
    .snapshot(.attestations([attestation.encoded])),
    .evidence(.fork(forkProof)), .evidence(.snapshotFraud(manifest: manifest.encoded)),
]
let messages: [WireMessage] = [
    .hello(Hello(address: peer)), .ping(nonce: 0x1234_5678_9ABC), .pong(nonce: 7),
    .open(OpenSpace(space: writerKey.publicKey, session: Hash.of([9], domain: HashDomain("seed")))),
    .close(space, reason: .notNeeded),
] + spaceMessages.map { .space(space, $0) }
var written: [WireMessageKind: Int] = [:]
for message in messages {
    let index = written[message.kind, default: 0]
    written[message.kind] = index + 1
    write("wire", index == 0 ? message.kind.rawValue : "\(message.kind.rawValue)-\(index + 1)", WireCodec.encode(message))
}
