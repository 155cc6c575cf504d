/// A node's behaviour, driven by the simulation one event at a time.
///
/// Handlers are `async` because hosts call into actors (the replica); the
/// loop awaits each handler before it takes the next event, so a run stays
/// deterministic as long as the host itself draws randomness only through
/// its `SimIO`.
@MainActor public protocol SimHost: AnyObject {
    /// The node comes up for the first time.
    func start(_ io: SimIO) async
    /// A connection is open; `outbound` says whether this node asked for it.
    func connected(to peer: SimNodeID, outbound: Bool, _ io: SimIO) async
    /// The peer closed the connection, or was found dead.
    func disconnected(from peer: SimNodeID, _ io: SimIO) async
    /// `connect(to:)` gave up: the peer is down or unreachable.
    func connectFailed(to peer: SimNodeID, _ io: SimIO) async
    func received(_ message: [UInt8], from peer: SimNodeID, _ io: SimIO) async
    func timerFired(_ token: UInt64, _ io: SimIO) async
    /// Volatile state is gone; no more events arrive until `restarted`.
    func crashed() async
    /// The node comes back and reopens what it had on disk.
    func restarted(_ io: SimIO) async
}
