/// What a running node offers its operator: the control API's operations,
/// independent of HTTP. The daemon implements it; the HTTP server maps
/// routes onto it and the CLI reaches it through `ControlClient`.
///
/// Spaces and writers are named by their key in lowercase hex (64 digits).
/// Every failure is a `ControlError` that says what went wrong and, where
/// it can, what to do.
public protocol PeerControl: Sendable {
    func status() async throws(ControlError) -> NodeStatus
    func spaces() async throws(ControlError) -> [SpaceStatus]
    func space(_ space: String) async throws(ControlError) -> SpaceStatus
    /// Creates a space whose genesis feed is this node's writer key.
    func createSpace() async throws(ControlError) -> SpaceStatus
    /// Joins a space by its key: bootstraps from peers under the trust policy.
    func joinSpace(_ request: JoinSpaceRequest) async throws(ControlError) -> SpaceStatus
    /// Stops serving a space and removes all its files.
    func dropSpace(_ space: String) async throws(ControlError)
    /// Admits a writer feed (only the space's creator may).
    func admit(_ writer: String, to space: String) async throws(ControlError) -> WriteResult

    func put(_ id: String, _ request: PutObjectRequest, in space: String) async throws(ControlError) -> WriteResult
    /// Many puts as one batch (one signed head): how bulk loads stay fast.
    func putBatch(_ request: PutBatchRequest, in space: String) async throws(ControlError) -> WriteResult
    func get(_ id: String, in space: String) async throws(ControlError) -> ObjectInfo
    func delete(_ id: String, in space: String) async throws(ControlError) -> WriteResult
    func list(in space: String, query: ListQuery) async throws(ControlError) -> ObjectPage

    func snapshotNow(in space: String) async throws(ControlError) -> SnapshotInfo
    /// The Prometheus text exposition of the node's metrics.
    func metricsText() async -> String
}
