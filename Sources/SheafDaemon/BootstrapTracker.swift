import SheafControl
import SheafProtocol

/// How a joining space is getting on, pieced together from the core's
/// events: offers chosen, chunks fetched, ready, then the tail caught up.
struct BootstrapTracker: Sendable {
    let startedAt: NodeTime
    var snapshotEntries: UInt64 = 0
    var chunksDone = 0
    var chunksTotal = 0
    var bytesDone: UInt64 = 0
    var bytesTotal: UInt64 = 0
    var chose = false
    var readyAt: NodeTime?
    var fromSnapshot = false
    var liveAt: NodeTime?
    var stored: UInt64 = 0
    var known: UInt64 = 0

    init(startedAt: NodeTime) { self.startedAt = startedAt }

    mutating func chose(entries: UInt64, bytes: UInt64) {
        chose = true
        snapshotEntries = entries
        bytesTotal = bytes
    }

    mutating func progress(chunksDone: Int, chunksTotal: Int, bytesDone: UInt64, bytesTotal: UInt64) {
        self.chunksDone = chunksDone
        self.chunksTotal = chunksTotal
        self.bytesDone = bytesDone
        self.bytesTotal = bytesTotal
    }

    mutating func ready(fromSnapshot: Bool, at time: NodeTime) {
        guard readyAt == nil else { return }
        readyAt = time
        self.fromSnapshot = fromSnapshot
        if fromSnapshot { chunksDone = chunksTotal; bytesDone = bytesTotal }
    }

    /// Live once ready with everything any peer has shown it, or after a
    /// while with nothing shown (an empty space).
    mutating func update(stored: UInt64, known: UInt64, at time: NodeTime) {
        self.stored = stored
        self.known = max(self.known, known)
        guard let readyAt, liveAt == nil else { return }
        if self.known > 0 ? stored >= self.known : time.since(readyAt) > .seconds(5) { liveAt = time }
    }

    var phase: BootstrapProgress.Phase {
        if liveAt != nil { return .live }
        if readyAt != nil { return .catchingUp }
        return chose ? .downloading : .discovering
    }

    func report(at time: NodeTime) -> BootstrapProgress {
        BootstrapProgress(phase: phase, fromSnapshot: fromSnapshot || (chose && readyAt == nil), chunksDone: chunksDone,
                          chunksTotal: chunksTotal, bytesDone: bytesDone, bytesTotal: bytesTotal, snapshotEntries: snapshotEntries,
                          entriesStored: stored, entriesKnown: max(known, stored), elapsedSeconds: time.since(startedAt).seconds,
                          readySeconds: readyAt.map { $0.since(startedAt).seconds })
    }
}
