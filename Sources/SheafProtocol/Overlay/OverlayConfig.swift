/// Sizes and walk lengths of the membership overlay. The defaults are the
/// HyParView paper's for networks of up to about 10,000 nodes: an active view
/// of log₁₀(n) + 1 neighbours and a passive view six times larger.
public struct OverlayConfig: Hashable, Sendable {
    /// Neighbours kept connected; the broadcast layer gossips over these.
    public var activeSize: Int
    /// Known peers kept as replacements for failed neighbours.
    public var passiveSize: Int
    /// Hops a `forwardJoin` walks (ARWL) before the joiner must be accepted.
    public var activeWalkLength: UInt8
    /// The hop count (PRWL) at which a `forwardJoin` leaves the joiner in the
    /// passive view of the node it passes.
    public var passiveWalkLength: UInt8
    /// Active neighbours (ka) in a shuffle sample.
    public var shuffleActive: Int
    /// Passive peers (kp) in a shuffle sample.
    public var shufflePassive: Int
    /// Hops a shuffle walks before its last receiver answers.
    public var shuffleWalkLength: UInt8
    /// How often a tick starts a shuffle (more often while the passive view
    /// is short). Shuffles cost a connection each (the walk's last node
    /// answers the origin directly), so they stay rare.
    public var shuffleInterval: Duration
    /// Ticks a neighbour request may stay unanswered before it counts as
    /// rejected, so a silent peer cannot hold a slot of the active view.
    public var requestTimeoutTicks: Int

    public init(
        activeSize: Int = 5,
        passiveSize: Int = 30,
        activeWalkLength: UInt8 = 6,
        passiveWalkLength: UInt8 = 3,
        shuffleActive: Int = 3,
        shufflePassive: Int = 4,
        shuffleWalkLength: UInt8 = 4,
        shuffleInterval: Duration = .seconds(10),
        requestTimeoutTicks: Int = 2
    ) {
        self.activeSize = max(1, activeSize)
        self.passiveSize = max(0, passiveSize)
        self.activeWalkLength = activeWalkLength
        self.passiveWalkLength = passiveWalkLength
        self.shuffleActive = max(0, shuffleActive)
        self.shufflePassive = max(0, shufflePassive)
        self.shuffleWalkLength = max(1, shuffleWalkLength)
        self.shuffleInterval = shuffleInterval
        self.requestTimeoutTicks = max(1, requestTimeoutTicks)
    }

    /// The most peers a shuffle carries (its origin included); longer
    /// samples from the network are cut to this before they are read.
    var shuffleSampleLimit: Int { 1 + shuffleActive + shufflePassive }
}
