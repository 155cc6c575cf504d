import SheafCodec
import SheafCollections
import SheafCrypto
import SheafFeeds
import SheafModels

/// What delivering one entry did, as reported on `Replica.changes`.
public struct ReplicaChange: Hashable, Sendable {
    public enum Effect: Hashable, Sendable {
        /// A model op took effect on these record keys.
        case applied([RecordKey])
        /// A model op was ignored by the model (malformed or not allowed).
        case ignored(String)
        /// A writer was admitted or removed by the genesis feed.
        case admitted(PublicKey)
        case removed(PublicKey)
        /// The entry's feed is not admitted: nothing was applied.
        case notAdmitted
    }

    public let feed: PublicKey
    public let seq: UInt64
    public let effect: Effect
}

/// The deterministic heart of a replica: folds delivered entries into the
/// model and the admission state. No I/O; the `Replica` actor around it owns
/// the logs, the snapshots and the clock.
struct ReplicaCore<M: Model>: Sendable {
    let space: PublicKey
    var model: M
    var admission: Admission
    /// Last delivered seq per feed.
    var delivered: [PublicKey: UInt64]
    /// Model ops in (Lamport, feed, seq) order, kept only for models that
    /// cannot snapshot their state: their snapshots carry these and replay them.
    var ops: SortedMap<[UInt8]>
    let keepsOps: Bool

    init(space: PublicKey) {
        self.space = space
        model = M()
        admission = Admission(genesis: space)
        delivered = [:]
        ops = SortedMap()
        keepsOps = !(M.self is any SnapshotModel.Type)
    }

    func isDelivered(_ dependency: Dependency) -> Bool { (delivered[dependency.feed] ?? 0) >= dependency.seq }

    func deliveredSeq(_ feed: PublicKey) -> UInt64 { delivered[feed] ?? 0 }

    /// Applies one entry; the caller guarantees causal order.
    mutating func deliver(_ entry: Entry) -> ReplicaChange {
        precondition(entry.seq == deliveredSeq(entry.feed) + 1, "causal delivery out of order")
        delivered[entry.feed] = entry.seq
        let genesisDependency = entry.dependencies.first { $0.feed == space }?.seq
        guard admission.admits(entry.feed, genesisDependency: genesisDependency) else {
            return ReplicaChange(feed: entry.feed, seq: entry.seq, effect: .notAdmitted)
        }
        let payload: SpacePayload
        do { payload = try SpacePayload.decode(entry.payload) } catch {
            return ReplicaChange(feed: entry.feed, seq: entry.seq, effect: .ignored("\(error)"))
        }
        switch payload {
        case .admit(let feed), .remove(let feed):
            guard entry.feed == space else {
                return ReplicaChange(feed: entry.feed, seq: entry.seq, effect: .ignored("control op outside the genesis feed"))
            }
            let admitted: Bool
            if case .admit = payload { admitted = true } else { admitted = false }
            admission.record(feed, admitted: admitted, at: entry.seq)
            return ReplicaChange(feed: entry.feed, seq: entry.seq, effect: admitted ? .admitted(feed) : .removed(feed))
        case .model(let op):
            let context = EntryContext(feed: entry.feed, seq: entry.seq, lamport: entry.lamport)
            if keepsOps { ops.set(Self.opKey(context), op) }
            switch model.apply(op, context: context) {
            case .applied(let keys): return ReplicaChange(feed: entry.feed, seq: entry.seq, effect: .applied(keys))
            case .ignored(let reason): return ReplicaChange(feed: entry.feed, seq: entry.seq, effect: .ignored(reason))
            }
        }
    }

    /// `lamport (u64 BE) ‖ feed ‖ seq (u64 BE)`: a causal order every replica shares.
    static func opKey(_ context: EntryContext) -> RecordKey {
        var writer = ByteWriter(capacity: 48)
        writer.writeUInt64(context.lamport.byteSwapped)
        context.feed.encode(into: &writer)
        writer.writeUInt64(context.seq.byteSwapped)
        return RecordKey(writer.bytes)
    }

    static func context(ofOpKey key: RecordKey) -> EntryContext? {
        guard key.bytes.count == 48 else { return nil }
        return key.bytes.withUnsafeBytes { raw in
            EntryContext(feed: PublicKey(raw: Bytes32(loading: UnsafeRawBufferPointer(rebasing: raw[8..<40]))),
                         seq: UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 40, as: UInt64.self)),
                         lamport: UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self)))
        }
    }

    /// The replica metadata stored beside the model records in a snapshot.
    var metadata: [UInt8] {
        var writer = ByteWriter()
        admission.encode(into: &writer)
        return writer.bytes
    }
}
