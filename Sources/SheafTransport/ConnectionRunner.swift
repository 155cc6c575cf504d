import Logging
import NIOCore
import SheafCrypto
import SheafNoise

/// How a connection ended, for the dialer.
enum ConnectionOutcome {
    /// A session was established with `peer`; it has ended after `lasted`.
    case session(PublicKey, lasted: Duration)
    /// The connection was dropped before a session existed; `peer` is known
    /// when the handshake succeeded but the session was refused (a duplicate, oneself).
    case failed(String, peer: PublicKey?)
}

extension Transport {
    /// Accepts connections until the listener closes; each runs in its own task.
    func acceptLoop(_ server: NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>, bound: String) async {
        do {
            try await server.executeThenClose { inbound in
                for try await child in inbound {
                    let address = child.channel.remoteAddress.map(Self.describe) ?? "unknown"
                    guard let connection = reserve(outbound: false, address: address, channel: child.channel) else {
                        logger.warning("inbound connection refused: at the connection limit",
                                       metadata: ["address": "\(address)", "limit": "\(config.maxConnections)"])
                        // Through executeThenClose, which also finishes the async writer.
                        spawn { try? await child.executeThenClose { _, _ in } }
                        continue
                    }
                    spawn { [self] in _ = await run(child, connection: connection, expectedPeer: nil) }
                }
            }
        } catch {
            if !isShuttingDown { logger.error("listener failed", metadata: ["address": "\(bound)", "error": "\(error)"]) }
        }
    }

    /// Runs one connection from handshake to close, reporting to the delegate.
    func run(_ channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>, connection: Connection, expectedPeer: PublicKey?) async -> ConnectionOutcome {
        var log = logger
        log[metadataKey: "connection"] = "\(connection.id)"
        log[metadataKey: "address"] = "\(connection.address)"
        log[metadataKey: "direction"] = "\(connection.outbound ? "out" : "in")"
        var admitted: PublicKey?
        var authenticated: PublicKey?
        var failure: String?
        do {
            try await channel.executeThenClose { inbound, outbound in
                var iterator = inbound.makeAsyncIterator()
                let (session, leftover) = try await handshake(connection, &iterator, outbound, expectedPeer: expectedPeer)
                log[metadataKey: "peer"] = "\(session.peer)"
                authenticated = session.peer
                switch admit(connection, peer: session.peer, session: session.session) {
                case .rejected(let reason):
                    connection.close(reason: reason)
                    failure = reason
                    log.info("connection dropped", metadata: ["reason": "\(reason)"])
                    return
                case .admitted(let replaced):
                    admitted = session.peer
                    if let replaced {
                        replaced.close(reason: "replaced by another connection with the same peer")
                        await replaced.done.wait()
                    }
                }
                log.info("session up")
                await delegate?.transportConnected(peer: session.peer, session: session.session,
                                                   outbound: connection.outbound, address: connection.address)
                try await serve(connection, session: session, leftover: leftover, &iterator, outbound, log: log)
            }
        } catch {
            connection.close(reason: describe(error))
        }
        let reason = connection.closeReason ?? "closed by peer"
        release(connection)
        if let peer = admitted {
            log.info("session down", metadata: ["reason": "\(reason)"])
            await delegate?.transportDisconnected(peer: peer, reason: reason)
        } else {
            failure = failure ?? reason
            log.notice("connection failed before a session", metadata: ["reason": "\(reason)"])
        }
        connection.done.fire()
        if let admitted { return .session(admitted, lasted: .now - connection.since) }
        return .failed(failure ?? reason, peer: authenticated)
    }

    /// The Noise XX handshake, bounded by `handshakeTimeout`. Returns the
    /// session and any bytes that arrived after the last handshake message.
    private func handshake(
        _ connection: Connection, _ iterator: inout NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator,
        _ outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>, expectedPeer: PublicKey?
    ) async throws -> (SheafSession, [UInt8]) {
        let timeout = connection.channel.eventLoop.scheduleTask(in: TimeAmount(config.handshakeTimeout)) {
            connection.close(reason: "handshake timeout")
        }
        defer { timeout.cancel() }
        var handshake = connection.outbound
            ? SheafHandshake(initiator: identity, expectedPeer: expectedPeer, maxFrameBytes: config.maxFrameBytes)
            : SheafHandshake(responder: identity, maxFrameBytes: config.maxFrameBytes)
        if let first = try handshake.start() { try await write(handshakeMessage: first, connection, outbound) }
        var splitter = RecordSplitter(minimumBodyBytes: 1)
        while true {
            guard let buffer = try await iterator.next() else {
                throw TransportFailure(connection.closeReason ?? "closed during the handshake")
            }
            connection.received(buffer.readableBytes)
            var rest = buffer.readableBytesView[...]
            while !rest.isEmpty {
                var message: [UInt8]?
                let consumed = try rest.withUnsafeBytes { raw in
                    try splitter.feed(raw, maxRecords: 1) { message = Array($0) }
                }
                rest = rest.dropFirst(consumed)
                guard let message else { continue }
                if let reply = try handshake.next(message: message) {
                    try await write(handshakeMessage: reply, connection, outbound)
                }
                if let session = handshake.result { return (session, Array(rest)) }
            }
        }
    }

    private func write(handshakeMessage: [UInt8], _ connection: Connection, _ outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>) async throws {
        guard let framed = RecordSplitter.frame(handshakeMessage) else { throw TransportFailure("handshake message too long") }
        try await outbound.write(ByteBuffer(bytes: framed))
        connection.sent(framed.count)
    }

    /// Reads frames (in this task) while a writer and a timer run beside it.
    private func serve(
        _ connection: Connection, session: SheafSession, leftover: [UInt8],
        _ iterator: inout NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator,
        _ outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>, log: Logger
    ) async throws {
        var opener = session.channel.opener
        let sealer = session.channel.sealer
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { [self] in await writeLoop(connection, sealer: sealer, outbound, log: log) }
            group.addTask { [self] in await timerLoop(connection) }
            defer { group.cancelAll() }
            // The frame being delivered: the next one is read and decrypted
            // meanwhile, then waits for it (one frame of read-ahead).
            var delivering: Task<Void, Never>?
            do {
                do {
                    try await deliver(try leftover.withUnsafeBytes { try opener.feed($0) }, connection, session.peer, after: &delivering)
                    while let buffer = try await iterator.next() {
                        connection.received(buffer.readableBytes)
                        let frames = try buffer.withUnsafeReadableBytes { try opener.feed($0) }
                        try await deliver(frames, connection, session.peer, after: &delivering)
                    }
                } catch {
                    // Frames before the failure are still delivered, as when read one by one.
                    await delivering?.value
                    throw error
                }
                await delivering?.value
                connection.close(reason: connection.closeReason ?? "closed by peer")
            } catch let error as SecureChannelError {
                let reason = describe(error)
                log.warning("dropping peer: bad record", metadata: ["reason": "\(reason)"])
                connection.close(reason: reason)
            }
        }
    }

    /// Hands the frames of one read to the delegate in order, in one task
    /// that waits for the delivery before it; that task is left running in
    /// `previous` while the caller reads on. The frames are first shown to
    /// the delegate (`transportArriving`) in a task of their own, which runs
    /// while the read before is delivered and the next one is decrypted; the
    /// delivery waits for it. So at most two such tasks run per connection,
    /// and on a second core their work costs the stream no time. A task per
    /// read rather than per frame: a read holds tens of small frames (a
    /// snapshot chunk is a few KB), and handing each between threads cost
    /// more than checking it.
    private func deliver(_ frames: [ChannelFrame], _ connection: Connection, _ peer: PublicKey,
                         after previous: inout Task<Void, Never>?) async throws {
        let data = frames.compactMap { frame -> [UInt8]? in
            guard case .data(let bytes) = frame else { return nil }
            return bytes
        }
        guard !data.isEmpty else { return }
        let arriving = Task { [weak delegate = self.delegate] in
            for bytes in data { delegate?.transportArriving(frame: bytes, from: peer) }
        }
        await previous?.value
        try Task.checkCancellation()
        previous = Task { [weak delegate = self.delegate] in
            await arriving.value
            for bytes in data {
                connection.setDelivering(true)
                await delegate?.transportReceived(frame: bytes, from: peer)
                connection.setDelivering(false)
            }
        }
    }

    /// Seals queued frames and writes them, about 1 MiB per write.
    private func writeLoop(_ connection: Connection, sealer: FrameSealer, _ outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>, log: Logger) async {
        var sealer = sealer
        let allocator = connection.channel.allocator
        while let items = await connection.outbox.take(maxBytes: 1 << 20) {
            let size = items.reduce(0) { $0 + FrameLayout.sealedSize(frameBytes: $1.byteCount) }
            var buffer = allocator.buffer(capacity: size)
            do {
                for item in items {
                    switch item {
                    case .frame(let frame): try seal(frame, with: &sealer, into: &buffer)
                    case .keepalive: buffer.writeBytes(try sealer.sealKeepalive())
                    }
                }
                try await outbound.write(buffer)
                connection.sent(size)
            } catch {
                connection.close(reason: "write failed: \(describe(error))")
                return
            }
        }
        if connection.outbox.isDiscarding {
            connection.close(reason: connection.closeReason ?? "closed")
        } else {
            // Drained for a graceful finish: half-close once the socket has
            // sent it all; the peer's close then ends the reader.
            outbound.finish()
        }
    }

    private func seal(_ frame: [UInt8], with sealer: inout FrameSealer, into buffer: inout ByteBuffer) throws {
        let size = FrameLayout.sealedSize(frameBytes: frame.count)
        var failure: SecureChannelError?
        frame.withUnsafeBytes { source in
            _ = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { out in
                do throws(SecureChannelError) {
                    try sealer.seal(source, into: UnsafeMutableRawBufferPointer(rebasing: out[0..<size]))
                } catch {
                    failure = error
                }
                return size
            }
        }
        if let failure { throw failure }
    }

    /// Closes an idle session and keeps a quiet one alive.
    private func timerLoop(_ connection: Connection) async {
        let tick = max(.milliseconds(10), min(config.keepaliveInterval, config.idleTimeout) / 4)
        while !Task.isCancelled {
            do { try await Task.sleep(for: tick) } catch { return }
            let silence = connection.silence(now: .now)
            if let received = silence.received, received > config.idleTimeout {
                connection.close(reason: "idle: nothing received for \(received)")
                return
            }
            if silence.sent >= config.keepaliveInterval, connection.outbox.isEmpty {
                _ = connection.outbox.enqueue(.keepalive)
            }
        }
    }

    func describe(_ error: any Error) -> String {
        switch error {
        case let failure as TransportFailure: failure.reason
        case let error as SecureChannelError:
            switch error {
            case .frameTooLarge(let declared, let limit): "frame of \(declared) bytes over the limit \(limit)"
            case .decryptFailed: "record failed to decrypt"
            case .malformedRecord(let detail): "malformed record: \(detail)"
            case .nonceExhausted: "nonces exhausted"
            }
        case let error as SheafHandshakeError: "handshake failed: \(error)"
        default: "\(error)"
        }
    }

    static func describe(_ address: SocketAddress) -> String {
        guard let ip = address.ipAddress, let port = address.port else { return "\(address)" }
        return ip.contains(":") ? "[\(ip)]:\(port)" : "\(ip):\(port)"
    }
}

/// A reason to drop a connection, as the logs and the delegate will say it.
struct TransportFailure: Error {
    let reason: String
    init(_ reason: String) { self.reason = reason }
}
