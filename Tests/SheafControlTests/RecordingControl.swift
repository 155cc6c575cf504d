import SheafControl

/// A `PeerControl` for HTTP-layer tests: records each call with its
/// arguments and answers with canned values. Object id "missing" and space
/// `RecordingControl.unknownSpace` fail with not_found, as a node would.
actor RecordingControl: PeerControl {
    static let space = String(repeating: "ab", count: 32)
    static let unknownSpace = String(repeating: "cd", count: 32)
    static let writer = String(repeating: "ef", count: 32)

    private(set) var calls: [String] = []

    static let spaceStatus = SpaceStatus(
        space: space, trust: "member", writer: true, ready: true, entries: 12, frontier: [writer: 11],
        stateRoot: String(repeating: "0", count: 64), objects: 3, neighbours: [writer],
        newestSnapshot: snapshot, bootstrap: nil)
    static let snapshot = SnapshotInfo(
        id: String(repeating: "1", count: 64), signer: writer, stateRoot: String(repeating: "0", count: 64), entries: 12,
        chunks: 2, rawBytes: 4096, compressedBytes: 1024, attestations: 1)

    func status() async throws(ControlError) -> NodeStatus {
        calls.append("status")
        return NodeStatus(
            node: Self.writer, listen: "127.0.0.1:7000", version: "test", uptimeSeconds: 1.5, bytesIn: 30, bytesOut: 40,
            neighbours: [NeighbourStatus(node: Self.writer, address: "127.0.0.1:7001", outbound: true, connectedSeconds: 1, bytesIn: 10, bytesOut: 20)],
            spaces: [Self.spaceStatus])
    }

    func spaces() async throws(ControlError) -> [SpaceStatus] {
        calls.append("spaces")
        return [Self.spaceStatus]
    }

    func space(_ space: String) async throws(ControlError) -> SpaceStatus {
        calls.append("space \(space)")
        try known(space)
        return Self.spaceStatus
    }

    func createSpace() async throws(ControlError) -> SpaceStatus {
        calls.append("create")
        return Self.spaceStatus
    }

    func joinSpace(_ request: JoinSpaceRequest) async throws(ControlError) -> SpaceStatus {
        calls.append("join \(request.space) \(request.trust ?? "-") \(request.contacts ?? [])")
        return Self.spaceStatus
    }

    func dropSpace(_ space: String) async throws(ControlError) {
        calls.append("drop \(space)")
        try known(space)
    }

    func admit(_ writer: String, to space: String) async throws(ControlError) -> WriteResult {
        calls.append("admit \(writer) \(space)")
        return write(space, entries: 1)
    }

    func put(_ id: String, _ request: PutObjectRequest, in space: String) async throws(ControlError) -> WriteResult {
        calls.append("put \(id) \(request.fields.keys.sorted()) parent=\(request.parent ?? "-")")
        lastPut = request
        return write(space, entries: 1)
    }

    func putBatch(_ request: PutBatchRequest, in space: String) async throws(ControlError) -> WriteResult {
        calls.append("batch \(request.puts.count)")
        return write(space, entries: request.puts.count)
    }

    func get(_ id: String, in space: String) async throws(ControlError) -> ObjectInfo {
        calls.append("get \(id)")
        guard id != "missing" else { throw ControlError(.notFound, "no object \(id)", hint: "list the space's objects") }
        return ObjectInfo(id: id, parent: "root", fields: ["n": .int(1), "s": .string("x"), "b": .bytes([1, 2])])
    }

    func delete(_ id: String, in space: String) async throws(ControlError) -> WriteResult {
        calls.append("delete \(id)")
        return write(space, entries: 1)
    }

    func list(in space: String, query: ListQuery) async throws(ControlError) -> ObjectPage {
        calls.append("list parent=\(query.parent ?? "-") after=\(query.after ?? "-") limit=\(query.limit.map(String.init) ?? "-")")
        return ObjectPage(objects: [ObjectInfo(id: "a", parent: nil, fields: [:])], next: "a")
    }

    func snapshotNow(in space: String) async throws(ControlError) -> SnapshotInfo {
        calls.append("snapshot \(space)")
        try known(space)
        if holding { await withCheckedContinuation { held = $0 } }
        return Self.snapshot
    }

    /// Makes the next snapshot wait for `release()`: a request in flight.
    private var holding = false
    private var held: CheckedContinuation<Void, Never>?
    func hold() { holding = true }
    var isHeld: Bool { held != nil }
    func release() {
        holding = false
        held?.resume()
        held = nil
    }

    func metricsText() async -> String {
        calls.append("metrics")
        return "# TYPE sheaf_test_total counter\nsheaf_test_total 1\n"
    }

    private(set) var lastPut: PutObjectRequest?

    private func known(_ space: String) throws(ControlError) {
        guard space != Self.unknownSpace else { throw ControlError(.notFound, "no space \(space)", hint: "join it first") }
    }

    private func write(_ space: String, entries: Int) -> WriteResult {
        WriteResult(space: space, feed: Self.writer, seq: 41 + UInt64(entries), entries: entries)
    }
}
