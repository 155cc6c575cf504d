import SheafCrypto
import SheafNoise
import Testing

@Suite("Noise CipherState and transport messages")
struct CipherStateTests {
    /// Completes an XX handshake and returns (initiator, responder) transport ciphers.
    static func transportPair(seed: UInt64 = 1) throws -> ((send: CipherState, receive: CipherState), (send: CipherState, receive: CipherState)) {
        let xx = try HandshakePattern(name: "XX")
        var initiator = try HandshakeState(pattern: xx, initiator: true, prologue: [], localStatic: X25519KeyPair())
        var responder = try HandshakeState(pattern: xx, initiator: false, prologue: [], localStatic: X25519KeyPair())
        _ = try responder.readMessage(try initiator.writeMessage(payload: []))
        _ = try initiator.readMessage(try responder.writeMessage(payload: []))
        _ = try responder.readMessage(try initiator.writeMessage(payload: []))
        #expect(initiator.handshakeHash == responder.handshakeHash)
        #expect(initiator.remoteStatic != nil && responder.remoteStatic != nil)
        return (initiator.transportCiphers!, responder.transportCiphers!)
    }

    @Test("random payloads round-trip both ways, over several patterns")
    func roundTrips() throws {
        var rng = SplitMix64(seed: 42)
        for name in ["NN", "XX", "IK", "X1X1", "XXpsk3"] {
            let pattern = try HandshakePattern(name: name)
            let initiatorKey = X25519KeyPair(), responderKey = X25519KeyPair()
            let psks = (0..<pattern.pskCount).map { _ in Bytes32(rng.bytes(32))! }
            let knowsResponder = !pattern.responderPreMessage.isEmpty
            var initiator = try HandshakeState(pattern: pattern, initiator: true, prologue: [7], localStatic: initiatorKey,
                                               remoteStatic: knowsResponder ? responderKey.publicKey : nil, psks: psks)
            var responder = try HandshakeState(pattern: pattern, initiator: false, prologue: [7], localStatic: responderKey, psks: psks)
            var turn = 0
            while !initiator.isComplete {
                let payload = rng.bytes(rng.below(300))
                if turn.isMultiple(of: 2) {
                    #expect(try responder.readMessage(try initiator.writeMessage(payload: payload)) == payload)
                } else {
                    #expect(try initiator.readMessage(try responder.writeMessage(payload: payload)) == payload)
                }
                turn += 1
            }
            #expect(responder.isComplete)
            #expect(responder.remoteStatic == (name == "NN" ? nil : initiatorKey.publicKey))
            var (a, b) = (initiator.transportCiphers!, responder.transportCiphers!)
            for _ in 0..<20 {
                let payload = rng.bytes(rng.below(CipherState.maxPlaintextBytes + 1))
                #expect(try b.receive.decrypt(ad: [], ciphertext: try a.send.encrypt(ad: [], plaintext: payload)) == payload)
                #expect(try a.receive.decrypt(ad: [], ciphertext: try b.send.encrypt(ad: [], plaintext: payload)) == payload)
            }
        }
    }

    @Test("a tampered transport message fails and leaves the nonce in place")
    func tampered() throws {
        var (a, b) = try Self.transportPair()
        var message = try a.send.encrypt(ad: [], plaintext: Array("abc".utf8))
        message[0] ^= 0x80
        #expect(throws: NoiseError.decryptFailed) { try b.receive.decrypt(ad: [], ciphertext: message) }
        #expect(b.receive.nonce == 0)
        message[0] ^= 0x80
        #expect(try b.receive.decrypt(ad: [], ciphertext: message) == Array("abc".utf8))
        #expect(throws: NoiseError.messageTooShort) { try b.receive.decrypt(ad: [], ciphertext: [1, 2, 3]) }
        #expect(throws: NoiseError.messageTooLarge(65536)) {
            try b.receive.decrypt(ad: [], ciphertext: [UInt8](repeating: 0, count: 65536))
        }
        #expect(throws: NoiseError.messageTooLarge(65536)) {
            try a.send.encrypt(ad: [], plaintext: [UInt8](repeating: 0, count: 65520))
        }
    }

    @Test("a reordered message fails: each nonce is used once, in order")
    func reordered() throws {
        var (a, b) = try Self.transportPair()
        let first = try a.send.encrypt(ad: [], plaintext: [1])
        let second = try a.send.encrypt(ad: [], plaintext: [2])
        #expect(throws: NoiseError.decryptFailed) { try b.receive.decrypt(ad: [], ciphertext: second) }
        #expect(try b.receive.decrypt(ad: [], ciphertext: first) == [1])
        #expect(try b.receive.decrypt(ad: [], ciphertext: second) == [2])
    }

    @Test("nonce 2^64-1 is never used: the last message is 2^64-2")
    func nonceExhaustion() throws {
        var (a, b) = try Self.transportPair()
        a.send.setNonce(.max - 1)
        b.receive.setNonce(.max - 1)
        let last = try a.send.encrypt(ad: [], plaintext: [5])
        #expect(try b.receive.decrypt(ad: [], ciphertext: last) == [5])
        #expect(throws: NoiseError.nonceExhausted) { try a.send.encrypt(ad: [], plaintext: [6]) }
        #expect(throws: NoiseError.nonceExhausted) { try b.receive.decrypt(ad: [], ciphertext: last) }
    }

    @Test("rekey changes the key on both sides alike")
    func rekey() throws {
        var (a, b) = try Self.transportPair()
        var stale = b.receive
        a.send.rekey()
        b.receive.rekey()
        let message = try a.send.encrypt(ad: [], plaintext: [1, 2, 3])
        #expect(try b.receive.decrypt(ad: [], ciphertext: message) == [1, 2, 3])
        #expect(throws: NoiseError.decryptFailed) { try stale.decrypt(ad: [], ciphertext: message) }
    }

    @Test("associated data is authenticated")
    func associatedData() throws {
        var (a, b) = try Self.transportPair()
        let message = try a.send.encrypt(ad: [1], plaintext: [9])
        #expect(throws: NoiseError.decryptFailed) { try b.receive.decrypt(ad: [2], ciphertext: message) }
        #expect(try b.receive.decrypt(ad: [1], ciphertext: message) == [9])
    }
}
