import SheafCrypto

/// How misbehaviour costs a peer. A peer whose score falls to `banThreshold`
/// is disconnected and refused for `banDuration`; scores drift back to zero
/// over time so that an honest peer's occasional timeout is forgiven.
public struct ScoringConfig: Sendable {
    public var banThreshold = -100
    public var banDuration: Duration = .seconds(300)
    /// Points recovered per `decayInterval` (up to zero).
    public var decayPerInterval = 5
    public var decayInterval: Duration = .seconds(10)
    /// Frames per peer per second beyond which the peer is flooding.
    public var maxFramesPerSecond = 20_000

    public init() {}

    /// What one instance of each misbehaviour costs.
    public func penalty(_ kind: Misbehaviour) -> Int {
        switch kind {
        case .oversizeFrame, .badCapability, .invalidSignature: 100
        case .malformedFrame, .invalidEntries, .badChunk, .badManifest, .badEvidence: 50
        case .flooding: 40
        // Silence and early traffic are what loss and partitions look like
        // too: reported and steered around, but not enough to ban alone.
        case .unresponsive, .unsolicited: 1
        }
    }
}

/// Scores of connected peers and bans, keyed by node identity.
struct PeerScores {
    let config: ScoringConfig
    private var scores: [PublicKey: Int] = [:]
    private var bannedUntil: [PublicKey: NodeTime] = [:]
    /// Frames counted in the current one-second window, per peer.
    private var window: (start: NodeTime, counts: [PublicKey: Int]) = (.zero, [:])

    init(config: ScoringConfig) { self.config = config }

    func score(_ peer: PublicKey) -> Int { scores[peer] ?? 0 }

    func isBanned(_ peer: PublicKey, now: NodeTime) -> Bool {
        guard let until = bannedUntil[peer] else { return false }
        return now < until
    }

    /// Charges a misbehaviour; true when the peer must now be dropped and banned.
    mutating func charge(_ peer: PublicKey, _ kind: Misbehaviour, now: NodeTime) -> Bool {
        let score = (scores[peer] ?? 0) - config.penalty(kind)
        scores[peer] = score
        guard score <= config.banThreshold else { return false }
        bannedUntil[peer] = now + config.banDuration
        scores[peer] = nil
        return true
    }

    /// Counts a frame; true when the peer exceeded its rate in this second.
    mutating func countFrame(from peer: PublicKey, now: NodeTime) -> Bool {
        if now.since(window.start) >= .seconds(1) { window = (now, [:]) }
        // Counted in place: one lookup per frame.
        func increment(_ count: inout Int) -> Int {
            count += 1
            return count
        }
        return increment(&window.counts[peer, default: 0]) == config.maxFramesPerSecond + 1
    }

    /// Moves every score toward zero and forgets expired bans.
    mutating func decay(now: NodeTime) {
        for (peer, score) in scores {
            let next = min(0, score + config.decayPerInterval)
            scores[peer] = next == 0 ? nil : next
        }
        bannedUntil = bannedUntil.filter { now < $0.value }
    }
}
