// The node's operations over HTTP, one route each.
extension ControlClient {
    public func status() async throws(ControlError) -> NodeStatus {
        try await call(.status, as: NodeStatus.self)
    }

    public func spaces() async throws(ControlError) -> [SpaceStatus] {
        try await call(.listSpaces, as: SpaceList.self).spaces
    }

    public func space(_ space: String) async throws(ControlError) -> SpaceStatus {
        try await call(.space(space), as: SpaceStatus.self)
    }

    public func createSpace() async throws(ControlError) -> SpaceStatus {
        try await call(.createSpace, as: SpaceStatus.self)
    }

    public func joinSpace(_ request: JoinSpaceRequest) async throws(ControlError) -> SpaceStatus {
        try await call(.joinSpace, body: request, as: SpaceStatus.self)
    }

    public func dropSpace(_ space: String) async throws(ControlError) {
        _ = try await call(.dropSpace(space), as: DropResult.self)
    }

    public func admit(_ writer: String, to space: String) async throws(ControlError) -> WriteResult {
        try await call(.admitWriter(space: space), body: AdmitRequest(writer: writer), as: WriteResult.self)
    }

    public func put(_ id: String, _ request: PutObjectRequest, in space: String) async throws(ControlError) -> WriteResult {
        try await call(.putObject(space: space, id: id), body: request, as: WriteResult.self)
    }

    public func putBatch(_ request: PutBatchRequest, in space: String) async throws(ControlError) -> WriteResult {
        try await call(.putBatch(space: space), body: request, as: WriteResult.self)
    }

    public func get(_ id: String, in space: String) async throws(ControlError) -> ObjectInfo {
        try await call(.getObject(space: space, id: id), as: ObjectInfo.self)
    }

    public func delete(_ id: String, in space: String) async throws(ControlError) -> WriteResult {
        try await call(.deleteObject(space: space, id: id), as: WriteResult.self)
    }

    public func list(in space: String, query: ListQuery) async throws(ControlError) -> ObjectPage {
        try await call(.listObjects(space: space, query: query), as: ObjectPage.self)
    }

    public func snapshotNow(in space: String) async throws(ControlError) -> SnapshotInfo {
        try await call(.snapshot(space: space), as: SnapshotInfo.self)
    }

    /// `PeerControl` has no error for metrics; an unreachable daemon yields "".
    public func metricsText() async -> String {
        (try? await metrics()) ?? ""
    }
}
