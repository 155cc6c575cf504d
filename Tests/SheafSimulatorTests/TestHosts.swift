import SheafProtocol
import SheafRandom
import SheafSimulator

/// What a `RecordingHost` was told, and when.
enum HostEvent: Hashable {
    case started
    case connected(SimNodeID, outbound: Bool)
    case disconnected(SimNodeID)
    case connectFailed(SimNodeID)
    case received([UInt8], from: SimNodeID)
    case timer(UInt64)
    case crashed
    case restarted
}

/// A host that does nothing by itself and logs every callback, so a test
/// can drive it through `io` and check what arrived when.
@MainActor final class RecordingHost: SimHost {
    private(set) var log: [(time: NodeTime, event: HostEvent)] = []
    /// The handle of the current incarnation.
    private(set) var io: SimIO?
    /// Extra behaviour on receipt, for tests that need a reaction.
    var onReceive: ((_ message: [UInt8], _ from: SimNodeID, _ io: SimIO) -> Void)?
    var onTimer: ((_ token: UInt64, _ io: SimIO) -> Void)?

    private func note(_ event: HostEvent, _ io: SimIO?) {
        log.append(((io ?? self.io)?.now ?? .zero, event))
    }

    func start(_ io: SimIO) async {
        self.io = io
        note(.started, io)
    }
    func connected(to peer: SimNodeID, outbound: Bool, _ io: SimIO) async { note(.connected(peer, outbound: outbound), io) }
    func disconnected(from peer: SimNodeID, _ io: SimIO) async { note(.disconnected(peer), io) }
    func connectFailed(to peer: SimNodeID, _ io: SimIO) async { note(.connectFailed(peer), io) }
    func received(_ message: [UInt8], from peer: SimNodeID, _ io: SimIO) async {
        note(.received(message, from: peer), io)
        onReceive?(message, peer, io)
    }
    func timerFired(_ token: UInt64, _ io: SimIO) async {
        note(.timer(token), io)
        onTimer?(token, io)
    }
    func crashed() async {
        note(.crashed, io)
        io = nil
    }
    func restarted(_ io: SimIO) async {
        self.io = io
        note(.restarted, io)
    }

    func times(of event: HostEvent) -> [NodeTime] { log.filter { $0.event == event }.map(\.time) }

    /// Payloads received, in order.
    var received: [[UInt8]] {
        log.compactMap { if case .received(let bytes, _) = $0.event { bytes } else { nil } }
    }
    var receivedTimes: [NodeTime] {
        log.compactMap { if case .received = $0.event { $0.time } else { nil } }
    }
}

/// A gossiping host for determinism tests: connects to random peers, relays
/// what it hears with some probability, and talks on timers. Every choice
/// comes from the simulation's generator.
@MainActor final class ChattyHost: SimHost {
    let peers: Int
    /// Bytes of the message it originates on every timer; a test may change
    /// its content to see the trace hash move.
    var marker: UInt8 = 0
    private(set) var heard = 0

    init(peers: Int) { self.peers = peers }

    func start(_ io: SimIO) async { await restarted(io) }

    func connected(to peer: SimNodeID, outbound: Bool, _ io: SimIO) async {
        io.send(to: peer, [marker, UInt8(truncatingIfNeeded: io.node.index)])
    }

    func disconnected(from peer: SimNodeID, _ io: SimIO) async {
        io.schedule(after: .milliseconds(300), token: 2)
    }

    func connectFailed(to peer: SimNodeID, _ io: SimIO) async {
        io.schedule(after: .milliseconds(500), token: 2)
    }

    func received(_ message: [UInt8], from peer: SimNodeID, _ io: SimIO) async {
        heard += 1
        io.record(metric: "heard", value: Double(heard))
        let relay = io.random { $0.below(3) == 0 }
        guard relay, message.count < 64 else { return }
        let targets = io.connectedPeers.filter { $0 != peer }
        guard !targets.isEmpty else { return }
        let target = targets[io.random { $0.below(targets.count) }]
        io.send(to: target, message + [UInt8(truncatingIfNeeded: io.node.index)])
    }

    func timerFired(_ token: UInt64, _ io: SimIO) async {
        switch token {
        case 1:
            let size = io.random { $0.below(200) }
            let body = io.random { $0.bytes(size) }
            for peer in io.connectedPeers { io.send(to: peer, [marker] + body) }
            io.schedule(after: .milliseconds(io.random { Int64($0.below(400)) + 100 }), token: 1)
        default:
            connectSomewhere(io)
        }
    }

    func crashed() async { heard = 0 }

    func restarted(_ io: SimIO) async {
        for _ in 0..<2 { connectSomewhere(io) }
        io.schedule(after: .milliseconds(100), token: 1)
    }

    private func connectSomewhere(_ io: SimIO) {
        let peer = SimNodeID(io.random { $0.below(peers) })
        if peer != io.node { io.connect(to: peer) }
    }
}
