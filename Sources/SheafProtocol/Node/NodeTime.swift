/// A point on a node's monotonic clock, in nanoseconds. The protocol core
/// never reads a clock: the driver passes the time in with every event (the
/// simulator's virtual clock, or the daemon's monotonic clock).
public struct NodeTime: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var nanoseconds: UInt64

    public init(nanoseconds: UInt64) { self.nanoseconds = nanoseconds }

    public static let zero = NodeTime(nanoseconds: 0)

    public static func < (a: NodeTime, b: NodeTime) -> Bool { a.nanoseconds < b.nanoseconds }

    public static func + (time: NodeTime, duration: Duration) -> NodeTime {
        NodeTime(nanoseconds: time.nanoseconds &+ duration.nanoseconds)
    }

    /// Time elapsed since `earlier` (zero if `earlier` is later).
    public func since(_ earlier: NodeTime) -> Duration {
        .nanoseconds(Int64(clamping: nanoseconds >= earlier.nanoseconds ? nanoseconds - earlier.nanoseconds : 0))
    }

    public var seconds: Double { Double(nanoseconds) / 1e9 }
    public var description: String { "\(seconds)s" }
}

extension Duration {
    /// The duration in (fractional) seconds, for reports and status.
    public var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }

    /// Whole nanoseconds, saturating at zero for negative durations.
    public var nanoseconds: UInt64 {
        // Under 2⁶⁴ attoseconds (18 s), the common case: one 64-bit division
        // (`components` divides 128-bit numbers, twice).
        if _high == 0 { return _low / 1_000_000_000 }
        guard _high > 0 else { return 0 }
        return UInt64(clamping: attoseconds / 1_000_000_000)
    }
}
