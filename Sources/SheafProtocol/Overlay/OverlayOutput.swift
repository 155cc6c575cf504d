/// An effect the overlay asks its driver to carry out, in order.
public enum OverlayOutput: Hashable, Sendable {
    /// Send a message; the driver opens a connection first if it has none.
    case send(PeerAddress, OverlayMessage)
    /// The peer joined the active view: the broadcast layer makes it an eager peer.
    case neighborUp(PeerAddress)
    /// The peer left the active view.
    case neighborDown(PeerAddress)
    /// The overlay no longer needs a connection to this peer. The driver may
    /// close it once the messages queued before this output are flushed (and
    /// no other layer or space uses it). Closing a released connection is
    /// not a failure: do not report it with `Overlay.peerFailed`.
    case release(PeerAddress)
}
