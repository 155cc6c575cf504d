import SheafMetrics
import SheafNode
import SheafProtocol

/// What the node's events and counters mean for the daemon's metrics. The
/// counters come from the host's own (`HostStats`), taken as deltas, so
/// each thing is counted once, where it happens.
extension PeerMetrics {
    func record(_ event: NodeEvent) {
        switch event {
        case .misbehaviour(_, let kind, _): verificationFailed(kind: kind.rawValue)
        case .peerBanned: peerBanned()
        case .forkDetected: forkDetected()
        case .fraudDetected: fraudDetected()
        case .bootstrapChoseSnapshot, .bootstrapProgress, .spaceReady, .neighborUp, .neighborDown: break
        }
    }

    /// Counts what the host did since `previous` (its counters only grow).
    func record(_ stats: HostStats, since previous: HostStats) {
        framesIn(stats.framesReceived - previous.framesReceived)
        framesOut(stats.framesSent - previous.framesSent)
        bytesIn(Int(stats.bytesReceived - previous.bytesReceived))
        bytesOut(Int(stats.bytesSent - previous.bytesSent))
        entriesAppended(Int(stats.entriesAppended - previous.entriesAppended))
        entriesApplied(Int(stats.entriesIngested - previous.entriesIngested))
        for _ in previous.snapshotsMade..<max(previous.snapshotsMade, stats.snapshotsMade) { snapshotMade() }
        for _ in previous.snapshotsInstalled..<max(previous.snapshotsInstalled, stats.snapshotsInstalled) { snapshotInstalled() }
    }
}
