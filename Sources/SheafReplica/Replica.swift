import Logging
import SheafCodec
import SheafCollections
import SheafCrypto
import SheafFeedLog
import SheafFeeds
import SheafFiles
import SheafModels
import SheafParallel
import SheafSnapshots

/// One space on one node: its feed logs, its model state, its snapshots.
///
/// Opening a replica loads the newest snapshot that verifies and replays only
/// the entries after its frontier; a damaged, untrusted or unloadable
/// snapshot falls back to an older one or to full replay, and `startup` (and
/// the log) says which and why. Entries, local or from peers, are delivered
/// to the model in causal order, only from admitted feeds. Snapshots are
/// built in the background from an immutable view of the state, re-encoding
/// only the chunks that changed, so appends and queries go on meanwhile.
public actor Replica<M: Model> {
    public nonisolated let space: PublicKey
    public nonisolated let directory: String
    /// This node's feed in the space.
    public nonisolated let feed: PublicKey
    public nonisolated let options: ReplicaOptions
    public internal(set) var startup: StartupReport

    let keyPair: KeyPair
    let logger: Logger
    let feeds: FeedStore
    let snapshots: SnapshotStore
    let handle = SpaceHandle()
    var core: ReplicaCore<M>
    var waiting: CausalBuffer
    var writer: FeedWriter
    var maxLamport: UInt64
    var last: LastSnapshot?
    var deliveredSinceSnapshot = 0
    var snapshotRunning: Task<SnapshotJob<M>.Output, Error>?
    var snapshotScheduled = false
    /// `snapshotNow` calls waiting for the running one to finish.
    var snapshotWaiters: [CheckedContinuation<Void, Never>] = []
    var timer: Task<Void, Never>?
    var subscribers: [Int: AsyncStream<ReplicaChange>.Continuation] = [:]
    var nextSubscriber = 0
    var closed = false
    /// A log write that failed after its entries were applied (see
    /// `storeAndDeliver`): every later call throws it.
    var storageFailure: FeedLogError?

    /// What the previous snapshot was, to build the next one incrementally.
    struct LastSnapshot: @unchecked Sendable {
        var manifest: SnapshotManifest
        var layout: ChunkLayout
        /// What the next build finds the changes against.
        var base: Base

        enum Base {
            /// The records it was built from (a `SortedMap` of the model's
            /// record type): changed records are found by comparing.
            case records(Any)
            /// Only their keys: every record counts as changed, but the
            /// chunk cuts of unchanged keys are kept without hashing them.
            case keys([RecordKey])
        }
    }

    // MARK: Opening

    /// Opens (or creates) the replica of `space` in `directory`, as the node
    /// whose feed key pair is `identity`. The genesis writer opens with
    /// `identity.publicKey == space`.
    public static func open(directory: String, space: PublicKey, identity: KeyPair,
                            options: ReplicaOptions = ReplicaOptions(),
                            logger: Logger = Logger(label: "sheaf.replica")) async throws -> Replica {
        let feeds: FeedStore
        do {
            feeds = try FeedStore(directory: directory, options: .init(durability: options.durability, segmentBytes: options.segmentBytes))
        } catch { throw ReplicaError(.feedLog(error)) }
        try SpaceFile.check(directory: directory, space: space, model: M.descriptor, durable: options.durability == .fsync)
        let snapshots: SnapshotStore
        do { snapshots = try SnapshotStore(directory: Path.join(directory, "snapshots"), durability: options.durability) } catch {
            throw ReplicaError(.snapshot(error))
        }
        for line in snapshots.openReport { logger.warning("\(line)", metadata: ["space": "\(space.hex.prefix(16))"]) }

        var report = StartupReport()
        var core = ReplicaCore<M>(space: space)
        var last: LastSnapshot?
        let stored: [PublicKey]
        do { stored = try feeds.storedFeeds() } catch { throw ReplicaError(.feedLog(error)) }

        // The newest snapshot is read and decoded while the logs open; the
        // checks against the logs still come before it is used.
        let clock = ContinuousClock()
        let loadStart = clock.now
        let manifests = snapshots.manifests
        // Its own snapshots, and those it installed from peers after its
        // trust policy accepted them (snapshots/INSTALLED).
        let installed = InstalledSnapshots.read(directory: directory)
        let trustedSigners = { (manifest: SnapshotManifest) -> Set<PublicKey> in
            installed.contains(manifest.id.hex) ? [space, identity.publicKey, manifest.signer] : [space, identity.publicKey]
        }
        var early = manifests.first.map { manifest in
            let trusted = trustedSigners(manifest)
            return Task.detached { () throws -> Loader.Loaded<M> in
                try Loader.check(manifest, as: M.self, space: space, trusted: trusted, logs: nil)
                return try Loader.decode(manifest, as: M.self, store: snapshots, space: space)
            }
        }
        var logs: [PublicKey: FeedLog] = [:]
        for key in stored {
            do { logs[key] = try feeds.log(key) } catch {
                _ = await early?.result
                throw ReplicaError(.feedLog(error))
            }
            if let recovery = logs[key]?.recovery { report.recoveries.append(recovery.description) }
        }
        // So is each log's first batch of entries after the snapshot.
        let ahead = readAhead(logs, after: manifests.first?.frontier)

        // Newest usable snapshot first.
        var damaged: [Hash] = []
        for manifest in manifests {
            do {
                let loaded: Loader.Loaded<M>
                let trusted = trustedSigners(manifest)
                if manifest.id == manifests.first?.id, let task = early {
                    // Dropped before the replay, with the state it holds: a
                    // second reference would make the replay copy what it changes.
                    early = nil
                    do { try Loader.check(manifest, as: M.self, space: space, trusted: trusted, logs: logs) } catch {
                        _ = await task.result
                        throw error
                    }
                    loaded = try await task.value
                } else {
                    loaded = try Loader.load(manifest, as: M.self, store: snapshots, space: space, trusted: trusted, logs: logs)
                }
                core = loaded.core
                last = loaded.last
                if manifest.content == .records, entries(after: manifest.frontier, in: logs) >= manifest.recordCount,
                   let model = core.model as? any SnapshotModel {
                    last?.base = .keys(recordKeys(model))
                }
                report.source = .snapshot(id: manifest.id.hex, entries: manifest.frontier.entryCount)
                break
            } catch {
                report.rejected.append((manifest.id.hex, "\(error)"))
                logger.warning("skipping snapshot", metadata: ["snapshot": "\(manifest.id.hex.prefix(16))", "reason": "\(error)"])
                if Loader.isDamage(error) { damaged.append(manifest.id) }
            }
        }
        if case .empty = report.source, !stored.isEmpty { report.source = .fullReplay }
        report.loadDuration = clock.now - loadStart

        let replica = Replica(space: space, directory: directory, identity: identity, options: options, logger: logger,
                              feeds: feeds, snapshots: snapshots, core: consume core, last: last, report: report)
        try await replica.finishOpening(logs: logs, damaged: damaged, ahead: ahead)
        return replica
    }

    private init(space: PublicKey, directory: String, identity: KeyPair, options: ReplicaOptions, logger: Logger,
                 feeds: FeedStore, snapshots: SnapshotStore, core: ReplicaCore<M>, last: LastSnapshot?, report: StartupReport) {
        self.space = space
        self.directory = directory
        feed = identity.publicKey
        keyPair = identity
        self.options = options
        self.logger = logger
        self.feeds = feeds
        self.snapshots = snapshots
        self.core = core
        self.last = last
        startup = report
        waiting = CausalBuffer(limit: options.maxWaitingEntries)
        writer = FeedWriter(keyPair: identity)
        maxLamport = 0
    }

    /// Replays the tail from the logs (starting with the batches read
    /// ahead) and resumes this node's writer.
    private func finishOpening(logs: [PublicKey: FeedLog], damaged: [Hash], ahead: [PublicKey: [Entry]]) throws {
        // The clock must cover what a loaded snapshot holds, as it would after
        // a full replay: the Lamport time of each admitted feed's last
        // delivered entry (the tail replayed below raises it further).
        for (key, seq) in core.delivered where seq > 0 {
            guard key == space || core.admission.isAdmitted(key, asOf: core.admission.anchor(of: key)),
                  let entry = try? logs[key]?.entry(at: seq) else { continue }
            maxLamport = max(maxLamport, entry.lamport)
        }
        let clock = ContinuousClock()
        let start = clock.now
        let replayed = try replay(logs: logs, ahead: ahead)
        startup.replayed = replayed
        startup.replayDuration = clock.now - start
        // The state is whole without the snapshots whose stored chunks are
        // damaged: delete them, so their chunks are collected and the next
        // snapshot writes those chunks anew instead of referring to the
        // damaged copies (the store reuses any chunk it holds by id).
        if !damaged.isEmpty {
            do {
                for id in damaged { try snapshots.deleteManifest(id) }
                try snapshots.collectGarbage()
            } catch {
                logger.warning("could not delete damaged snapshots", metadata: ["error": "\(error)"])
            }
        }
        let own = try log(feed)
        writer = FeedWriter(keyPair: keyPair, resumingAfter: own.tip, lamport: own.lastLamport)
        if own.length > 0, own.latestHead?.seq != own.length, let head = writer.signTip() {
            // Recovery kept entries whose batch head was torn off: re-sign them.
            do { try own.storeHead(head) } catch { throw ReplicaError(.feedLog(error)) }
        }
        logger.info("replica open", metadata: ["space": "\(space.hex.prefix(16))", "startup": "\(startup)"])
        if let interval = options.snapshotInterval {
            timer = Task { [weak self] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: interval)
                    // A replica released without close() ends its timer too.
                    guard let replica = self else { return }
                    await replica.timerFired()
                }
            }
        }
    }

    /// Entries stored after `frontier`: the tail a replica opened from a
    /// snapshot at `frontier` replays.
    ///
    /// A tail at least as long as a record snapshot has records rewrites
    /// most of its chunks (and replaying it costs about as much as encoding
    /// them all), so the next state root or snapshot re-encodes every chunk
    /// rather than comparing with the snapshot's records: keeping them would
    /// make the replay copy every record it touches, and hold two versions
    /// of the state. Their keys are kept, for the chunk cuts. (Snapshots of
    /// ops grow at the end instead, and keep theirs.)
    static func entries(after frontier: Frontier, in logs: [PublicKey: FeedLog]) -> UInt64 {
        logs.reduce(0) { total, log in total + (log.value.length - min(log.value.length, frontier.seq(of: log.key))) }
    }

    private static func recordKeys<S: SnapshotModel>(_ model: S) -> [RecordKey] { model.records.keys }

    /// Entries replay reads from a log at a time.
    static var replayBatch: UInt64 { 4096 }

    /// Feeds the logs' entries after what the core holds through causal
    /// delivery. A batch read `ahead` is used where it starts at the next seq.
    func replay(logs: [PublicKey: FeedLog], ahead: [PublicKey: [Entry]] = [:]) throws -> Int {
        let before = deliveredCount
        var ahead = ahead
        var progress = true
        while progress {
            progress = false
            for (key, log) in logs.sorted(by: { $0.key < $1.key }) {
                let next = queuedSeq(key) + 1
                guard next <= log.length else { continue }
                let entries = try ahead.removeValue(forKey: key).flatMap { $0.first?.seq == next ? $0 : nil }
                    ?? Self.stored(log, from: next, through: min(log.length, next + Self.replayBatch - 1))
                do { try enqueue(entries) } catch {
                    // Full: what fit is queued; other feeds may free room.
                    if case .notContiguous = error { throw ReplicaError(.notContiguous) }
                }
                if queuedSeq(key) >= next { progress = true }
            }
        }
        return Int(deliveredCount - before)
    }

    /// Entries read ahead in all, so a node with many feeds holds no more.
    static var readAheadLimit: UInt64 { 65_536 }

    /// The first batch replay will want from each log after `frontier`, in
    /// replay's order and up to `readAheadLimit`: read while a snapshot
    /// loads. A log that fails here is left out; replay reads it again and
    /// reports the failure.
    private static func readAhead(_ logs: [PublicKey: FeedLog], after frontier: Frontier?) -> [PublicKey: [Entry]] {
        var batches: [PublicKey: [Entry]] = [:]
        var budget = readAheadLimit
        for (key, log) in logs.sorted(by: { $0.key < $1.key }) where budget > 0 {
            let next = (frontier?.seq(of: key) ?? 0) + 1
            let through = min(log.length, next + min(replayBatch, budget) - 1)
            guard next <= through, let entries = try? log.entries(from: next, through: through) else { continue }
            batches[key] = entries
            budget -= UInt64(entries.count)
        }
        return batches
    }

    /// The last entry of `feed` that is delivered or waiting.
    private func queuedSeq(_ feed: PublicKey) -> UInt64 {
        max(core.deliveredSeq(feed), waiting.lastWaiting(feed) ?? 0)
    }

    static func stored(_ log: FeedLog, from: UInt64, through: UInt64) throws -> [Entry] {
        do { return try log.entries(from: from, through: through) } catch let error as FeedLogError {
            throw ReplicaError(.feedLog(error))
        } catch { throw ReplicaError(.feedLog(FeedLogError(.outOfRange(seq: from, length: log.length)))) }
    }

    // MARK: Writing

    /// Appends model ops to this node's feed as one signed batch; returns
    /// once durable and applied, with the last seq.
    @discardableResult
    public func append(_ ops: [[UInt8]]) throws -> UInt64 { try appendBatch(ops).head.seq }

    @discardableResult
    public func append(_ op: [UInt8]) throws -> UInt64 { try append([op]) }

    /// Like `append`, returning the signed batch itself, ready to broadcast.
    public func appendBatch(_ ops: [[UInt8]]) throws -> VerifiedBatch {
        try appendPayloads(ops.map { SpacePayload.model($0).encoded })
    }

    /// Admits a writer feed (genesis writer only); returns the signed control entry.
    @discardableResult
    public func admit(_ writer: PublicKey) throws -> VerifiedBatch {
        guard feed == space else { throw ReplicaError(.notGenesisWriter) }
        return try appendPayloads([SpacePayload.admit(writer).encoded])
    }

    /// Removes a writer feed (genesis writer only); returns the signed control entry.
    @discardableResult
    public func remove(_ writer: PublicKey) throws -> VerifiedBatch {
        guard feed == space else { throw ReplicaError(.notGenesisWriter) }
        return try appendPayloads([SpacePayload.remove(writer).encoded])
    }

    private func appendPayloads(_ payloads: [[UInt8]]) throws -> VerifiedBatch {
        try checkOpen()
        guard feed == space || core.admission.isAdmitted(feed, asOf: core.deliveredSeq(space)) else {
            throw ReplicaError(.notAdmitted)
        }
        // Acknowledge the newest genesis entry seen, so admission decisions
        // about this feed follow what the genesis writer has said.
        var deps: [Dependency] = []
        let genesisSeq = core.deliveredSeq(space)
        if feed != space, genesisSeq > core.admission.anchor(of: feed) { deps.append(Dependency(feed: space, seq: genesisSeq)) }
        let drafts = payloads.enumerated().map { i, payload in
            EntryDraft(payload: payload, dependencies: i == 0 ? deps : [], observedLamport: maxLamport)
        }
        let batch: VerifiedBatch
        do { batch = try writer.append(drafts, timestamp: options.clock()) } catch { throw ReplicaError(.feed(error)) }
        let own = try log(feed)
        do { try own.append(batch) } catch {
            // The writer's tip moved but the log refused: resync the writer.
            writer = FeedWriter(keyPair: keyPair, resumingAfter: own.tip, lamport: own.lastLamport)
            throw ReplicaError(.feedLog(error))
        }
        try deliver(batch)
        return batch
    }

    /// Stores and applies a verified range of any feed (from a peer).
    ///
    /// Throws `backpressure` when entries that must wait for missing
    /// dependencies do not fit the buffer. They stay stored; sending any
    /// batch of the feed again (once the dependencies are in) delivers them.
    public func ingest(_ batch: VerifiedBatch) throws {
        try checkOpen()
        let log = try log(batch.feed)
        if batch.head.seq > log.length {
            if log.length == batch.anchor.seq, queuedSeq(batch.feed) == batch.anchor.seq {
                try storeAndDeliver(batch, in: log)
                return
            }
            do { try log.append(batch) } catch { throw ReplicaError(.feedLog(error)) }
        }
        var next = queuedSeq(batch.feed) + 1
        if next > log.length { return }  // already held
        if next == batch.anchor.seq + 1 && batch.head.seq == log.length {
            try deliver(batch)
            return
        }
        // Stored entries an earlier backpressure left out.
        while next <= log.length {
            let through = min(log.length, next + 4095)
            try deliver(try Self.stored(log, from: next, through: through))
            next = through + 1
        }
    }

    /// `ingest`, then, for a batch of the genesis feed (whose control
    /// entries decide who may write), the feeds admitted afterwards: one
    /// call to the actor instead of two for a caller tracking membership.
    public func ingestTrackingMembers(_ batch: VerifiedBatch) throws -> [PublicKey]? {
        try ingest(batch)
        return batch.feed == space ? admittedFeeds : nil
    }

    /// A batch that continues both its log and what is applied: written on
    /// a helper thread while this one applies it. Writing (framing,
    /// checksums, the copy into the page cache) and applying each take
    /// about half of an ingest, and neither reads what the other changes.
    ///
    /// A write that fails after the entries were applied leaves the state
    /// ahead of the log, and a snapshot of that state would claim history
    /// the log lacks. The replica then stops (`storageFailure`): reopening
    /// rebuilds the state from what the disk holds.
    private func storeAndDeliver(_ batch: VerifiedBatch, in log: FeedLog) throws {
        let written = Parallel.fork { () throws(FeedLogError) in try log.append(batch) }
        let applied = Result { () throws(ReplicaError) in try apply(batch) }
        do { try written.join() } catch let failure {
            storageFailure = failure
            logger.error("feed log write failed after applying; the replica stops until reopened",
                         metadata: ["feed": "\(batch.feed.hex.prefix(16))", "error": "\(failure)"])
            throw ReplicaError(.feedLog(failure))
        }
        maybeSnapshot()
        try applied.get()
    }

    private func deliver(_ batch: VerifiedBatch) throws {
        defer { maybeSnapshot() }
        try apply(batch)
    }

    private func deliver(_ entries: [Entry]) throws {
        defer { maybeSnapshot() }
        try apply(entries)
    }

    private func apply(_ batch: VerifiedBatch) throws(ReplicaError) {
        let entries: [Entry]
        do { entries = try batch.entries() } catch { throw ReplicaError(.feed(FeedError(.malformed(error)))) }
        try apply(entries)
    }

    private func apply(_ entries: [Entry]) throws(ReplicaError) {
        do { try enqueue(entries) } catch {
            switch error {
            case .full: throw ReplicaError(.backpressure(waiting: waiting.count))
            case .notContiguous: throw ReplicaError(.notContiguous)
            }
        }
    }

    /// Delivers consecutive entries of one feed in causal order. Entries that
    /// can be applied now are applied at once; only those that must wait for
    /// a missing dependency take room in the bounded buffer (so a full buffer
    /// never keeps out the entries that would unblock it).
    private func enqueue(_ entries: [Entry]) throws(CausalBuffer.InsertError) {
        guard let feed = entries.first?.feed else { return }
        var rest = entries[...]
        while let entry = rest.first {
            let queued = queuedSeq(feed)
            if entry.seq <= queued {
                rest = rest.dropFirst()
                continue
            }
            guard entry.seq == queued + 1 else { throw .notContiguous }
            if waiting.lastWaiting(feed) == nil, entry.dependencies.allSatisfy({ core.isDelivered($0) }) {
                apply(entry)
                waiting.wake(feed)
                drain()
                rest = rest.dropFirst()
                continue
            }
            let room = waiting.limit - waiting.count
            guard room > 0 else { throw .full }
            let chunk = Array(rest.prefix(room))
            try waiting.insert(chunk, delivered: core.deliveredSeq(feed))
            rest = rest.dropFirst(chunk.count)
            drain()
        }
    }

    private func drain() {
        while let entry = waiting.next(isDelivered: { core.isDelivered($0) }) { apply(entry) }
    }

    private func apply(_ entry: Entry) {
        let change = core.deliver(entry)
        // Only entries that count move the clock: a feed that is not admitted
        // must not push it to the top of its range (and stop our writes).
        if change.effect != .notAdmitted { maxLamport = max(maxLamport, entry.lamport) }
        deliveredSinceSnapshot += 1
        if !subscribers.isEmpty { for continuation in subscribers.values { continuation.yield(change) } }
    }

    func log(_ key: PublicKey) throws -> FeedLog {
        do { return try feeds.log(key) } catch { throw ReplicaError(.feedLog(error)) }
    }

    func checkOpen() throws {
        if handle.isDropped { throw ReplicaError(.dropped) }
        if closed { throw ReplicaError(.closed) }
        if let storageFailure { throw ReplicaError(.feedLog(storageFailure)) }
    }

    // MARK: Reading

    /// Runs `body` on the current state.
    public func read<R: Sendable>(_ body: (M) throws -> R) throws -> R {
        try checkOpen()
        return try body(core.model)
    }

    /// An immutable view of the current state; O(1).
    public func view() throws -> SpaceView<M> {
        try checkOpen()
        return SpaceView(model: core.model, handle: handle, delivered: core.delivered)
    }

    /// Feeds admitted as of everything the genesis feed has said.
    public var admittedFeeds: [PublicKey] { core.admission.currentlyAdmitted }

    /// Exactly which entries the state contains, with their hashes.
    public func frontier() throws -> Frontier {
        try checkOpen()
        var heads: [PublicKey: FeedAnchor] = [:]
        for (key, seq) in core.delivered where seq > 0 {
            do { heads[key] = FeedAnchor(seq: seq, hash: try log(key).hash(at: seq)) } catch let error as ReplicaError {
                throw error
            } catch let error as FeedLogError {
                guard let hash = last?.manifest.frontier[key].flatMap({ $0.seq == seq ? $0.hash : nil }) else {
                    throw ReplicaError(.feedLog(error))
                }
                heads[key] = FeedAnchor(seq: seq, hash: hash)
            }
        }
        return Frontier(heads)
    }

    /// Entries delivered in total.
    public var deliveredCount: UInt64 { core.delivered.values.reduce(0, +) }

    /// The state root of the current state, as a snapshot of it would carry.
    /// By default it re-encodes only what changed since the last snapshot;
    /// `recomputeFully` encodes everything (the two must agree).
    public func stateRoot(recomputeFully: Bool = false) throws -> Hash {
        try checkOpen()
        var sink = DiscardingSink()
        do {
            return try Builder.build(core: core, previous: recomputeFully ? nil : last, sink: &sink).built.stateRoot
        } catch { throw ReplicaError(.snapshot(error)) }
    }

    /// A stream of every entry delivered from now on, with its effect.
    public func changes() -> AsyncStream<ReplicaChange> {
        let (stream, continuation) = AsyncStream.makeStream(of: ReplicaChange.self, bufferingPolicy: .bufferingNewest(1 << 16))
        let id = nextSubscriber
        nextSubscriber += 1
        subscribers[id] = continuation
        continuation.onTermination = { [weak self] _ in
            Task { await self?.unsubscribe(id) }
        }
        return stream
    }

    private func unsubscribe(_ id: Int) { subscribers[id] = nil }

    // MARK: Snapshots

    /// Takes a snapshot now (after any running one) and says what it cost.
    @discardableResult
    public func snapshotNow() async throws -> SnapshotSummary {
        try checkOpen()
        // One job at a time, each starting after the previous one's
        // bookkeeping (its `last` is the base of the next): two jobs at once
        // would build on the same stale base, and one's retention could
        // collect chunks the other is about to refer to.
        while snapshotRunning != nil {
            await withCheckedContinuation { snapshotWaiters.append($0) }
        }
        try checkOpen()  // a write may have failed meanwhile
        let job = try makeJob()
        let task = Task.detached(priority: .utility) { () throws -> SnapshotJob<M>.Output in
            try job.run()
        }
        snapshotRunning = task
        var succeeded = false
        defer {
            if snapshotRunning == task { snapshotRunning = nil }
            let waiters = snapshotWaiters
            snapshotWaiters = []
            for waiter in waiters { waiter.resume() }
            // Entries delivered while this one ran may already call for the next.
            if succeeded && waiters.isEmpty { maybeSnapshot() }
        }
        let output: SnapshotJob<M>.Output
        do { output = try await task.value } catch let error as SnapshotError {
            throw ReplicaError(.snapshot(error))
        }
        let manifest = output.summary.manifest
        // A newer snapshot may have finished while this one ran.
        if (last?.manifest.frontier.entryCount ?? 0) <= manifest.frontier.entryCount {
            last = output.last
        }
        deliveredSinceSnapshot = max(0, deliveredSinceSnapshot - job.deliveredAtStart)
        logger.debug("snapshot written", metadata: ["snapshot": "\(manifest.id.hex.prefix(16))",
                                                    "entries": "\(manifest.frontier.entryCount)",
                                                    "bytes": "\(output.summary.bytesWritten)"])
        succeeded = true
        return output.summary
    }

    /// Whether a background snapshot is being written now.
    public var isSnapshotting: Bool { snapshotRunning != nil }

    /// Stored snapshots, newest first.
    public nonisolated var storedSnapshots: [SnapshotManifest] { snapshots.manifests }

    /// The ids of `storedSnapshots`, cheaply: to notice that they changed.
    public nonisolated var storedSnapshotIDs: Set<Hash> { snapshots.manifestIDs }

    private func makeJob() throws -> SnapshotJob<M> {
        SnapshotJob(core: core, previous: last, frontier: try frontier(), createdAt: options.clock(), keyPair: keyPair, store: snapshots,
                    deliveredAtStart: deliveredSinceSnapshot, keep: options.snapshotsKept,
                    compact: options.compactCoveredEntries ? feeds : nil)
    }

    private func maybeSnapshot() {
        guard snapshotRunning == nil, !snapshotScheduled, let every = options.snapshotEveryEntries, deliveredSinceSnapshot >= every else { return }
        startBackgroundSnapshot()
    }

    private func timerFired() {
        guard snapshotRunning == nil, !snapshotScheduled, deliveredSinceSnapshot > 0, !closed else { return }
        startBackgroundSnapshot()
    }

    private func startBackgroundSnapshot() {
        // Until the task starts, further deliveries must not schedule more.
        snapshotScheduled = true
        let logger = self.logger
        Task { [weak self] in
            do { try await self?.backgroundSnapshot() } catch {
                logger.error("automatic snapshot failed", metadata: ["error": "\(error)"])
            }
        }
    }

    private func backgroundSnapshot() async throws {
        snapshotScheduled = false
        try await snapshotNow()
    }

    /// Prunes feed entries that every kept snapshot covers.
    public func compact() throws {
        try checkOpen()
        do { try SnapshotJob<M>.compact(feeds, keeping: snapshots.manifests) } catch let error as FeedLogError {
            throw ReplicaError(.feedLog(error))
        }
    }

    // MARK: Closing

    /// Waits for a running snapshot, closes every file.
    public func close() async {
        guard !closed else { return }
        closed = true
        timer?.cancel()
        if let running = snapshotRunning { _ = try? await running.value }
        for continuation in subscribers.values { continuation.finish() }
        subscribers = [:]
        feeds.close()
        snapshots.close()
    }

    /// Deletes the space: every file, and every view of it becomes invalid.
    public func drop() async throws {
        handle.markDropped()
        await close()
        do { try Directory.removeTree(directory) } catch { throw ReplicaError(.feedLog(FeedLogError(.io(error)))) }
    }
}

/// Milliseconds since the Unix epoch, for entry timestamps and manifests.
public enum Clock {
    @Sendable public static func milliseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return UInt64(ts.tv_sec) * 1000 + UInt64(ts.tv_nsec) / 1_000_000
    }
}

#if canImport(Glibc)
import Glibc
#endif
