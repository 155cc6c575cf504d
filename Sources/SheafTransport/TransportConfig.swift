import SheafNoise

/// Limits and timers of a `Transport`. The defaults suit the daemon; tests
/// shorten the timers.
public struct TransportConfig: Sendable {
    /// Connections of every state (handshaking or established) beyond which
    /// inbound connections are refused and dials fail.
    public var maxConnections = 256
    /// A connection that has not finished its handshake by then is closed.
    public var handshakeTimeout: Duration = .seconds(5)
    /// A session from which nothing arrived for this long is closed.
    public var idleTimeout: Duration = .seconds(60)
    /// A session that sent nothing for this long sends a keep-alive, so that
    /// the peer's idle timer does not fire while all is well.
    public var keepaliveInterval: Duration = .seconds(15)
    /// The largest application frame, either way.
    public var maxFrameBytes = FrameLayout.defaultMaxFrameBytes
    /// Frames queued for one peer and not yet handed to the socket; a peer
    /// that lets more pile up is too slow and is disconnected.
    public var maxQueuedBytesPerPeer = 64 << 20
    /// How long a TCP connect may take.
    public var connectTimeout: Duration = .seconds(5)
    /// Delays between attempts of persistent dials.
    public var reconnect = ReconnectBackoff()
    /// How long `shutdown` lets queued frames drain before closing anyway.
    public var shutdownGrace: Duration = .seconds(2)

    public init() {}
}

/// Exponential backoff with jitter: `initial × multiplier^attempt`, capped at
/// `maximum`, then spread by ± `jitter` (a fraction) so that many nodes that
/// lost the same peer do not redial in step.
public struct ReconnectBackoff: Sendable {
    public var initial: Duration = .milliseconds(100)
    public var multiplier = 2.0
    public var maximum: Duration = .seconds(10)
    public var jitter = 0.2

    public init() {}

    /// The delay before retry number `attempt` (0 for the first), with
    /// `unit` a random number in 0..<1.
    public func delay(attempt: Int, unit: Double) -> Duration {
        let base = seconds(initial) * pow(multiplier, Double(min(attempt, 62)))
        let capped = min(base, seconds(maximum))
        let spread = capped * (1 + jitter * (2 * unit - 1))
        return .nanoseconds(Int64(max(0, spread) * 1e9))
    }

    private func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    private func pow(_ base: Double, _ exponent: Double) -> Double {
        var result = 1.0
        for _ in 0..<Int(exponent) { result *= base; if result > 1e12 { break } }
        return result
    }
}
