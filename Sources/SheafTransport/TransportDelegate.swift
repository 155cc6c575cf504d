import SheafCrypto

/// What a `Transport` tells its owner (the node's actor). Calls about one
/// peer arrive in order: `transportConnected`, its frames, then
/// `transportDisconnected`.
public protocol TransportDelegate: AnyObject, Sendable {
    /// A session is up: the handshake authenticated `peer`; `session` is the
    /// hash both ends share.
    func transportConnected(peer: PublicKey, session: Hash, outbound: Bool, address: String) async
    func transportDisconnected(peer: PublicKey, reason: String) async
    /// A dial did not produce a session (refused, timed out, failed handshake).
    func transportConnectFailed(address: String, reason: String) async
    /// One whole frame. The connection reads its next frame only after this
    /// returns: a slow receiver slows its peers down (inbound backpressure).
    func transportReceived(frame: [UInt8], from peer: PublicKey) async
    /// A whole frame as soon as it is read, before the frames ahead of it
    /// are delivered: for work that needs no state (checking a snapshot
    /// chunk, say), done on a task of its own beside that delivery and the
    /// reading of the next frame. The frame's `transportReceived` waits for
    /// it to return. Does nothing unless implemented.
    func transportArriving(frame: [UInt8], from peer: PublicKey)
}

extension TransportDelegate {
    public func transportArriving(frame: [UInt8], from peer: PublicKey) {}
}

/// One established session, for status displays and metrics.
public struct PeerInfo: Sendable, Hashable {
    public var key: PublicKey
    public var address: String
    public var outbound: Bool
    public var session: Hash
    public var bytesIn: UInt64
    public var bytesOut: UInt64
    public var since: ContinuousClock.Instant
}
