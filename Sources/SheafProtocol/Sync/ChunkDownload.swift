import SheafCrypto
import SheafSnapshots

/// Downloads one snapshot's chunks from every neighbour that offers it, in
/// parallel, with a window of requests per neighbour: index chunks first
/// (they name the leaves), then the leaves. A chunk that times out, is
/// missing or fails its checks is asked of another neighbour.
///
/// A neighbour asked with `snapshot.requestSnapshot` streams every chunk
/// unasked; while its stream makes progress, every chunk counts as asked of
/// it, and only chunks it failed are asked of others.
///
/// Chunks are kept in memory until the snapshot is complete; a W1 snapshot
/// of a million entries is about 5 MB compressed.
struct ChunkDownload {
    struct Ref: Hashable {
        var id: Hash
        var rawSize: Int
        var compressedSize: Int
        var isIndex: Bool
    }

    enum Outcome {
        case accepted
        case rejected(String)
        /// Not asked of this peer, or already held: ignored.
        case unexpected
    }

    let manifest: SnapshotManifest
    /// `manifest.id`, which encodes and hashes the whole manifest on every read.
    let manifestID: Hash
    private(set) var sources: [PublicKey]
    private var queue: [Ref] = []
    private var queueHead = 0
    private var requested: [Hash: (ref: Ref, peer: PublicKey, deadline: NodeTime, asked: NodeTime)] = [:]
    private var inFlight: [PublicKey: Int] = [:]
    private var failedAt: [Hash: Set<PublicKey>] = [:]
    private(set) var chunks: [Hash: DownloadedChunk] = [:]
    private var leavesQueued: UInt64 = 0
    private(set) var bytesDone: UInt64 = 0
    /// The neighbour streaming this snapshot, when its last chunk came, and
    /// how long it may then stay silent.
    private(set) var streamer: PublicKey?
    private var streamProgress = NodeTime.zero
    private var streamTimeout = Duration.zero

    init(manifest: SnapshotManifest, sources: [PublicKey]) {
        self.manifest = manifest
        manifestID = manifest.id
        self.sources = sources.sorted()
        queue = manifest.index.map { Ref(id: $0.id, rawSize: $0.rawSize, compressedSize: $0.compressedSize, isIndex: true) }
    }

    var chunksTotal: Int { manifest.index.count + Int(clamping: manifest.leafCount) }
    var chunksDone: Int { chunks.count }
    var bytesTotal: UInt64 { manifest.compressedBytes }
    var isComplete: Bool { requested.isEmpty && queueHead == queue.count && UInt64(chunks.count) == UInt64(manifest.index.count) + manifest.leafCount }

    mutating func addSource(_ peer: PublicKey) {
        guard !sources.contains(peer) else { return }
        sources.append(peer)
        sources.sort()
    }

    /// `peer` streams every chunk (`snapshot.requestSnapshot`), from `now`
    /// on; if it stays silent for `timeout`, its chunks are asked of others.
    mutating func stream(from peer: PublicKey, now: NodeTime, timeout: Duration) {
        addSource(peer)
        streamer = peer
        streamProgress = now
        streamTimeout = timeout
    }

    /// Whether a stream of `offer` would bring this download's chunks while
    /// nothing streams them: it is the same snapshot, or one of the same
    /// state root (another signer's, at the same frontier), whose chunks are
    /// the same since their ids are hashes.
    func takesStream(of offer: SnapshotOffer) -> Bool {
        streamer == nil && (manifestID == offer.manifest || manifest.stateRoot == offer.stateRoot)
    }

    /// Forgets a neighbour; what it was asked goes back to the queue.
    mutating func removeSource(_ peer: PublicKey) {
        if streamer == peer { streamer = nil }
        sources.removeAll { $0 == peer }
        // In id order, not the dictionary's: its order changes with each
        // process's hash seed, and the queue order must reproduce.
        for id in requested.filter({ $0.value.peer == peer }).keys.sorted() { requeue(id) }
        inFlight[peer] = nil
    }

    /// The next requests to send: chunk ids per neighbour, filling each
    /// neighbour's window, never asking a neighbour for a chunk it failed.
    mutating func nextRequests(now: NodeTime, timeout: Duration, window: Int, perRequest: Int) -> [(PublicKey, [Hash])] {
        var batches: [PublicKey: [Hash]] = [:]
        var skipped: [Ref] = []
        while queueHead < queue.count {
            let ref = queue[queueHead]
            let failed = failedAt[ref.id] ?? []
            if let streamer, !failed.contains(streamer) {
                // On its way in the stream: nothing to send.
                queueHead += 1
                requested[ref.id] = (ref, streamer, NodeTime(nanoseconds: .max), now)
                continue
            }
            let open = sources.filter { !failed.contains($0) && (inFlight[$0] ?? 0) < window }
            guard let peer = open.min(by: { (inFlight[$0] ?? 0, $0) < (inFlight[$1] ?? 0, $1) }) else {
                // No one free may serve this chunk now; if no one ever can, forget who failed.
                if sources.allSatisfy({ failed.contains($0) }) { failedAt[ref.id] = nil; skipped.append(ref) ; queueHead += 1; continue }
                break
            }
            queueHead += 1
            requested[ref.id] = (ref, peer, now + timeout, now)
            inFlight[peer, default: 0] += 1
            batches[peer, default: []].append(ref.id)
        }
        queue.append(contentsOf: skipped)
        compactQueue()
        return batches.sorted { $0.key < $1.key }.flatMap { peer, ids in
            stride(from: 0, to: ids.count, by: max(1, perRequest)).map { (peer, Array(ids[$0..<min(ids.count, $0 + max(1, perRequest))])) }
        }
    }

    /// A chunk arrived: verify it; an index chunk queues the leaves it names.
    mutating func received(_ id: Hash, compressed: [UInt8], from peer: PublicKey, now: NodeTime) -> Outcome {
        // The streamer sends everything: a chunk asked of another neighbour
        // before the stream began is taken from whichever copy comes first.
        guard let item = requested[id], item.peer == peer || peer == streamer else { return .unexpected }
        if peer == streamer { streamProgress = max(streamProgress, now) }
        release(id)
        let outcome = take(item.ref, compressed)
        if case .rejected = outcome {
            failedAt[id, default: []].insert(peer)
            queue.append(item.ref)
        }
        return outcome
    }

    /// A chunk pushed before it was asked for (index chunks sent with an
    /// offer): taken if it is still queued and checks out.
    mutating func provide(_ id: Hash, compressed: [UInt8]) -> Outcome {
        guard let position = queue[queueHead...].firstIndex(where: { $0.id == id }) else { return .unexpected }
        let ref = queue[position]
        let outcome = take(ref, compressed)
        if case .accepted = outcome { queue.remove(at: position) }
        return outcome
    }

    private mutating func take(_ ref: Ref, _ compressed: [UInt8]) -> Outcome {
        let raw: [UInt8]
        do {
            raw = try SnapshotReader.verifiedChunk(compressed, id: ref.id, rawSize: ref.rawSize, compressedSize: ref.compressedSize)
        } catch {
            return .rejected("\(error)")
        }
        if ref.isIndex {
            let entries: [IndexEntry]
            do { entries = try IndexEntry.decode(raw) } catch {
                // The chunk hashes to its id, so the signer made it: the manifest is bad.
                return .rejected("index chunk \(ref.id.hex.prefix(12)) is malformed: \(error)")
            }
            guard leavesQueued + UInt64(entries.count) <= manifest.leafCount else {
                return .rejected("index chunks list more leaves than the manifest's \(manifest.leafCount)")
            }
            leavesQueued += UInt64(entries.count)
            queue.append(contentsOf: entries.map { Ref(id: $0.id, rawSize: $0.rawSize, compressedSize: $0.compressedSize, isIndex: false) })
        }
        chunks[ref.id] = DownloadedChunk(rawSize: ref.rawSize, compressed: compressed)
        bytesDone += UInt64(compressed.count)
        return .accepted
    }

    /// The peer does not hold a chunk it was asked for.
    mutating func missing(_ id: Hash, at peer: PublicKey) -> Bool {
        guard let item = requested[id], item.peer == peer else { return false }
        failedAt[id, default: []].insert(peer)
        requeue(id)
        return true
    }

    /// Requests past their deadline go back to the queue; returns the peers
    /// that let them expire. A request whose peer `isBusy` (still sending,
    /// waited for since the time given) gets another `timeout` instead.
    mutating func expire(now: NodeTime, timeout: Duration = .zero,
                         isBusy: (PublicKey, NodeTime) -> Bool = { _, _ in false }) -> [PublicKey] {
        var late: Set<PublicKey> = []
        // A stream silent for too long ends: what it still owes is asked of others.
        if let streamer, streamProgress + streamTimeout <= now {
            self.streamer = nil
            for id in requested.filter({ $0.value.peer == streamer }).keys.sorted() {
                late.insert(streamer)
                failedAt[id, default: []].insert(streamer)
                requeue(id)
            }
        }
        for (id, item) in requested.filter({ $0.value.deadline <= now }).sorted(by: { $0.key < $1.key }) {
            if isBusy(item.peer, item.asked) {
                requested[id]?.deadline = now + timeout
                continue
            }
            late.insert(item.peer)
            failedAt[id, default: []].insert(item.peer)
            requeue(id)
        }
        return late.sorted()
    }

    /// Whether the download can still finish: someone may serve what is left.
    var isStalled: Bool { sources.isEmpty && !isComplete }

    private mutating func requeue(_ id: Hash) {
        guard let item = requested[id] else { return }
        release(id)
        queue.append(item.ref)
    }

    private mutating func release(_ id: Hash) {
        guard let item = requested.removeValue(forKey: id) else { return }
        guard item.deadline != NodeTime(nanoseconds: .max) else { return }
        let count = (inFlight[item.peer] ?? 1) - 1
        inFlight[item.peer] = count > 0 ? count : nil
    }

    private mutating func compactQueue() {
        if queueHead > 4096 && queueHead * 2 > queue.count {
            queue.removeFirst(queueHead)
            queueHead = 0
        }
    }
}
