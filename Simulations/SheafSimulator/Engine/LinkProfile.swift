import SheafProtocol
import SheafRandom

/// How long a message takes on the wire once it has left the sender's uplink.
public enum LatencyDistribution: Hashable, Sendable {
    case constant(Duration)
    /// Uniform between the two bounds, inclusive.
    case uniform(Duration, Duration)
    /// Approximately normal, clamped at zero. Drawn as a sum of twelve
    /// uniforms, which needs no libm and so reproduces bit for bit on every
    /// platform (tails end at six standard deviations).
    case normal(mean: Duration, stddev: Duration)

    /// A latency in nanoseconds; `.constant` draws nothing from `rng`.
    func sample(_ rng: inout SplitMix64) -> UInt64 {
        switch self {
        case .constant(let d):
            return d.nanoseconds
        case .uniform(let a, let b):
            let (lo, hi) = (min(a.nanoseconds, b.nanoseconds), max(a.nanoseconds, b.nanoseconds))
            return lo + rng.uniform(upTo: hi - lo)
        case .normal(let mean, let stddev):
            var sum = 0.0
            for _ in 0..<12 { sum += rng.unitInterval() }
            let value = Double(mean.nanoseconds) + (sum - 6) * Double(stddev.nanoseconds)
            return value <= 0 ? 0 : UInt64(min(value, Double(UInt64.max / 2)))
        }
    }
}

/// Occasional extra delay that lets a message fall behind later ones.
public struct Reordering: Hashable, Sendable {
    /// Chance that a message is held back.
    public var probability: Double
    /// The extra delay is uniform in `0...maxDelay`.
    public var maxDelay: Duration

    public init(probability: Double, maxDelay: Duration) {
        self.probability = probability
        self.maxDelay = maxDelay
    }

    public static let none = Reordering(probability: 0, maxDelay: .zero)
}

/// The behaviour of one direction of the path between two nodes. Bandwidth
/// is not here: it belongs to each node's uplink and downlink.
public struct LinkProfile: Hashable, Sendable {
    public var latency: LatencyDistribution
    /// Chance that a message is lost after leaving the sender.
    public var loss: Double
    /// Chance that a message arrives twice.
    public var duplication: Double
    public var reordering: Reordering

    public init(
        latency: LatencyDistribution = .constant(.milliseconds(50)),
        loss: Double = 0,
        duplication: Double = 0,
        reordering: Reordering = .none
    ) {
        self.latency = latency
        self.loss = loss
        self.duplication = duplication
        self.reordering = reordering
    }
}

extension SplitMix64 {
    /// Uniform in [0, 1), from the top 53 bits.
    mutating func unitInterval() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// True with probability `p`; draws nothing when the answer is certain,
    /// so switching a fault off leaves the rest of the run's draws unchanged.
    mutating func chance(_ p: Double) -> Bool {
        if p <= 0 { return false }
        if p >= 1 { return true }
        return unitInterval() < p
    }

    /// Uniform in `0...span` (multiply-high; the bias is below 2⁻⁶⁴·span).
    mutating func uniform(upTo span: UInt64) -> UInt64 {
        if span == 0 { return 0 }
        if span == .max { return next() }
        return next().multipliedFullWidth(by: span + 1).high
    }
}
