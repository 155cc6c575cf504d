import SheafFeedLog
import SheafFeeds
import SheafSnapshots

/// Why a replica operation failed.
public struct ReplicaError: Error, Sendable, CustomStringConvertible {
    public enum Code: Sendable {
        case feedLog(FeedLogError)
        case feed(FeedError)
        case snapshot(SnapshotError)
        /// The directory holds another space or model.
        case wrongSpace(String)
        /// Only the genesis writer may admit or remove writers.
        case notGenesisWriter
        /// This node's feed is not admitted yet, so its writes would not apply.
        case notAdmitted
        /// Too many entries wait for missing dependencies; fetch them first.
        case backpressure(waiting: Int)
        /// Entries do not continue the feed as stored.
        case notContiguous
        /// A snapshot from peers cannot be installed here (and why).
        case cannotInstall(String)
        /// History needed for this request was pruned by compaction.
        case pruned(String)
        /// The space was dropped; every view of it is invalid.
        case dropped
        case closed
    }

    public let code: Code
    public init(_ code: Code) { self.code = code }

    public var description: String {
        switch code {
        case .feedLog(let e): "\(e)"
        case .feed(let e): "\(e)"
        case .snapshot(let e): "\(e)"
        case .wrongSpace(let why): "wrong space: \(why)"
        case .notGenesisWriter: "only the space's genesis writer may admit or remove writers"
        case .notAdmitted: "this node's feed is not admitted to the space yet; ask the space owner to admit it"
        case .backpressure(let n): "\(n) entries already wait for missing dependencies"
        case .notContiguous: "entries do not continue the stored feed"
        case .cannotInstall(let why): "cannot install the snapshot: \(why)"
        case .pruned(let what): "history was pruned by compaction: \(what)"
        case .dropped: "the space was dropped"
        case .closed: "the replica is closed"
        }
    }
}
