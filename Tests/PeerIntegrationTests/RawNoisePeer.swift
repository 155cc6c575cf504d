import SheafCrypto
import SheafNoise
import SheafProtocol

/// A peer that speaks the transport by hand over a raw socket: completes
/// the real handshake, then sends whatever frames a test wants, including
/// ones the real transport never would.
final class RawNoisePeer {
    let socket: RawSocket
    let identity = KeyPair()
    private(set) var session: SheafSession
    private var opener: FrameOpener
    private var sealer: FrameSealer

    /// Connects and runs the initiator's side of the handshake.
    init(port: Int, sealLimit: Int = FrameLayout.defaultMaxFrameBytes) throws {
        socket = try RawSocket(port: port, receiveTimeout: 5)
        var handshake = SheafHandshake(initiator: identity)
        guard let first = try handshake.start(), let framed = RecordSplitter.frame(first) else { throw RawSocketError("no first message") }
        socket.send(framed)
        while !handshake.isComplete {
            guard let header = socket.receive(2) else { throw RawSocketError("closed during the handshake") }
            guard let message = socket.receive(Int(header[0]) << 8 | Int(header[1])) else { throw RawSocketError("closed during the handshake") }
            if let reply = try handshake.next(message: message), let framed = RecordSplitter.frame(reply) { socket.send(framed) }
        }
        guard let result = handshake.result else { throw RawSocketError("no session") }
        session = result
        opener = result.channel.opener
        // Possibly a sealer that allows more than the daemon does, to send what it must refuse.
        sealer = result.channel.sealer.withFrameLimit(sealLimit)
    }

    func send(_ message: WireMessage) throws { try send(frame: WireCodec.encode(message)) }

    func send(frame: [UInt8]) throws { socket.send(try sealer.seal(frame)) }

    /// Frames received until the peer closes or the socket's timeout passes
    /// with nothing new; and whether it closed.
    func drain() throws -> (frames: [WireMessage], closed: Bool) {
        var frames: [WireMessage] = []
        while true {
            switch socket.receiveSome() {
            case .closed: return (frames, true)
            case .timedOut: return (frames, false)
            case .bytes(let bytes):
                for frame in try opener.feed(bytes) {
                    if case .data(let data) = frame { frames.append(try WireCodec.decode(data)) }
                }
            }
        }
    }
}
