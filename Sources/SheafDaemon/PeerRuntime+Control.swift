import SheafControl
import SheafCrypto
import SheafFeeds
import SheafModels
import SheafProtocol
import SheafReplica
import SheafSnapshots

/// The control API, carried out on this node.
extension PeerRuntime: PeerControl {
    public static let version = "0.5.0"

    public func status() async throws(ControlError) -> NodeStatus {
        let peers = await transport?.connectedPeers ?? []
        let neighbours = peers.map {
            NeighbourStatus(node: $0.key.hex, address: $0.address, outbound: $0.outbound, connectedSeconds: (clock.now - $0.since).seconds,
                            bytesIn: $0.bytesIn, bytesOut: $0.bytesOut)
        }
        return NodeStatus(node: identity.publicKey.hex, listen: listenAddress, version: Self.version,
                          uptimeSeconds: (clock.now - started).seconds, bytesIn: host.stats.bytesReceived, bytesOut: host.stats.bytesSent, neighbours: neighbours, spaces: try await spaces())
    }

    public func spaces() async throws(ControlError) -> [SpaceStatus] {
        var out: [SpaceStatus] = []
        for key in spaces.keys { out.append(try await spaceStatus(key)) }
        return out.sorted { $0.space < $1.space }
    }

    public func space(_ space: String) async throws(ControlError) -> SpaceStatus {
        try await spaceStatus(try entry(space).key)
    }

    public func createSpace() async throws(ControlError) -> SpaceStatus {
        let space = try await controlled { () async throws(DaemonError) in try await createLocalSpace() }
        return try await spaceStatus(DiscoveryKey(space: space))
    }

    public func joinSpace(_ request: JoinSpaceRequest) async throws(ControlError) -> SpaceStatus {
        let space = try Self.key(request.space, as: "space")
        guard let trust = TrustPolicy(request.trust ?? "member") else {
            throw ControlError(.badRequest, "unknown trust policy \"\(request.trust ?? "")\"", hint: "use member, quorum:K or replay")
        }
        if spaces[DiscoveryKey(space: space)] != nil {
            throw ControlError(.conflict, "this node already holds space \(space.hex)", hint: "see it with `peer space list`")
        }
        for contact in request.contacts ?? [] where HostPort(contact) == nil {
            throw ControlError(.badRequest, "contact \"\(contact)\" is not host:port")
        }
        try await controlled { () async throws(DaemonError) in try await startJoining(space, trust: trust, contacts: request.contacts ?? []) }
        return try await spaceStatus(DiscoveryKey(space: space))
    }

    public func dropSpace(_ space: String) async throws(ControlError) {
        let (_, entry) = try entry(space)
        try await controlled { () async throws(DaemonError) in try await removeSpace(entry.replica.space) }
    }

    public func admit(_ writer: String, to space: String) async throws(ControlError) -> WriteResult {
        let (key, entry) = try entry(space)
        let writerKey = try Self.key(writer, as: "writer")
        guard entry.record.created else {
            throw ControlError(.forbidden, "only the node that created the space admits writers", hint: "run this on the space's creator")
        }
        let seq = try await controlled { () async throws(DaemonError) in
            try await withHost { () async throws(DaemonError) in
                do { return try await host.admit(writerKey, in: key) } catch { throw DaemonError("cannot admit \(writer): \(error)") }
            }
        }
        return WriteResult(space: entry.replica.space.hex, feed: entry.replica.feed.hex, seq: seq, entries: 1)
    }

    // MARK: Objects

    public func put(_ id: String, _ request: PutObjectRequest, in space: String) async throws(ControlError) -> WriteResult {
        try ObjectRequests.check(id: id)
        var ops: [ObjectStore.Op] = []
        if !request.fields.isEmpty || (request.parent == nil && request.clearParent != true) {
            ops.append(.put(id: id, fields: try ObjectRequests.fields(request.fields)))
        }
        if let parent = request.parent {
            try ObjectRequests.check(id: parent)
            ops.append(.setParent(id: id, parent: parent))
        } else if request.clearParent == true {
            ops.append(.setParent(id: id, parent: nil))
        }
        return try await write(ops, in: space)
    }

    public func putBatch(_ request: PutBatchRequest, in space: String) async throws(ControlError) -> WriteResult {
        guard !request.puts.isEmpty else { throw ControlError(.badRequest, "the batch holds no puts") }
        guard request.puts.count <= ObjectRequests.maxBatch else {
            throw ControlError(.badRequest, "a batch holds at most \(ObjectRequests.maxBatch) puts, this one \(request.puts.count)",
                               hint: "split it into smaller batches")
        }
        var ops: [ObjectStore.Op] = []
        ops.reserveCapacity(request.puts.count)
        for put in request.puts {
            try ObjectRequests.check(id: put.id)
            ops.append(.put(id: put.id, fields: try ObjectRequests.fields(put.fields)))
        }
        return try await write(ops, in: space)
    }

    public func delete(_ id: String, in space: String) async throws(ControlError) -> WriteResult {
        try ObjectRequests.check(id: id)
        let (_, entry) = try entry(space)
        guard (try? await entry.replica.read({ $0.object(id) })) != nil else {
            throw ControlError(.notFound, "no object \"\(id)\" in space \(entry.replica.space.hex.prefix(12))")
        }
        return try await write([.delete(id: id)], in: space)
    }

    public func get(_ id: String, in space: String) async throws(ControlError) -> ObjectInfo {
        try ObjectRequests.check(id: id)
        let (_, entry) = try entry(space)
        let object: StoredObject?
        do { object = try await entry.replica.read { $0.object(id) } } catch { throw Self.unavailable(error) }
        guard let object else { throw ControlError(.notFound, "no object \"\(id)\" in space \(entry.replica.space.hex.prefix(12))") }
        return ObjectRequests.info(object)
    }

    public func list(in space: String, query: ListQuery) async throws(ControlError) -> ObjectPage {
        let (_, entry) = try entry(space)
        let limit = query.limit ?? ListQuery.defaultLimit
        guard (1...ListQuery.maxLimit).contains(limit) else {
            throw ControlError(.badRequest, "limit must be 1...\(ListQuery.maxLimit), not \(limit)")
        }
        let objects: [StoredObject]
        do {
            objects = try await entry.replica.read { store in
                if let parent = query.parent {
                    Array(store.children(of: parent).filter { object in query.after.map { $0.utf8.lexicographicallyPrecedes(object.id.utf8) } ?? true }
                        .prefix(limit + 1))
                } else {
                    store.list(after: query.after, limit: limit + 1)
                }
            }
        } catch { throw Self.unavailable(error) }
        let page = objects.prefix(limit).map(ObjectRequests.info)
        return ObjectPage(objects: Array(page), next: objects.count > limit ? page.last?.id : nil)
    }

    public func snapshotNow(in space: String) async throws(ControlError) -> SnapshotInfo {
        let (key, entry) = try entry(space)
        let summary = try await controlled { () async throws(DaemonError) in
            try await withHost { () async throws(DaemonError) in
                do { return try await host.snapshotNow(in: key) } catch { throw DaemonError("cannot take a snapshot: \(error)") }
            }
        }
        return Self.info(summary.manifest, attestations: entry.replica.attestations(of: summary.manifest.stateRoot).count)
    }

    public func metricsText() async -> String {
        updateMetrics()
        return metrics.render()
    }

    // MARK: Helpers

    /// Appends ops to this node's feed in a space; returns once stored (durably, under fsync).
    private func write(_ ops: [ObjectStore.Op], in space: String) async throws(ControlError) -> WriteResult {
        let (key, entry) = try entry(space)
        guard !host.core.isJoining(key) else {
            throw ControlError(.unavailable, "space \(entry.replica.space.hex.prefix(12)) is still joining", hint: "wait until `peer space list` shows it ready")
        }
        guard await entry.replica.admittedFeeds.contains(entry.replica.feed) else {
            throw ControlError(.forbidden, "this node may not write to space \(entry.replica.space.hex.prefix(12)): its key is not admitted",
                               hint: "on the space's creator run `peer space admit \(entry.replica.space.hex) \(entry.replica.feed.hex)`")
        }
        let seq = try await controlled { () async throws(DaemonError) in
            try await withHost { () async throws(DaemonError) in
                do { return try await host.append(ops.map(\.encoded), in: key) } catch { throw DaemonError("cannot write: \(error)") }
            }
        }
        return WriteResult(space: entry.replica.space.hex, feed: entry.replica.feed.hex, seq: seq, entries: ops.count)
    }

    /// The state root and live object count at `entries` stored entries,
    /// rebuilt only when the count moved since the last time.
    func summary(of key: DiscoveryKey, replica: Replica<ObjectStore>, entries: UInt64) async throws -> (root: String, objects: Int) {
        if let summary = spaces[key]?.summary, summary.entries == entries { return (summary.root, summary.objects) }
        if let running = spaces[key]?.summarizing, running.entries == entries { return try await running.task.value }
        let task = Task { () async throws -> (root: String, objects: Int) in
            let root = try await replica.stateRoot().hex
            return (root, try await replica.read { $0.liveCount })
        }
        spaces[key]?.summarizing = (entries, task)
        defer { if spaces[key]?.summarizing?.entries == entries { spaces[key]?.summarizing = nil } }
        let (root, objects) = try await task.value
        spaces[key]?.summary = (entries, root, objects)
        return (root, objects)
    }

    func spaceStatus(_ key: DiscoveryKey) async throws(ControlError) -> SpaceStatus {
        guard let entry = spaces[key] else { throw ControlError(.notFound, "this node no longer holds \(key)") }
        let replica = entry.replica
        let stored = followBootstrap(key)
        let joining = host.core.isJoining(key)
        // While joining or catching up the root is left out: it changes with
        // every batch, and rebuilding it for each poll would slow the catch-up.
        var root = ""
        var objects = spaces[key]?.summary?.objects ?? 0
        if !joining, spaces[key]?.bootstrap?.phase != .catchingUp {
            do { (root, objects) = try await summary(of: key, replica: replica, entries: stored.entryCount) } catch {
                throw Self.unavailable(error)
            }
        }
        var frontier: [String: UInt64] = [:]
        for feed in stored.feeds { frontier[feed.hex] = stored.seq(of: feed) }
        let newest = replica.storedSnapshots.first.map { Self.info($0, attestations: replica.attestations(of: $0.stateRoot).count) }
        return SpaceStatus(space: replica.space.hex, trust: entry.record.trustPolicy.apiName,
                           writer: await replica.admittedFeeds.contains(replica.feed), ready: !joining, entries: stored.entryCount,
                           frontier: frontier, stateRoot: root, objects: objects, neighbours: host.core.neighbours(of: key).map(\.node.hex),
                           newestSnapshot: newest, bootstrap: spaces[key]?.bootstrap?.report(at: now))
    }

    private func entry(_ space: String) throws(ControlError) -> (key: DiscoveryKey, entry: SpaceEntry) {
        let key = DiscoveryKey(space: try Self.key(space, as: "space"))
        guard let entry = spaces[key] else {
            throw ControlError(.notFound, "this node holds no space \(space)", hint: "create one with `peer space create` or join with `peer space join`")
        }
        return (key, entry)
    }

    /// A space or writer key from a request, checked as the HTTP routes check it.
    static func key(_ text: String, as what: String) throws(ControlError) -> PublicKey {
        guard let key = PublicKey(hex: try ControlKeys.validate(text, as: what)) else {
            throw ControlError(.badRequest, "\(what) \"\(text.prefix(80))\" is not a key (64 hex digits)")
        }
        return key
    }

    static func info(_ manifest: SnapshotManifest, attestations: Int) -> SnapshotInfo {
        SnapshotInfo(id: manifest.id.hex, signer: manifest.signer.hex, stateRoot: manifest.stateRoot.hex, entries: manifest.frontier.entryCount,
                     chunks: Int(manifest.leafCount), rawBytes: manifest.rawBytes, compressedBytes: manifest.compressedBytes, attestations: attestations)
    }

    private static func unavailable(_ error: any Error) -> ControlError {
        ControlError(.unavailable, "the space cannot be read: \(error)")
    }

    /// Runs a daemon operation, turning its failure into a control error.
    private func controlled<T>(_ body: () async throws(DaemonError) -> T) async throws(ControlError) -> T {
        guard !stopping else { throw ControlError(.unavailable, "the node is shutting down") }
        do { return try await body() } catch { throw ControlError(.internal, error.message, hint: error.hint) }
    }
}
