import SheafCrypto
import SheafNoise
import Testing

/// Bad input and misuse end in typed errors, never a trap.
@Suite("Noise handshake errors")
struct HandshakeErrorTests {
    private static let xx = try! HandshakePattern(name: "XX")
    private static let nk = try! HandshakePattern(name: "NK")

    private static func pair(_ pattern: HandshakePattern = xx) throws -> (HandshakeState, HandshakeState) {
        let initiator = try HandshakeState(pattern: pattern, initiator: true, prologue: [1, 2], localStatic: X25519KeyPair())
        let responder = try HandshakeState(pattern: pattern, initiator: false, prologue: [1, 2], localStatic: X25519KeyPair())
        return (initiator, responder)
    }

    @Test("unknown patterns, modifiers and suites are refused")
    func unsupported() {
        for name in ["Noise_XXfallback_25519_ChaChaPoly_BLAKE2b", "Noise_XX_448_ChaChaPoly_BLAKE2b",
                     "Noise_XXpsk9_25519_ChaChaPoly_BLAKE2b", "Noise_QQ_25519_ChaChaPoly_BLAKE2b",
                     "Noise_XXpsk_25519_ChaChaPoly_BLAKE2b", "Noise__25519_ChaChaPoly_BLAKE2b", "XX"] {
            #expect(throws: NoiseError.self, "\(name)") { try NoiseProtocolName(name) }
        }
        #expect(throws: NoiseError.unsupportedProtocol("XXpsk+psk0")) { try HandshakePattern(name: "XXpsk+psk0") }
    }

    @Test("the pattern table parses modifiers")
    func modifiers() throws {
        let pattern = try HandshakePattern(name: "NNpsk0+psk2")
        #expect(pattern.messages.map { $0.map(\.rawValue) } == [["psk", "e"], ["e", "ee", "psk"]])
        #expect(pattern.pskCount == 2)
        #expect(try HandshakePattern(name: "X1X1").messages.count == 4)
        #expect(try HandshakePattern(name: "N").isOneWay)
    }

    @Test("missing keys and wrong PSK counts are refused at setup")
    func missingKeys() {
        #expect(throws: NoiseError.missingKey("local static")) {
            try HandshakeState(pattern: Self.xx, initiator: true, prologue: [])
        }
        #expect(throws: NoiseError.missingKey("remote static")) {
            try HandshakeState(pattern: Self.nk, initiator: true, prologue: [])
        }
        #expect(throws: NoiseError.wrongPSKCount(expected: 1, given: 0)) {
            try HandshakeState(pattern: try HandshakePattern(name: "NNpsk0"), initiator: true, prologue: [])
        }
    }

    @Test("a tampered handshake message fails to decrypt, and the state stays failed")
    func tampered() throws {
        var (initiator, responder) = try Self.pair()
        _ = try responder.readMessage(try initiator.writeMessage(payload: []))
        var message2 = try responder.writeMessage(payload: Array("hello".utf8))
        message2[40] ^= 1
        #expect(thrown(NoiseError.self) { _ = try initiator.readMessage(message2) } == .decryptFailed)
        #expect(thrown(NoiseError.self) { _ = try initiator.readMessage(message2) } == .handshakeFailed)
        #expect(thrown(NoiseError.self) { _ = try initiator.writeMessage(payload: []) } == .handshakeFailed)
    }

    @Test("short messages are typed errors at every cut")
    func short() throws {
        var (initiator, responder) = try Self.pair()
        _ = try responder.readMessage(try initiator.writeMessage(payload: []))
        let message2 = try responder.writeMessage(payload: [])
        for cut in [0, 1, 31, 32, 33, 79, 80, 95] {
            var copy = initiator
            #expect(thrown(NoiseError.self) { _ = try copy.readMessage(Array(message2.prefix(cut))) } != nil, "cut at \(cut)")
        }
        var copy = initiator
        #expect(thrown(NoiseError.self) { _ = try copy.readMessage(Array(message2.prefix(20))) } == .messageTooShort)
        _ = try initiator.readMessage(message2)
        #expect(initiator.isMyTurn)
    }

    @Test("the wrong responder key fails NK's first message")
    func wrongKey() throws {
        let responderKey = X25519KeyPair(), otherKey = X25519KeyPair()
        var initiator = try HandshakeState(pattern: Self.nk, initiator: true, prologue: [], remoteStatic: otherKey.publicKey)
        var responder = try HandshakeState(pattern: Self.nk, initiator: false, prologue: [], localStatic: responderKey)
        let message = try initiator.writeMessage(payload: [9])
        #expect(thrown(NoiseError.self) { _ = try responder.readMessage(message) } == .decryptFailed)
    }

    @Test("different prologues make the handshake fail")
    func prologueMismatch() throws {
        var initiator = try HandshakeState(pattern: Self.xx, initiator: true, prologue: [1], localStatic: X25519KeyPair())
        var responder = try HandshakeState(pattern: Self.xx, initiator: false, prologue: [2], localStatic: X25519KeyPair())
        _ = try responder.readMessage(try initiator.writeMessage(payload: []))
        let message2 = try responder.writeMessage(payload: [])
        #expect(thrown(NoiseError.self) { _ = try initiator.readMessage(message2) } == .decryptFailed)
    }

    @Test("an all-zero (low-order) ephemeral key is a typed error")
    func degenerate() throws {
        var (initiator, responder) = try Self.pair()
        _ = try initiator.writeMessage(payload: [])
        _ = try responder.readMessage([UInt8](repeating: 0, count: 32))
        #expect(thrown(NoiseError.self) { _ = try responder.writeMessage(payload: []) } == .degenerateSharedSecret)
        #expect(thrown(NoiseError.self) { _ = try initiator.readMessage([UInt8](repeating: 0, count: 96)) } == .degenerateSharedSecret)
    }

    @Test("payloads over the 65535-byte message limit are refused, on write and on read")
    func tooLarge() throws {
        var (initiator, responder) = try Self.pair()
        #expect(thrown(NoiseError.self) { _ = try initiator.writeMessage(payload: [UInt8](repeating: 0, count: 65536)) } == .messageTooLarge(65536 + 32 + 16))
        #expect(thrown(NoiseError.self) { _ = try responder.readMessage([UInt8](repeating: 0, count: 65536)) } == .messageTooLarge(65536))
        // Still usable after a refused write: nothing was changed.
        let (freshInitiator, _) = try Self.pair()
        var retry = freshInitiator
        #expect(thrown(NoiseError.self) { _ = try retry.writeMessage(payload: [UInt8](repeating: 0, count: 70000)) } != nil)
        #expect(try retry.writeMessage(payload: [1]).count == 33)
    }

    @Test("reading out of turn is refused")
    func outOfTurn() throws {
        var (initiator, _) = try Self.pair()
        #expect(thrown(NoiseError.self) { _ = try initiator.readMessage([UInt8](repeating: 1, count: 32)) } == .outOfTurn)
    }
}
