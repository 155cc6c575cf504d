import NIOCore
import SheafCrypto
import Synchronization

/// What the tasks of one TCP connection share: its identity, its outbox,
/// counters and timestamps, and the reason it closed.
final class Connection: Sendable {
    let id: UInt64
    let outbound: Bool
    let address: String
    let channel: any Channel
    let outbox: Outbox
    let since = ContinuousClock.now
    /// Fired once the connection is gone and its disconnect has been reported.
    let done = Signal()

    private struct State {
        var peer: PublicKey?
        var session: Hash?
        var closeReason: String?
        var bytesIn: UInt64 = 0
        var bytesOut: UInt64 = 0
        var lastReceived = ContinuousClock.now
        var lastSent = ContinuousClock.now
        /// The reader is inside a delegate call: silence is then not the peer's fault.
        var delivering = false
    }

    private let state = Mutex(State())

    init(id: UInt64, outbound: Bool, address: String, channel: any Channel, maxQueuedBytes: Int) {
        self.id = id
        self.outbound = outbound
        self.address = address
        self.channel = channel
        outbox = Outbox(limit: maxQueuedBytes)
    }

    var peer: PublicKey? { state.withLock { $0.peer } }
    var closeReason: String? { state.withLock { $0.closeReason } }

    func established(peer: PublicKey, session: Hash) {
        state.withLock { $0.peer = peer; $0.session = session }
    }

    /// Closes at once, dropping queued frames. The first reason given is kept.
    func close(reason: String) {
        state.withLock { if $0.closeReason == nil { $0.closeReason = reason } }
        outbox.close(drain: false)
        channel.close(promise: nil)
    }

    /// Stops accepting frames; the writer sends what is queued, then closes.
    func finish(reason: String) {
        state.withLock { if $0.closeReason == nil { $0.closeReason = reason } }
        outbox.close(drain: true)
    }

    func received(_ bytes: Int) {
        state.withLock { $0.bytesIn += UInt64(bytes); $0.lastReceived = .now }
    }

    func sent(_ bytes: Int) {
        state.withLock { $0.bytesOut += UInt64(bytes); $0.lastSent = .now }
    }

    func setDelivering(_ delivering: Bool) {
        state.withLock { $0.delivering = delivering; $0.lastReceived = .now }
    }

    /// (time since anything arrived, unless a delivery is under way; time since anything was sent)
    func silence(now: ContinuousClock.Instant) -> (received: Duration?, sent: Duration) {
        state.withLock { ($0.delivering ? nil : now - $0.lastReceived, now - $0.lastSent) }
    }

    var info: PeerInfo? {
        state.withLock { s in
            guard let peer = s.peer, let session = s.session else { return nil }
            return PeerInfo(key: peer, address: address, outbound: outbound, session: session,
                            bytesIn: s.bytesIn, bytesOut: s.bytesOut, since: since)
        }
    }
}

/// A one-shot event that any number of tasks can await.
final class Signal: Sendable {
    private let state = Mutex<(fired: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func fire() {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.fired = true
            defer { s.waiters = [] }
            return s.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let fired = state.withLock { s -> Bool in
                if !s.fired { s.waiters.append(continuation) }
                return s.fired
            }
            if fired { continuation.resume() }
        }
    }
}
