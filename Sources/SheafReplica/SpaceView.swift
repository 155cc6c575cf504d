import SheafFeeds
import SheafModels
import Synchronization

/// Shared by a replica and every view of it, so dropping the space
/// invalidates them all at once.
final class SpaceHandle: Sendable {
    private let droppedFlag = Atomic<Bool>(false)
    var isDropped: Bool { droppedFlag.load(ordering: .acquiring) }
    func markDropped() { droppedFlag.store(true, ordering: .releasing) }
}

/// An immutable view of a space's state at one frontier. Cheap to take
/// (the state is persistent), safe to keep while the replica moves on, and
/// invalid once the space is dropped.
public struct SpaceView<M: Model>: Sendable {
    let model: M
    let handle: SpaceHandle
    /// The entries this view contains (seqs per feed).
    public let delivered: [PublicKey: UInt64]

    public func read<R>(_ body: (M) throws -> R) throws -> R {
        guard !handle.isDropped else { throw ReplicaError(.dropped) }
        return try body(model)
    }
}

import SheafCrypto
