import PeerCluster
import SheafControl
import SheafCrypto
import SheafDaemon
import SheafFeeds
import SheafNoise
import SheafProtocol
import Testing

/// A daemon drops connections that misbehave below or at the protocol, and
/// keeps serving everyone else.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct HostileConnectionTests {
    /// A daemon with a space and a well-behaved neighbour.
    private func servingPair(_ cluster: DaemonCluster) async throws -> (a: PeerProcess, b: PeerProcess, space: String, port: Int) {
        let a = try await cluster.start("a")
        let b = try await cluster.start("b", join: [a.listen])
        let space = try await a.control().createSpace().space
        _ = try await a.control().put("secret", PutObjectRequest(fields: ["v": .string("only for members")]), in: space)
        _ = try await a.control().snapshotNow(in: space)
        _ = try await b.control().joinSpace(JoinSpaceRequest(space: space))
        try await DaemonCluster.eventually("b holds the space") { try await b.control().space(space).objects == 1 }
        guard let port = HostPort(a.listen)?.port else { throw RawSocketError("bad listen address \(a.listen)") }
        return (a, b, space, port)
    }

    /// The daemon still serves: the neighbour is connected and a new peer completes a handshake.
    private func stillServes(_ a: PeerProcess, _ b: PeerProcess, port: Int) async throws {
        let bKey = try await b.control().status().node
        #expect(try await a.control().status().neighbours.contains { $0.node == bKey })
        let fresh = try RawNoisePeer(port: port)
        #expect(fresh.session.peer.hex == (try await a.control().status().node))
    }

    @Test func garbageBytesAreDropped() async throws {
        let cluster = try DaemonCluster()
        let (a, b, _, port) = try await servingPair(cluster)
        // A whole record, so the handshake reads it (unframed bytes would
        // only wait out the handshake timeout, the next test's case): it
        // holds no handshake message, and must be refused well before that
        // 5-second timeout, hence the socket waits 3.
        let socket = try RawSocket(port: port, receiveTimeout: 3)
        let garbage = (0..<4094).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ 7) }
        socket.send(RecordSplitter.frame(garbage) ?? [])
        #expect(socket.closedByPeer())
        try await stillServes(a, b, port: port)
        await cluster.stopAll()
    }

    @Test func aHandshakeThatNeverFinishesIsDropped() async throws {
        let cluster = try DaemonCluster()
        let (a, b, _, port) = try await servingPair(cluster)
        // Connect, say nothing: the 5-second handshake timeout closes it (the socket waits up to 10).
        let socket = try RawSocket(port: port, receiveTimeout: 10)
        #expect(socket.closedByPeer())
        try await stillServes(a, b, port: port)
        await cluster.stopAll()
    }

    @Test func aFrameOverTheLimitIsDropped() async throws {
        let cluster = try DaemonCluster()
        let (a, b, _, port) = try await servingPair(cluster)
        let peer = try RawNoisePeer(port: port, sealLimit: 32 << 20)
        try peer.send(frame: [UInt8](repeating: 7, count: FrameLayout.defaultMaxFrameBytes + 1))
        #expect(try peer.drain().closed)
        try await stillServes(a, b, port: port)
        await cluster.stopAll()
    }

    @Test func aNodeWithoutTheSpaceKeyGetsNothingOfIt() async throws {
        let cluster = try DaemonCluster()
        let (a, b, space, port) = try await servingPair(cluster)
        guard let spaceKey = PublicKey(hex: space) else { throw RawSocketError("bad space key") }
        let discovery = DiscoveryKey(space: spaceKey)
        let peer = try RawNoisePeer(port: port)
        try peer.send(.hello(Hello(address: PeerAddress(node: peer.identity.publicKey, endpoint: ""))))
        // It knows the discovery key (say, overheard) but not the space key: its proof cannot be right.
        let guess = KeyPair().publicKey
        try peer.send(.open(OpenSpace(discovery: discovery,
                                      proof: OpenSpace.proof(space: guess, session: peer.session.session, sender: peer.identity.publicKey))))
        try peer.send(.space(discovery, .snapshot(.requestOffers)))
        try peer.send(.space(discovery, .sync(.frontier(Frontier()))))
        let (frames, _) = try peer.drain()
        let leaked = frames.filter { if case .space(let key, _) = $0 { key == discovery } else { false } }
        #expect(leaked.isEmpty, "the daemon sent space traffic to a node that never proved the key: \(leaked)")
        #expect(!frames.isEmpty, "the daemon said hello at least")
        try await stillServes(a, b, port: port)
        await cluster.stopAll()
    }
}
