import SheafCodec
import SheafCrypto
import SheafFeedLog
import SheafFeeds
import SheafFiles
import SheafModels
import SheafParallel
import SheafSnapshots

/// What re-deriving a snapshot's state root from local history found.
public enum SnapshotAudit: Hashable, Sendable {
    /// The root follows from the frontier.
    case consistent
    /// The history up to the frontier gives another root: the manifest lies.
    case inconsistent(derived: Hash)
    /// This replica cannot judge: it lacks (or has pruned) part of that history,
    /// or its entries disagree with the frontier's hashes (a fork, not a lie
    /// about the state).
    case cannotAudit(String)
}

/// Serving peers and joining from their snapshots: the calls the protocol
/// driver makes on a replica.
extension Replica {
    // MARK: Serving history

    /// Entries of `feed` after `after`, ending at a stored signed head, for a
    /// peer to verify from its anchor at `after`. The range ends at the last
    /// signed head at or before `through` (or the first one after it, when
    /// none is), and holds at most `maxEntries` unless the first batch after
    /// `after` alone is larger: a batch is the smallest range that verifies,
    /// so it goes whole. Nil if nothing after `after` is held.
    public func servableRange(of feed: PublicKey, after: UInt64, through: UInt64, maxEntries: Int) throws -> VerifiedBatch? {
        try checkOpen()
        let log = try self.log(feed)
        guard after < log.length, through > after else { return nil }
        if let pruned = log.prunedAnchor, after < pruned.seq {
            throw ReplicaError(.pruned("\(feed) entries up to \(log.prunedAnchor?.seq ?? 0)"))
        }
        let heads = log.signedHeadSeqs
        let cap = after + UInt64(max(1, maxEntries))
        let end = heads.last { $0 > after && $0 <= min(through, cap) } ?? heads.first { $0 > after }
        guard let end else { return nil }
        do { return try log.range(after: after, through: end) } catch let error as FeedLogError {
            throw ReplicaError(.feedLog(error))
        } catch let error as FeedError { throw ReplicaError(.feed(error)) }
    }

    /// What to answer a peer asking for entries `after + 1 … through` of
    /// `feed`, in one call to the actor.
    public enum RangeAnswer: Sendable {
        /// History up to `through` was pruned (covered by a snapshot).
        case pruned(through: UInt64)
        case range(VerifiedBatch)
        case notHeld
    }

    /// `prunedThrough` and `servableRange` in one call: the answer to a peer's range request.
    public func answer(rangeOf feed: PublicKey, after: UInt64, through: UInt64, maxEntries: Int) throws -> RangeAnswer {
        let pruned = try prunedThrough(feed)
        if after < pruned { return .pruned(through: pruned) }
        return try servableRange(of: feed, after: after, through: through, maxEntries: maxEntries).map(RangeAnswer.range) ?? .notHeld
    }

    /// The signed head stored at exactly `seq` of `feed`, if any.
    public func signedHead(of feed: PublicKey, at seq: UInt64) throws -> SignedHead? {
        try checkOpen()
        let log = try self.log(feed)
        do { return try log.signedHead(at: seq) } catch { throw ReplicaError(.feedLog(error)) }
    }

    /// The newest signed head of `feed` this replica stores.
    public func latestHead(of feed: PublicKey) throws -> SignedHead? {
        try checkOpen()
        return try log(feed).latestHead
    }

    /// The hash of entry `seq` of `feed`, if held (not pruned).
    public func entryHash(of feed: PublicKey, at seq: UInt64) throws -> Hash? {
        try checkOpen()
        let log = try self.log(feed)
        if log.prunedAnchor?.seq == seq { return log.prunedAnchor?.hash }
        guard seq >= 1, seq <= log.length, !log.isPruned(seq) else { return nil }
        do { return try log.hash(at: seq) } catch { throw ReplicaError(.feedLog(error)) }
    }

    // MARK: Serving snapshots

    /// A stored manifest by id.
    public nonisolated func storedManifest(_ id: Hash) -> SnapshotManifest? { snapshots.manifest(id) }

    /// Every chunk of a stored snapshot, in the order a joiner needs them:
    /// the index chunks, then the leaves they name, in key order.
    public nonisolated func chunkIDs(of manifest: SnapshotManifest) throws -> [Hash] {
        let stored = try compressedChunks(manifest.index.map(\.id))
        var ids = manifest.index.map(\.id)
        for (ref, compressed) in zip(manifest.index, stored) {
            guard let compressed else { throw ReplicaError(.snapshot(SnapshotError(.missingChunk(id: ref.id.hex)))) }
            let raw: [UInt8]
            do { raw = try SnapshotReader.verifiedChunk(compressed, id: ref.id, rawSize: ref.rawSize, compressedSize: ref.compressedSize) } catch {
                throw ReplicaError(.snapshot(error))
            }
            do { ids.append(contentsOf: try IndexEntry.decode(raw).map(\.id)) } catch {
                throw ReplicaError(.snapshot(SnapshotError(.malformed(error))))
            }
        }
        return ids
    }

    /// Stored chunks, compressed as on disk (nil for those not held).
    public nonisolated func compressedChunks(_ ids: [Hash]) throws -> [[UInt8]?] {
        do { return try snapshots.compressedChunks(ids.map { ($0, SnapshotLimits.maxChunkCompressedBytes) }) } catch {
            throw ReplicaError(.snapshot(error))
        }
    }

    /// Attestations stored for a state root.
    public nonisolated func attestations(of stateRoot: Hash) -> [Attestation] { snapshots.attestations(of: stateRoot) }

    /// Stores another member's attestation (checked by the caller's trust policy).
    public func save(_ attestation: Attestation) throws {
        do { try snapshots.save(attestation) } catch { throw ReplicaError(.snapshot(error)) }
    }

    /// Signs an attestation of a snapshot this replica built or audited.
    public func attest(_ manifest: SnapshotManifest) -> Attestation {
        Attestation(space: space, model: manifest.model, modelVersion: manifest.modelVersion, frontier: manifest.frontier,
                    stateRoot: manifest.stateRoot, signedBy: keyPair)
    }

    // MARK: Joining from a snapshot

    /// Installs a snapshot downloaded from peers into an empty replica: the
    /// chunks are stored and checked against their ids, the state is loaded
    /// and verified against the manifest's state root, and every feed log
    /// continues from the snapshot's frontier (earlier history answers
    /// "pruned"). The caller has already decided to trust the signer; the
    /// replica remembers that, so a restart loads this snapshot again.
    public func install(_ manifest: SnapshotManifest, chunks: [Hash: (rawSize: Int, compressed: [UInt8])]) throws {
        try checkOpen()
        guard manifest.space == space else { throw ReplicaError(.wrongSpace("snapshot of another space")) }
        // Each feed's log must be empty (it will continue from the snapshot)
        // or already reach the snapshot's frontier (checked against it on
        // load). Logs not made yet are empty: they are made below.
        let existing: [PublicKey: FeedLog]
        do { existing = try feeds.existingLogs(manifest.frontier.feeds) } catch { throw ReplicaError(.feedLog(error)) }
        for (feed, anchor) in manifest.frontier.heads {
            guard let log = existing[feed] else { continue }
            guard log.length == 0 || log.length >= anchor.seq else {
                throw ReplicaError(.cannotInstall("the log of \(feed) stops at \(log.length), before the snapshot's \(anchor.seq)"))
            }
        }
        for (feed, seq) in core.delivered where seq > 0 && manifest.frontier[feed] == nil {
            throw ReplicaError(.cannotInstall("the replica holds entries of \(feed) the snapshot does not know"))
        }
        // The missing logs are made and the chunks written (the manifest
        // last) while the state loads from the chunks in memory: the load
        // takes longer than both. The state is adopted only once all
        // succeeded, so a failed write installs nothing.
        let store = snapshots
        let feeds = self.feeds
        let written = Parallel.fork { () throws(ReplicaError) -> [PublicKey: FeedLog] in
            let logs: [PublicKey: FeedLog]
            do throws(FeedLogError) { logs = try feeds.logs(manifest.frontier.feeds) } catch { throw ReplicaError(.feedLog(error)) }
            do throws(SnapshotError) {
                let pack = try store.beginPack()
                for (id, chunk) in chunks.sorted(by: { $0.key < $1.key }) where !store.contains(id) {
                    try pack.put(id: id, rawSize: chunk.rawSize, compressed: chunk.compressed)
                }
                try store.commit(pack, manifest: manifest)
            } catch { throw ReplicaError(.snapshot(error)) }
            return logs
        }
        let loading = Result { () throws -> Loader.Loaded<M> in
            try Loader.load(manifest, as: M.self, store: DownloadedChunks(chunks, over: store), space: space,
                            trusted: [manifest.signer], logs: existing)
        }
        let logs: [PublicKey: FeedLog]
        let loaded: Loader.Loaded<M>
        do {
            logs = try written.join()
            loaded = try loading.get()
        } catch {
            // Nothing was loaded: forget the snapshot so it is not offered to others.
            try? snapshots.deleteManifest(manifest.id)
            _ = try? snapshots.collectGarbage()
            throw error
        }
        // Each start writes and syncs a marker: side by side, the syncs share journal commits.
        let starts = manifest.frontier.heads.compactMap { feed, anchor in
            logs[feed].flatMap { $0.length == 0 ? ($0, anchor) : nil }
        }
        do { _ = try Parallel.mapWaiting(starts.count) { (i) throws(FeedLogError) in try starts[i].0.start(after: starts[i].1) } } catch {
            throw ReplicaError(.feedLog(error))
        }
        try InstalledSnapshots.add(manifest.id, directory: directory, durable: options.durability == .fsync)
        core = loaded.core
        last = loaded.last
        waiting = CausalBuffer(limit: options.maxWaitingEntries)
        // A Lamport time is at most the number of entries before it, so this
        // orders our next writes after everything the snapshot holds.
        maxLamport = max(maxLamport, manifest.frontier.entryCount)
        deliveredSinceSnapshot = 0
        startup.source = .snapshot(id: manifest.id.hex, entries: manifest.frontier.entryCount)
        // Entries stored beyond the snapshot (the genesis feed fetched first) apply on top.
        var stored: [PublicKey: FeedLog] = [:]
        do { for key in try feeds.storedFeeds() { stored[key] = try feeds.log(key) } } catch { throw ReplicaError(.feedLog(error)) }
        _ = try replay(logs: stored)
        logger.info("installed snapshot", metadata: ["snapshot": "\(manifest.id.hex.prefix(16))",
                                                     "entries": "\(manifest.frontier.entryCount)", "signer": "\(manifest.signer.hex.prefix(16))"])
    }

    // MARK: Auditing

    /// Re-derives the state at `manifest`'s frontier from this replica's own
    /// history and compares its root with the one the manifest claims.
    ///
    /// The replay runs off the actor (it takes seconds for a large space, and
    /// ingest must go on meanwhile) and reads each feed a window at a time,
    /// so memory stays bounded by the state, not the history. Logs only
    /// grow, so what it reads below the frontier cannot change under it.
    public func audit(_ manifest: SnapshotManifest) async throws -> SnapshotAudit {
        try checkOpen()
        guard manifest.space == space, manifest.model == M.descriptor.name, manifest.modelVersion == M.descriptor.version else {
            return .cannotAudit("another space, model or model version")
        }
        var logs: [PublicKey: FeedLog] = [:]
        for (feed, anchor) in manifest.frontier.heads {
            let log = try self.log(feed)
            guard log.length >= anchor.seq, log.prunedAnchor == nil else { return .cannotAudit("history of \(feed) not held") }
            guard try entryHash(of: feed, at: anchor.seq) == anchor.hash else {
                return .cannotAudit("the frontier disagrees with the local log of \(feed) at seq \(anchor.seq)")
            }
            logs[feed] = log
        }
        return try await Self.rederive(manifest, space: space, logs: logs)
    }

    /// Entries an audit reads from one feed at a time.
    static var auditWindow: UInt64 { 4096 }

    @concurrent
    private static func rederive(_ manifest: SnapshotManifest, space: PublicKey, logs: [PublicKey: FeedLog]) async throws
        -> SnapshotAudit
    {
        var derived = ReplicaCore<M>(space: space)
        var cursors: [PublicKey: AuditCursor] = [:]
        var progress = true
        while progress {
            progress = false
            for (feed, anchor) in manifest.frontier.heads.sorted(by: { $0.key < $1.key }) {
                guard let log = logs[feed] else { continue }
                var cursor = cursors[feed] ?? AuditCursor()
                while true {
                    if cursor.index == cursor.window.count {
                        guard cursor.next <= anchor.seq else { break }
                        let through = min(anchor.seq, cursor.next + auditWindow - 1)
                        cursor.window = try stored(log, from: cursor.next, through: through)
                        cursor.index = 0
                        cursor.next = through + 1
                    }
                    let entry = cursor.window[cursor.index]
                    guard entry.dependencies.allSatisfy({ derived.isDelivered($0) }) else { break }
                    _ = derived.deliver(entry)
                    cursor.index += 1
                    progress = true
                }
                cursors[feed] = cursor
            }
        }
        guard manifest.frontier.heads.allSatisfy({ derived.deliveredSeq($0.key) == $0.value.seq }) else {
            return .inconsistent(derived: Hash.zero)  // the frontier is not causally closed: no honest replica signs it
        }
        var sink = DiscardingSink()
        let root: Hash
        do { root = try Builder.build(core: derived, previous: nil, sink: &sink).built.stateRoot } catch {
            throw ReplicaError(.snapshot(error))
        }
        return root == manifest.stateRoot ? .consistent : .inconsistent(derived: root)
    }
}

/// Where an audit is in one feed: a window of entries read, the next to deliver.
private struct AuditCursor {
    var window: [Entry] = []
    var index = 0
    var next: UInt64 = 1
}

/// `snapshots/INSTALLED`: ids of snapshots this node installed from peers
/// after its trust policy accepted them, one hex id per line. Opening the
/// replica trusts these as it trusts its own.
enum InstalledSnapshots {
    static func path(_ directory: String) -> String { Path.join(Path.join(directory, "snapshots"), "INSTALLED") }

    static func read(directory: String) -> Set<String> {
        guard let bytes = try? FileDescriptor.readWholeFile(path(directory), limit: 1 << 20) else { return [] }
        return Set(String(decoding: bytes, as: UTF8.self).split(separator: "\n").map(String.init))
    }

    static func add(_ id: Hash, directory: String, durable: Bool) throws {
        var ids = read(directory: directory)
        ids.insert(id.hex)
        let text = ids.sorted().joined(separator: "\n") + "\n"
        do { try Directory.writeAtomically(Array(text.utf8), to: path(directory), durable: durable) } catch {
            throw ReplicaError(.feedLog(FeedLogError(.io(error))))
        }
    }
}

extension Replica {
    /// What a protocol node starts serving the space from, in one call to
    /// the actor: the stored frontier, the stored signed heads, and the
    /// feeds admitted now.
    public func servingState() throws -> (stored: Frontier, heads: [SignedHead], members: [PublicKey]) {
        (try storedFrontier(), try storedHeads(), admittedFeeds)
    }

    /// The last stored entry of every feed (stored, not necessarily applied:
    /// entries may wait for dependencies). What anti-entropy compares.
    public func storedFrontier() throws -> Frontier {
        try checkOpen()
        var heads: [PublicKey: FeedAnchor] = [:]
        let keys: [PublicKey]
        do { keys = try feeds.storedFeeds() } catch { throw ReplicaError(.feedLog(error)) }
        for key in keys {
            let tip = try log(key).tip
            if tip.seq > 0 { heads[key] = tip }
        }
        return Frontier(heads)
    }

    /// The newest signed head of every stored feed.
    public func storedHeads() throws -> [SignedHead] {
        try checkOpen()
        let keys: [PublicKey]
        do { keys = try feeds.storedFeeds() } catch { throw ReplicaError(.feedLog(error)) }
        return try keys.compactMap { try log($0).latestHead }
    }

    /// The last stored entry of one feed.
    public func storedTip(of feed: PublicKey) throws -> FeedAnchor { try log(feed).tip }

    /// Entries of `feed` up to this seq were pruned (0: none).
    public func prunedThrough(_ feed: PublicKey) throws -> UInt64 { try log(feed).prunedAnchor?.seq ?? 0 }
}
