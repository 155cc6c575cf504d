import SheafCrypto

/// Why a Sheaf session handshake failed.
public enum SheafHandshakeError: Error, Hashable, Sendable {
    case noise(NoiseError)
    /// A handshake message was not length-framed or its payload broke the layout.
    case malformedPayload(String)
    /// The peer speaks another version of the handshake payload.
    case unsupportedVersion(UInt8)
    /// The Ed25519 key in the payload is not the static key the peer proved.
    case identityMismatch
    /// The Ed25519 key in the payload has no X25519 form.
    case invalidIdentity
    /// The initiator dialled a known node and reached another.
    case unexpectedPeer(PublicKey)
    /// `next` called after completion, or `start` twice.
    case outOfTurn
}

/// What a completed handshake yields.
public struct SheafSession: Sendable {
    /// The peer's node identity, bound to the static key it authenticated.
    public let peer: PublicKey
    /// BLAKE2b-256 of the Noise handshake hash in `SheafHandshake.sessionDomain`:
    /// shared by both ends and by no other session (capability proofs bind to it).
    public let session: Hash
    public let channel: SecureChannel
}

/// The handshake that opens a Sheaf session: Noise XX over the nodes'
/// identities.
///
/// Each node's X25519 static key is derived from its Ed25519 identity, so a
/// node has one key to persist. Messages 2 and 3 carry the sender's Ed25519
/// key (after a version byte); the receiver checks that it converts to the
/// static key the sender just proved it holds. Messages are passed here
/// without the transport's length prefix.
public struct SheafHandshake: Sendable {
    public static let protocolName = "Noise_XX_25519_ChaChaPoly_BLAKE2b"
    /// Mixed into the handshake hash: a peer speaking another version fails at message 2.
    public static let prologue = Array("sheaf/1".utf8)
    public static let payloadVersion: UInt8 = 1
    public static let sessionDomain = HashDomain("sheaf.session")

    private var state: HandshakeState
    private let identity: KeyPair
    private let expectedPeer: PublicKey?
    private let maxFrameBytes: Int
    private var started = false
    private var peer: PublicKey?
    public private(set) var result: SheafSession?

    /// - Parameter expectedPeer: when dialling a known node, the key it must have.
    public init(initiator identity: KeyPair, expectedPeer: PublicKey? = nil,
                maxFrameBytes: Int = FrameLayout.defaultMaxFrameBytes) {
        self.init(identity: identity, initiator: true, expectedPeer: expectedPeer, maxFrameBytes: maxFrameBytes)
    }

    public init(responder identity: KeyPair, maxFrameBytes: Int = FrameLayout.defaultMaxFrameBytes) {
        self.init(identity: identity, initiator: false, expectedPeer: nil, maxFrameBytes: maxFrameBytes)
    }

    private init(identity: KeyPair, initiator: Bool, expectedPeer: PublicKey?, maxFrameBytes: Int) {
        self.identity = identity
        self.expectedPeer = expectedPeer
        self.maxFrameBytes = maxFrameBytes
        do {
            state = try HandshakeState(
                pattern: try NoiseProtocolName(Self.protocolName).pattern, initiator: initiator,
                prologue: Self.prologue, localStatic: identity.x25519KeyPair())
        } catch {
            // XX with a local static key is always a valid configuration.
            preconditionFailure("cannot set up the Sheaf handshake: \(error)")
        }
    }

    public var isComplete: Bool { result != nil }

    /// The first message to send: the initiator's; nil for the responder.
    public mutating func start() throws(SheafHandshakeError) -> [UInt8]? {
        guard !started else { throw .outOfTurn }
        started = true
        guard state.isInitiator else { return nil }
        return try Self.noise { () throws(NoiseError) in try state.writeMessage(payload: []) }
    }

    /// Processes the peer's next message; returns the message to answer with, if any.
    public mutating func next(message: [UInt8]) throws(SheafHandshakeError) -> [UInt8]? {
        guard started, !isComplete else { throw .outOfTurn }
        let payload = try Self.noise { () throws(NoiseError) in try state.readMessage(message) }
        if state.isInitiator || state.isComplete {
            try bindIdentity(payload)
        } else if !payload.isEmpty {
            throw .malformedPayload("message 1 carries a payload")
        }
        var reply: [UInt8]?
        if state.isMyTurn {
            let ownPayload = [Self.payloadVersion] + identity.publicKey.raw.bytes
            reply = try Self.noise { () throws(NoiseError) in try state.writeMessage(payload: ownPayload) }
        }
        if let ciphers = state.transportCiphers, let peer {
            result = SheafSession(
                peer: peer, session: Hash.of(state.handshakeHash, domain: Self.sessionDomain),
                channel: SecureChannel(send: ciphers.send, receive: ciphers.receive, maxFrameBytes: maxFrameBytes))
        }
        return reply
    }

    /// Checks that the payload's Ed25519 key converts to the authenticated static key.
    private mutating func bindIdentity(_ payload: [UInt8]) throws(SheafHandshakeError) {
        guard let version = payload.first else { throw .malformedPayload("empty identity payload") }
        guard version == Self.payloadVersion else { throw .unsupportedVersion(version) }
        guard payload.count == 33, let raw = Bytes32(payload[1...]) else {
            throw .malformedPayload("identity payload of \(payload.count) bytes")
        }
        let claimed = PublicKey(raw: raw)
        let converted: Bytes32
        do { converted = try claimed.x25519PublicKey() } catch { throw .invalidIdentity }
        guard let remoteStatic = state.remoteStatic, converted == remoteStatic else { throw .identityMismatch }
        if let expectedPeer, expectedPeer != claimed { throw .unexpectedPeer(claimed) }
        peer = claimed
    }

    private static func noise<R>(_ body: () throws(NoiseError) -> R) throws(SheafHandshakeError) -> R {
        do { return try body() } catch { throw .noise(error) }
    }
}
