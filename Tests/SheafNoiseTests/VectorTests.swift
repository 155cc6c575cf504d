import SheafCrypto
import SheafNoise
import Testing

@Suite("Noise test vectors (cacophony, 25519_ChaChaPoly_BLAKE2b)")
struct VectorTests {
    @Test("the fixture holds all 59 vectors, XX among them")
    func fixtureComplete() {
        #expect(NoiseVector.all.count == 59)
        #expect(NoiseVector.all.contains { $0.protocol_name == "Noise_XX_25519_ChaChaPoly_BLAKE2b" })
    }

    /// Plays both sides: every message byte and payload, both directions, and
    /// the handshake hash must match. An unsupported pattern fails here.
    @Test("every message byte and the handshake hash", arguments: NoiseVector.all)
    func reproduce(vector: NoiseVector) throws {
        let name = try NoiseProtocolName(vector.protocol_name)
        var initiator = try HandshakeState(
            pattern: name.pattern, initiator: true, prologue: hexBytes(vector.init_prologue),
            localStatic: vector.init_static.map { X25519KeyPair(secret: hexBytes($0))! },
            remoteStatic: vector.init_remote_static.map(bytes32),
            psks: (vector.init_psks ?? []).map(bytes32),
            ephemeral: X25519KeyPair(secret: hexBytes(vector.init_ephemeral))!)
        var responder = try HandshakeState(
            pattern: name.pattern, initiator: false, prologue: hexBytes(vector.resp_prologue),
            localStatic: vector.resp_static.map { X25519KeyPair(secret: hexBytes($0))! },
            remoteStatic: vector.resp_remote_static.map(bytes32),
            psks: (vector.resp_psks ?? []).map(bytes32),
            ephemeral: vector.resp_ephemeral.map { X25519KeyPair(secret: hexBytes($0))! })

        var initiatorCiphers: (send: CipherState, receive: CipherState)?
        var responderCiphers: (send: CipherState, receive: CipherState)?
        var handshakeMessages = 0
        for (index, message) in vector.messages.enumerated() {
            let payload = hexBytes(message.payload)
            let expected = hexBytes(message.ciphertext)
            if !initiator.isComplete {
                let fromInitiator = index.isMultiple(of: 2)
                let sent: [UInt8]
                let received: [UInt8]
                if fromInitiator {
                    sent = try initiator.writeMessage(payload: payload)
                    received = try responder.readMessage(sent)
                } else {
                    sent = try responder.writeMessage(payload: payload)
                    received = try initiator.readMessage(sent)
                }
                #expect(sent == expected, "handshake message \(index)")
                #expect(received == payload, "handshake payload \(index)")
                handshakeMessages += 1
                if initiator.isComplete {
                    #expect(responder.isComplete)
                    #expect(initiator.handshakeHash == hexBytes(vector.handshake_hash))
                    #expect(responder.handshakeHash == hexBytes(vector.handshake_hash))
                    initiatorCiphers = initiator.transportCiphers
                    responderCiphers = responder.transportCiphers
                }
                continue
            }
            // Transport: one-way patterns send initiator to responder only;
            // interactive ones keep alternating.
            let fromInitiator = name.pattern.isOneWay || index.isMultiple(of: 2)
            let sent: [UInt8]
            let received: [UInt8]
            if fromInitiator {
                sent = try initiatorCiphers!.send.encrypt(ad: [], plaintext: payload)
                received = try responderCiphers!.receive.decrypt(ad: [], ciphertext: sent)
            } else {
                sent = try responderCiphers!.send.encrypt(ad: [], plaintext: payload)
                received = try initiatorCiphers!.receive.decrypt(ad: [], ciphertext: sent)
            }
            #expect(sent == expected, "transport message \(index)")
            #expect(received == payload, "transport payload \(index)")
        }
        #expect(handshakeMessages == name.pattern.messages.count)
        #expect(initiator.isComplete && responder.isComplete)
        #expect(vector.messages.count > handshakeMessages, "the vector has transport messages")
    }
}
