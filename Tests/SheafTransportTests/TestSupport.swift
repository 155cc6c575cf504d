import Logging
import NIOCore
import NIOPosix
import SheafCrypto
@_exported import SheafRandom
import SheafTransport
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Records what a transport reports, for tests to wait on.
actor Recorder: TransportDelegate {
    enum Event: Sendable {
        case connected(peer: PublicKey, session: Hash, outbound: Bool)
        case disconnected(peer: PublicKey, reason: String)
        case connectFailed(address: String, reason: String)
        case received(frame: [UInt8], from: PublicKey)
    }

    private(set) var events: [Event] = []
    /// Frames `transportArriving` was shown, in order (from the connection's thread).
    nonisolated let arrivals = Mutex<[[UInt8]]>([])

    /// Microseconds `transportArriving` takes after noting a frame.
    nonisolated let arrivalDelay = Atomic<Int>(0)
    /// Frames whose `transportArriving` has returned.
    nonisolated let arrived = Mutex<[[UInt8]]>([])
    /// For each delivered frame, whether its `transportArriving` had returned.
    private(set) var deliveredAfterArrival: [Bool] = []

    nonisolated func transportArriving(frame: [UInt8], from peer: PublicKey) {
        arrivals.withLock { $0.append(frame) }
        let delay = arrivalDelay.load(ordering: .relaxed)
        if delay > 0 { usleep(UInt32(delay)) }
        arrived.withLock { $0.append(frame) }
    }
    /// While set, `transportReceived` waits for it: a slow application.
    private var gate: CheckedContinuation<Void, Never>?
    private var blocked = false

    func transportConnected(peer: PublicKey, session: Hash, outbound: Bool, address: String) async {
        events.append(.connected(peer: peer, session: session, outbound: outbound))
    }

    func transportDisconnected(peer: PublicKey, reason: String) async {
        events.append(.disconnected(peer: peer, reason: reason))
    }

    func transportConnectFailed(address: String, reason: String) async {
        events.append(.connectFailed(address: address, reason: reason))
    }

    func transportReceived(frame: [UInt8], from peer: PublicKey) async {
        events.append(.received(frame: frame, from: peer))
        deliveredAfterArrival.append(arrived.withLock { $0.contains(frame) })
        if blocked { await withCheckedContinuation { gate = $0 } }
    }

    func block() { blocked = true }

    func unblock() {
        blocked = false
        gate?.resume()
        gate = nil
    }

    var connections: [(peer: PublicKey, session: Hash)] {
        events.compactMap { if case .connected(let p, let s, _) = $0 { (p, s) } else { nil } }
    }

    var disconnections: [(peer: PublicKey, reason: String)] {
        events.compactMap { if case .disconnected(let p, let r) = $0 { (p, r) } else { nil } }
    }

    var failures: [String] {
        events.compactMap { if case .connectFailed(_, let r) = $0 { r } else { nil } }
    }

    var frames: [[UInt8]] {
        events.compactMap { if case .received(let f, _) = $0 { f } else { nil } }
    }
}

/// Polls `condition` until it holds or `limit` passes (a bound, not a timing claim).
func eventually(_ limit: Duration = .seconds(15), _ condition: () async -> Bool) async -> Bool {
    let end = ContinuousClock.now + limit
    while ContinuousClock.now < end {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return await condition()
}

func quietLogger(_ label: String) -> Logger {
    var logger = Logger(label: label)
    logger.logLevel = .critical
    return logger
}

/// A transport with its recorder, shortened timers by default.
struct Node {
    let identity: KeyPair
    let recorder: Recorder
    let transport: Transport

    init(identity: KeyPair = KeyPair(), configure: (inout TransportConfig) -> Void = { _ in }) {
        var config = TransportConfig()
        config.handshakeTimeout = .seconds(2)
        config.reconnect.initial = .milliseconds(20)
        config.reconnect.maximum = .milliseconds(200)
        config.shutdownGrace = .milliseconds(500)
        configure(&config)
        self.identity = identity
        recorder = Recorder()
        transport = Transport(identity: identity, config: config, logger: quietLogger("test"), delegate: recorder)
    }

    var key: PublicKey { identity.publicKey }

    func listen() async throws -> String {
        let bound = try await transport.listen(host: "127.0.0.1", port: 0)
        return "127.0.0.1:\(bound.port)"
    }
}

/// A plain TCP client that speaks no Noise: sends `bytes`, then reports
/// whether the server closed the connection within `limit`.
func rawClientIsDropped(port: Int, sending bytes: [UInt8], limit: Duration = .seconds(15)) async throws -> Bool {
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .connect(host: "127.0.0.1", port: port) { channel in
            channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
        }
    return try await channel.executeThenClose { inbound, outbound in
        if !bytes.isEmpty { try await outbound.write(ByteBuffer(bytes: bytes)) }
        return try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                do {
                    for try await _ in inbound {}
                } catch {}
                return true
            }
            group.addTask {
                try await Task.sleep(for: limit)
                return false
            }
            let dropped = try await group.next() ?? false
            group.cancelAll()
            return dropped
        }
    }
}

