import SheafCrypto

/// Noise's HandshakeState for the suite 25519_ChaChaPoly_BLAKE2b, driven by
/// any `HandshakePattern`.
///
/// Messages alternate, initiator first. Any error leaves the state failed:
/// a handshake is never resumed after bad input.
public struct HandshakeState: Sendable {
    public let pattern: HandshakePattern
    public let isInitiator: Bool

    private var symmetric: SymmetricState
    private let localStatic: X25519KeyPair?
    private var localEphemeral: X25519KeyPair?
    private var injectedEphemeral: X25519KeyPair?
    public private(set) var remoteStatic: Bytes32?
    public private(set) var remoteEphemeral: Bytes32?
    private var psks: [Bytes32]
    private var messageIndex = 0
    private var failed = false
    private var transport: (CipherState, CipherState)?

    /// - Parameters:
    ///   - remoteStatic: the peer's static key when the pattern has it as a pre-message.
    ///   - psks: one 32-byte key per `psk` token, in order.
    ///   - ephemeral: a fixed ephemeral key, for test vectors only; production
    ///     passes nil and a fresh key is drawn from the system CSPRNG.
    public init(pattern: HandshakePattern, initiator: Bool, prologue: [UInt8], localStatic: X25519KeyPair? = nil,
                remoteStatic: Bytes32? = nil, psks: [Bytes32] = [], ephemeral: X25519KeyPair? = nil) throws(NoiseError) {
        guard psks.count == pattern.pskCount else { throw .wrongPSKCount(expected: pattern.pskCount, given: psks.count) }
        let localPre = initiator ? pattern.initiatorPreMessage : pattern.responderPreMessage
        let remotePre = initiator ? pattern.responderPreMessage : pattern.initiatorPreMessage
        guard !(localPre + remotePre).contains(where: { $0 != .s }) else {
            throw .unsupportedProtocol(pattern.name)  // ephemeral pre-messages (fallback patterns)
        }
        let sendsStatic = pattern.messages.enumerated().contains { index, tokens in
            index.isMultiple(of: 2) == initiator && tokens.contains(.s)
        }
        if (sendsStatic || !localPre.isEmpty) && localStatic == nil { throw .missingKey("local static") }
        if !remotePre.isEmpty && remoteStatic == nil { throw .missingKey("remote static") }

        self.pattern = pattern
        isInitiator = initiator
        self.localStatic = localStatic
        self.remoteStatic = remoteStatic
        self.psks = psks
        injectedEphemeral = ephemeral
        symmetric = SymmetricState(protocolName: Array(NoiseProtocolName(pattern: pattern).text.utf8))
        symmetric.mixHash(prologue)
        // Pre-messages are hashed initiator's first, whichever side we are.
        let initiatorPre = initiator ? localStatic?.publicKey : remoteStatic
        let responderPre = initiator ? remoteStatic : localStatic?.publicKey
        if !pattern.initiatorPreMessage.isEmpty, let key = initiatorPre { symmetric.mixHash(key.bytes) }
        if !pattern.responderPreMessage.isEmpty, let key = responderPre { symmetric.mixHash(key.bytes) }
    }

    public var isComplete: Bool { transport != nil }

    /// Whether the next call must be `writeMessage` (else `readMessage`).
    public var isMyTurn: Bool { !isComplete && messageIndex.isMultiple(of: 2) == isInitiator }

    /// The handshake hash `h`: after completion, a 64-byte value unique to
    /// this session that both sides share (channel binding).
    public var handshakeHash: [UInt8] { symmetric.hash }

    /// After completion: the cipher for what this side sends, and for what it receives.
    public var transportCiphers: (send: CipherState, receive: CipherState)? {
        guard let (initiatorToResponder, responderToInitiator) = transport else { return nil }
        return isInitiator ? (initiatorToResponder, responderToInitiator) : (responderToInitiator, initiatorToResponder)
    }

    /// The next handshake message, carrying `payload` (encrypted once a key exists).
    public mutating func writeMessage(payload: [UInt8]) throws(NoiseError) -> [UInt8] {
        guard !failed else { throw .handshakeFailed }
        guard isMyTurn else { throw .outOfTurn }
        let tokens = pattern.messages[messageIndex]
        // Refuse before any state changes: an upper bound of what the tokens add.
        let bound = payload.count + CipherState.tagBytes + tokens.reduce(0) { sum, token in
            sum + (token == .e ? 32 : token == .s ? 32 + CipherState.tagBytes : 0)
        }
        guard bound <= CipherState.maxMessageBytes else { throw .messageTooLarge(bound) }
        do throws(NoiseError) {
            var message = [UInt8]()
            for token in tokens {
                switch token {
                case .e:
                    let ephemeral = injectedEphemeral ?? X25519KeyPair()
                    injectedEphemeral = nil
                    localEphemeral = ephemeral
                    message += ephemeral.publicKey.bytes
                    symmetric.mixHash(ephemeral.publicKey.bytes)
                    if pattern.usesPSK { symmetric.mixKey(ephemeral.publicKey.bytes) }
                case .s:
                    guard let localStatic else { throw .missingKey("local static") }
                    message += try symmetric.encryptAndHash(localStatic.publicKey.bytes)
                case .ee, .es, .se, .ss, .psk:
                    try mix(token)
                }
            }
            message += try symmetric.encryptAndHash(payload)
            advance()
            return message
        } catch {
            failed = true
            throw error
        }
    }

    /// Processes the peer's next handshake message and returns its payload.
    public mutating func readMessage(_ message: [UInt8]) throws(NoiseError) -> [UInt8] {
        guard !failed else { throw .handshakeFailed }
        guard !isComplete, !isMyTurn else { throw .outOfTurn }
        do throws(NoiseError) {
            guard message.count <= CipherState.maxMessageBytes else { throw .messageTooLarge(message.count) }
            var rest = message[...]
            for token in pattern.messages[messageIndex] {
                switch token {
                case .e:
                    guard rest.count >= 32, let key = Bytes32(rest.prefix(32)) else { throw .messageTooShort }
                    rest = rest.dropFirst(32)
                    remoteEphemeral = key
                    symmetric.mixHash(key.bytes)
                    if pattern.usesPSK { symmetric.mixKey(key.bytes) }
                case .s:
                    let length = 32 + (symmetric.cipher.hasKey ? CipherState.tagBytes : 0)
                    guard rest.count >= length else { throw .messageTooShort }
                    let plaintext = try symmetric.decryptAndHash(Array(rest.prefix(length)))
                    rest = rest.dropFirst(length)
                    guard let key = Bytes32(plaintext) else { throw .messageTooShort }
                    remoteStatic = key
                case .ee, .es, .se, .ss, .psk:
                    try mix(token)
                }
            }
            let payload = try symmetric.decryptAndHash(Array(rest))
            advance()
            return payload
        } catch {
            failed = true
            throw error
        }
    }

    /// The DH and PSK tokens, which read and write process alike.
    private mutating func mix(_ token: NoiseToken) throws(NoiseError) {
        switch token {
        case .ee: try mixDH(localEphemeral, remoteEphemeral, "ee")
        case .ss: try mixDH(localStatic, remoteStatic, "ss")
        case .es: isInitiator ? try mixDH(localEphemeral, remoteStatic, "es") : try mixDH(localStatic, remoteEphemeral, "es")
        case .se: isInitiator ? try mixDH(localStatic, remoteEphemeral, "se") : try mixDH(localEphemeral, remoteStatic, "se")
        case .psk:
            guard !psks.isEmpty else { throw .missingKey("psk") }
            symmetric.mixKeyAndHash(psks.removeFirst().bytes)
        case .e, .s:
            preconditionFailure("not a mixing token")
        }
    }

    private mutating func mixDH(_ local: X25519KeyPair?, _ remote: Bytes32?, _ name: String) throws(NoiseError) {
        guard let local, let remote else { throw .missingKey("keys for \(name)") }
        do {
            symmetric.mixKey(try local.sharedSecret(with: remote).bytes)
        } catch {
            throw .degenerateSharedSecret
        }
    }

    private mutating func advance() {
        messageIndex += 1
        if messageIndex == pattern.messages.count {
            transport = symmetric.split()
            localEphemeral = nil
        }
    }
}
