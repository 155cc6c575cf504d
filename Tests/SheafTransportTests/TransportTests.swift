import SheafCrypto
import SheafTransport
import Testing

/// Loopback only; every wait is bounded by `eventually`.
@Suite("Transport sessions over loopback TCP")
struct TransportTests {
    @Test("two transports connect and exchange frames both ways; keys and session hashes agree")
    func exchange() async throws {
        let a = Node(), b = Node()
        try await connect(a, b, checkingKey: true)
        let (aSaw, bSaw) = (await a.recorder.connections[0], await b.recorder.connections[0])
        #expect(aSaw.peer == b.key && bSaw.peer == a.key)
        #expect(aSaw.session == bSaw.session)

        var rng = SplitMix64(seed: 9)
        let toA = (0..<40).map { i in rng.bytes([1, 100, 70_000, 1 << 20][i % 4]) }
        let toB = (0..<40).map { _ in rng.bytes(1 + rng.below(5000)) }
        for frame in toA { b.transport.send(frame, to: a.key) }
        for frame in toB { a.transport.send(frame, to: b.key) }
        #expect(await eventually {
            let (atA, atB) = (await a.recorder.frames.count, await b.recorder.frames.count)
            return atA == toA.count && atB == toB.count
        })
        #expect(await a.recorder.frames == toA)
        #expect(await b.recorder.frames == toB)

        let peersOfA = await a.transport.connectedPeers
        #expect(peersOfA.map(\.key) == [b.key])
        #expect(peersOfA.first?.outbound == false)
        #expect(peersOfA.first?.session == aSaw.session)
        #expect((peersOfA.first?.bytesIn ?? 0) > UInt64(toA.reduce(0) { $0 + $1.count }))

        await b.transport.shutdown()
        #expect(await eventually { await a.recorder.disconnections.count == 1 })
        await a.transport.shutdown()
    }

    @Test("garbage bytes drop that connection; a good client is still served")
    func garbage() async throws {
        let a = Node()
        let address = try await a.listen()
        let port = Int(address.split(separator: ":").last!)!
        var rng = SplitMix64(seed: 3)
        // A plausible first record (32 bytes) then junk that cannot authenticate.
        #expect(try await rawClientIsDropped(port: port, sending: [0, 32] + rng.bytes(32) + [0, 64] + rng.bytes(64)))
        #expect(try await rawClientIsDropped(port: port, sending: rng.bytes(5000)))
        let b = Node()
        b.transport.connect(to: address, persistent: false)
        #expect(await eventually { await a.recorder.connections.count == 1 })
        #expect(await a.recorder.connections.map(\.peer) == [b.key])
        await b.transport.shutdown()
        await a.transport.shutdown()
    }

    @Test("a client that never finishes the handshake is dropped after the handshake timeout")
    func handshakeTimeout() async throws {
        let a = Node { $0.handshakeTimeout = .milliseconds(300) }
        let address = try await a.listen()
        let port = Int(address.split(separator: ":").last!)!
        #expect(try await rawClientIsDropped(port: port, sending: []))
        #expect(try await rawClientIsDropped(port: port, sending: [0, 40, 1, 2, 3]))
        #expect(await a.recorder.connections.isEmpty)
        await a.transport.shutdown()
    }

    @Test("a frame over the receiver's limit drops the session")
    func oversizeFrame() async throws {
        let a = Node { $0.maxFrameBytes = 1 << 20 }
        let b = Node { $0.maxFrameBytes = 4 << 20 }
        try await connect(a, b)
        b.transport.send([UInt8](repeating: 7, count: 2 << 20), to: a.key)
        #expect(await eventually { await a.recorder.disconnections.count == 1 })
        let reason = await a.recorder.disconnections.first?.reason ?? ""
        #expect(reason.contains("over the limit"), "\(reason)")
        #expect(await a.recorder.frames.isEmpty)
        await b.transport.shutdown()
        await a.transport.shutdown()
    }

    @Test("connections beyond the cap are refused")
    func connectionCap() async throws {
        let a = Node { $0.maxConnections = 2 }
        let address = try await a.listen()
        let clients = [Node(), Node(), Node()]
        for client in clients.prefix(2) { client.transport.connect(to: address, persistent: false) }
        #expect(await eventually { await a.recorder.connections.count == 2 })
        clients[2].transport.connect(to: address, persistent: false)
        #expect(await eventually { await clients[2].recorder.failures.count == 1 })
        #expect(await a.transport.connectedPeers.count == 2)
        #expect(await clients[2].recorder.connections.isEmpty)
        for client in clients { await client.transport.shutdown() }
        await a.transport.shutdown()
    }

    @Test("a persistent dial reconnects after the listener restarts")
    func persistentReconnect() async throws {
        let serverIdentity = KeyPair()
        let first = Node(identity: serverIdentity)
        let address = try await first.listen()
        let port = Int(address.split(separator: ":").last!)!
        let a = Node()
        a.transport.connect(to: address, persistent: true)
        #expect(await eventually { await a.recorder.connections.count == 1 })
        await first.transport.shutdown()
        #expect(await eventually { await a.recorder.disconnections.count == 1 })
        // Redials fail while nothing listens.
        #expect(await eventually { await a.recorder.failures.count >= 1 })

        let second = Node(identity: serverIdentity)
        _ = try await second.transport.listen(host: "127.0.0.1", port: port)
        #expect(await eventually { await a.recorder.connections.count == 2 })
        #expect(await a.recorder.connections.map(\.peer) == [serverIdentity.publicKey, serverIdentity.publicKey])
        a.transport.send([1, 2, 3], to: serverIdentity.publicKey)
        #expect(await eventually { await second.recorder.frames == [[1, 2, 3]] })
        await a.transport.shutdown()
        await second.transport.shutdown()
    }

    @Test("simultaneous dials leave exactly one session, the same on both ends", arguments: 0..<8)
    func simultaneousDial(round: Int) async throws {
        let a = Node(), b = Node()
        let addressA = try await a.listen(), addressB = try await b.listen()
        a.transport.connect(to: addressB, persistent: false)
        b.transport.connect(to: addressA, persistent: false)
        let settled = await eventually {
            let (pa, pb) = (await a.transport.connectedPeers, await b.transport.connectedPeers)
            // Both dials complete on both ends; the one the smaller key dialled survives.
            return pa.count == 1 && pb.count == 1 && pa[0].session == pb[0].session && pa[0].outbound == (a.key < b.key)
                && pb[0].outbound == (b.key < a.key)
        }
        #expect(settled)
        // Sessions that came and went are reported in order: connects outnumber disconnects by one.
        #expect(await eventually {
            let (ca, da) = (await a.recorder.connections.count, await a.recorder.disconnections.count)
            let (cb, db) = (await b.recorder.connections.count, await b.recorder.disconnections.count)
            return ca == da + 1 && cb == db + 1
        })
        a.transport.send([42], to: b.key)
        #expect(await eventually { await b.recorder.frames == [[42]] })
        await a.transport.shutdown()
        await b.transport.shutdown()
    }

    @Test("a connection to oneself is refused, and not redialled")
    func selfConnection() async throws {
        let a = Node()
        let address = try await a.listen()
        a.transport.connect(to: address, persistent: true)
        #expect(await eventually { await a.recorder.failures.count == 1 })
        #expect(await a.recorder.failures.first == "connection to self")
        // Backoff starts at 20 ms here: a redial would have failed again by now.
        try await Task.sleep(for: .milliseconds(500))
        #expect(await a.recorder.failures.count == 1)
        #expect(await a.recorder.connections.isEmpty)
        await a.transport.shutdown()
    }

    @Test("persistent dials both ways settle on one session and report no failures")
    func persistentBothWays() async throws {
        let a = Node(), b = Node()
        let addressA = try await a.listen(), addressB = try await b.listen()
        a.transport.connect(to: addressB, persistent: true)
        b.transport.connect(to: addressA, persistent: true)
        #expect(await eventually {
            let (pa, pb) = (await a.transport.connectedPeers, await b.transport.connectedPeers)
            return pa.count == 1 && pb.count == 1 && pa[0].session == pb[0].session && pa[0].outbound == (a.key < b.key)
        })
        try await Task.sleep(for: .milliseconds(500))
        #expect(await a.recorder.failures.isEmpty)
        #expect(await b.recorder.failures.isEmpty)
        let (pa, pb) = (await a.transport.connectedPeers, await b.transport.connectedPeers)
        #expect(pa.count == 1 && pb.count == 1 && pa.first?.session == pb.first?.session)
        await a.transport.shutdown()
        await b.transport.shutdown()
    }

    @Test("dialling a known node that is another fails with unexpected peer")
    func unexpectedPeer() async throws {
        let a = Node(), b = Node()
        let address = try await a.listen()
        b.transport.connect(to: address, persistent: false, expectedPeer: KeyPair().publicKey)
        #expect(await eventually { await b.recorder.failures.count == 1 })
        #expect(await b.recorder.failures.first?.contains("unexpectedPeer") == true)
        await a.transport.shutdown()
        await b.transport.shutdown()
    }

    @Test("a frame is delivered only once the delegate's look at it on arrival has returned")
    func deliveryWaitsForArrival() async throws {
        let a = Node(), b = Node()
        try await connect(a, b)
        a.recorder.arrivalDelay.store(3_000, ordering: .relaxed)
        // Small frames sent together arrive in one read and are handed over together.
        let frames = (0..<40).map { [UInt8](repeating: UInt8($0), count: 100 + $0) }
        for frame in frames { b.transport.send(frame, to: a.key) }
        #expect(await eventually { await a.recorder.frames == frames })
        #expect(await a.recorder.deliveredAfterArrival == Array(repeating: true, count: frames.count))
        #expect(a.recorder.arrivals.withLock { $0 } == frames)
        await a.transport.shutdown()
        await b.transport.shutdown()
    }

    @Test("each frame is shown to the delegate on arrival, while the one before is still being delivered")
    func arrivingAheadOfDelivery() async throws {
        let a = Node(), b = Node()
        try await connect(a, b)
        await a.recorder.block()
        let frames: [[UInt8]] = [[1, 1, 1], [2, 2], [3]]
        b.transport.send(frames[0], to: a.key)
        #expect(await eventually { await a.recorder.frames == [frames[0]] })
        b.transport.send(frames[1], to: a.key)
        // The second frame is seen while the first one's delivery still waits.
        #expect(await eventually { a.recorder.arrivals.withLock { $0 } == [frames[0], frames[1]] })
        #expect(await a.recorder.frames == [frames[0]])
        await a.recorder.unblock()
        b.transport.send(frames[2], to: a.key)
        #expect(await eventually { await a.recorder.frames == frames })
        #expect(a.recorder.arrivals.withLock { $0 } == frames)
        await a.transport.shutdown()
        await b.transport.shutdown()
    }

    @Test("a peer that stops reading is disconnected once its queue passes the limit")
    func slowPeer() async throws {
        let a = Node { $0.maxQueuedBytesPerPeer = 4 << 20 }
        let b = Node()
        try await connect(a, b)
        await b.recorder.block()
        let frame = [UInt8](repeating: 1, count: 1 << 20)
        // TCP and socket buffers absorb some; the queue then fills.
        let disconnected = await eventually {
            a.transport.send(frame, to: b.key)
            return await a.recorder.disconnections.count == 1
        }
        #expect(disconnected)
        #expect(await a.recorder.disconnections.first?.reason.contains("slowly") == true)
        await b.recorder.unblock()
        await a.transport.shutdown()
        await b.transport.shutdown()
    }

    @Test("a silent session is closed by the idle timeout; keep-alives hold a quiet one open")
    func idle() async throws {
        let a = Node { $0.idleTimeout = .milliseconds(400); $0.keepaliveInterval = .seconds(3600) }
        let b = Node { $0.keepaliveInterval = .seconds(3600) }
        let address = try await a.listen()
        b.transport.connect(to: address, persistent: false)
        #expect(await eventually { await a.recorder.disconnections.count == 1 })
        #expect(await a.recorder.disconnections.first?.reason.hasPrefix("idle") == true)
        await a.transport.shutdown()
        await b.transport.shutdown()

        // Idle limits far above the keep-alive interval: only a stall of the whole machine could trip them.
        let c = Node { $0.idleTimeout = .milliseconds(1500); $0.keepaliveInterval = .milliseconds(50) }
        let d = Node { $0.idleTimeout = .milliseconds(1500); $0.keepaliveInterval = .milliseconds(50) }
        let addressC = try await c.listen()
        d.transport.connect(to: addressC, persistent: false)
        #expect(await eventually { await c.recorder.connections.count == 1 })
        try await Task.sleep(for: .seconds(3))
        #expect(await c.recorder.disconnections.isEmpty)
        #expect(await d.recorder.disconnections.isEmpty)
        await c.transport.shutdown()
        await d.transport.shutdown()
    }
}

/// `b` dials `a` (expecting `a`'s key when `checkingKey`) and both report the session.
private func connect(_ a: Node, _ b: Node, checkingKey: Bool = false) async throws {
    let address = try await a.listen()
    b.transport.connect(to: address, persistent: false, expectedPeer: checkingKey ? a.key : nil)
    #expect(await eventually { await bothConnected(a, b) })
}

private func bothConnected(_ a: Node, _ b: Node) async -> Bool {
    let (atA, atB) = (await a.recorder.connections.count, await b.recorder.connections.count)
    return atA == 1 && atB == 1
}

@Suite("Transport shutdown")
struct ShutdownTests {
    @Test("shutdown delivers frames still queued")
    func flushes() async throws {
        let a = Node(), b = Node { $0.shutdownGrace = .seconds(10) }
        let address = try await a.listen()
        b.transport.connect(to: address, persistent: false)
        #expect(await eventually { await a.recorder.connections.count == 1 })
        #expect(await eventually { await b.recorder.connections.count == 1 })
        // The receiver stalls, so the frames back up in the sender's buffers when it shuts down.
        await a.recorder.block()
        let frames = (0..<24).map { [UInt8](repeating: UInt8($0), count: 1 << 20) }
        for frame in frames { b.transport.send(frame, to: a.key) }
        async let shutdown: Void = b.transport.shutdown()
        try await Task.sleep(for: .milliseconds(300))
        await a.recorder.unblock()
        await shutdown
        #expect(await eventually { await a.recorder.disconnections.count == 1 })
        #expect(await a.recorder.frames == frames)
        await a.transport.shutdown()
    }
}
