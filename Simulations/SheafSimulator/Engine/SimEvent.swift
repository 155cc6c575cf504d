/// A message on its way, shared by its arrival and delivery events.
final class Packet {
    let from: Int
    let to: Int
    /// The connection it was sent on; it is delivered only while the
    /// receiver's end of that same connection is open.
    let connection: UInt64
    let bytes: [UInt8]
    /// Payload plus the per-message overhead: what the links carry.
    let wireSize: Int
    /// When its last byte has crossed the wire; the downlink cannot finish
    /// before then.
    let tail: UInt64
    /// The sender's close notice rather than data: it rides behind the
    /// connection's data, so the peer sees every message before the close.
    let isClose: Bool

    init(from: Int, to: Int, connection: UInt64, bytes: [UInt8], wireSize: Int, tail: UInt64, isClose: Bool) {
        self.from = from
        self.to = to
        self.connection = connection
        self.bytes = bytes
        self.wireSize = wireSize
        self.tail = tail
        self.isClose = isClose
    }
}

/// What the loop does when an event comes due. Node numbers are array
/// indices; epochs make events of a previous incarnation of a node inert.
enum SimEvent {
    case start(node: Int, epoch: UInt32)
    case timer(node: Int, epoch: UInt32, token: UInt64, generation: UInt32)
    /// The packet's first byte reaches the receiver's downlink.
    case arrive(Packet)
    /// The packet has fully arrived.
    case deliver(Packet)
    /// The handshake of `from`'s connection attempt completes, or fails if
    /// `to` cannot be reached now (then the failure is reported at `deadline`).
    case handshake(from: Int, to: Int, epoch: UInt32, deadline: UInt64)
    case connectFailed(from: Int, to: Int, epoch: UInt32)
    /// `node` learns that `peer` died, if the connection is still the same.
    case peerLost(node: Int, peer: Int, connection: UInt64)
    case fault(SimFault)
    case action(@MainActor (Simulation) async -> Void)
}

/// A fault that can be scheduled at a virtual time.
public enum SimFault: Hashable, Sendable {
    /// Block traffic from `a` to `b`, and from `b` to `a` if symmetric.
    case partition(Set<SimNodeID>, Set<SimNodeID>, symmetric: Bool)
    /// Cut one node off from everyone, both ways.
    case isolate(SimNodeID)
    /// Lift every partition and isolation.
    case heal
    case crash(SimNodeID)
    /// Bring a crashed node back; a running node is crashed first (a reboot).
    case restart(SimNodeID)
}
