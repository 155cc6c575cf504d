import NIOCore
import NIOPosix
import SheafCrypto

extension Transport {
    /// Dials `address` once, or, when `persistent`, for as long as the
    /// transport runs, with backoff between attempts. The backoff restarts
    /// after a session that lasted, so a peer that accepts and drops at once
    /// is not redialled in a tight loop.
    func dialLoop(address: String, persistent: Bool, expectedPeer: PublicKey?) async {
        var attempt = 0
        var generator = SystemRandomNumberGenerator()
        while !isShuttingDown {
            switch await dial(address, expectedPeer: expectedPeer) {
            case .session(let peer, let lasted):
                if lasted >= Self.stableSession { attempt = 0 }
                await waitWhileConnected(peer)
            case .failed(_, let peer?) where currentSession(with: peer) != nil:
                // The peer is already connected through another connection
                // (it dialled us too): not a failure; redial once that ends.
                await waitWhileConnected(peer)
            case .failed(let reason, let peer):
                logger.info("dial failed", metadata: ["address": "\(address)", "reason": "\(reason)"])
                await delegate?.transportConnectFailed(address: address, reason: reason)
                if peer == identity.publicKey { return }  // our own address: redialling cannot help
            }
            guard persistent, isPersistent(address) else { return }
            await pause(config.reconnect.delay(attempt: attempt, unit: Double.random(in: 0..<1, using: &generator)))
            attempt += 1
        }
    }

    /// While `peer` has a session through any connection, there is nothing to redial.
    private func waitWhileConnected(_ peer: PublicKey) async {
        while let other = currentSession(with: peer), !isShuttingDown {
            await other.done.wait()
        }
    }

    /// A session at least this long resets the backoff.
    static let stableSession: Duration = .seconds(10)

    /// One TCP connect and connection run.
    private func dial(_ address: String, expectedPeer: PublicKey?) async -> ConnectionOutcome {
        guard let (host, port) = Self.parse(address) else { return .failed("invalid address \(address)", peer: nil) }
        guard hasRoom() else { return .failed(isShuttingDown ? "shutting down" : "at the connection limit", peer: nil) }
        let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
        do {
            channel = try await ClientBootstrap(group: group)
                .connectTimeout(TimeAmount(config.connectTimeout))
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelOption(.recvAllocator, value: Self.receiveAllocator)
                .connect(host: host, port: port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel, configuration: Self.channelConfiguration)
                    }
                }
        } catch {
            return .failed("connect: \(error)", peer: nil)
        }
        guard let connection = reserve(outbound: true, address: address, channel: channel.channel) else {
            try? await channel.executeThenClose { _, _ in }
            return .failed(isShuttingDown ? "shutting down" : "at the connection limit", peer: nil)
        }
        return await run(channel, connection: connection, expectedPeer: expectedPeer)
    }

    /// Sleeps in short steps so that shutdown never waits out a long backoff.
    private func pause(_ delay: Duration) async {
        let end = ContinuousClock.now + delay
        while !isShuttingDown, ContinuousClock.now < end {
            try? await Task.sleep(for: min(.milliseconds(50), end - .now))
        }
    }

    /// "host:port" or "[v6]:port".
    static func parse(_ address: String) -> (String, Int)? {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]),
              (1...65535).contains(port) else { return nil }
        var host = String(address[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { return nil }
        return (host, port)
    }
}
