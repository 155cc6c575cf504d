import SheafCrypto
import SheafFeeds
import SheafProtocol

/// What the honest nodes of a run reported, for the invariant checks.
@MainActor public final class Monitor {
    public struct Report: Hashable, Sendable {
        public var reporter: SimNodeID
        public var time: NodeTime
        public var event: NodeEvent
    }

    public private(set) var reports: [Report] = []
    /// Entries byzantine nodes forged (feed, seq, hash): none may ever be stored.
    public private(set) var forged: [(feed: PublicKey, seq: UInt64, hash: Hash)] = []
    /// Nodes whose reports do not count (they are byzantine themselves).
    public var byzantine: Set<SimNodeID> = []

    public init() {}

    public func record(_ event: NodeEvent, by node: SimNodeID, at time: NodeTime) {
        guard !byzantine.contains(node) else { return }
        switch event {
        case .bootstrapProgress, .neighborUp, .neighborDown: return
        default: reports.append(Report(reporter: node, time: time, event: event))
        }
    }

    public func recordForged(feed: PublicKey, seq: UInt64, hash: Hash) { forged.append((feed, seq, hash)) }

    /// Whether an honest node reported `peer` for one of `kinds`.
    public func reported(_ peer: PublicKey, for kinds: Set<Misbehaviour>) -> Bool {
        reports.contains { report in
            if case .misbehaviour(let who, let kind, _) = report.event { return who == peer && kinds.contains(kind) }
            return false
        }
    }

    public func forkDetected(_ feed: PublicKey) -> Bool {
        reports.contains { report in
            guard case .forkDetected(let forked, _) = report.event else { return false }
            return forked == feed
        }
    }

    public func fraudDetected(_ signer: PublicKey) -> Bool {
        reports.contains { report in
            guard case .fraudDetected(let liar, _) = report.event else { return false }
            return liar == signer
        }
    }

    /// When a node first reported its space ready.
    public func readyTime(of node: SimNodeID) -> NodeTime? {
        reports.first { report in
            guard report.reporter == node, case .spaceReady = report.event else { return false }
            return true
        }?.time
    }
}
