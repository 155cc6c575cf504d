import SheafCrypto
import SheafNoise
import Testing

@Suite("Sheaf session handshake (XX over node identities)")
struct SheafHandshakeTests {
    /// Runs a handshake to completion: (initiator's session, responder's session).
    static func complete(_ a: KeyPair, _ b: KeyPair, expected: PublicKey? = nil) throws -> (SheafSession, SheafSession) {
        var initiator = SheafHandshake(initiator: a, expectedPeer: expected)
        var responder = SheafHandshake(responder: b)
        #expect(try responder.start() == nil)
        let m1 = try #require(try initiator.start())
        let m2 = try #require(try responder.next(message: m1))
        let m3 = try #require(try initiator.next(message: m2))
        #expect(initiator.isComplete && !responder.isComplete)
        #expect(try responder.next(message: m3) == nil)
        return (try #require(initiator.result), try #require(responder.result))
    }

    @Test("both ends learn each other's identity and share the session hash and channel")
    func completes() throws {
        let a = KeyPair(), b = KeyPair()
        var (sa, sb) = try Self.complete(a, b, expected: b.publicKey)
        #expect(sa.peer == b.publicKey)
        #expect(sb.peer == a.publicKey)
        #expect(sa.session == sb.session)
        var channelA = sa.channel, channelB = sb.channel
        #expect(try channelB.opener.feed(try channelA.sealer.seal([1, 2, 3])) == [.data([1, 2, 3])])
        #expect(try channelA.opener.feed(try channelB.sealer.seal([4])) == [.data([4])])
        // A second session between the same nodes has another session hash.
        (sa, sb) = try Self.complete(a, b)
        #expect(sa.session == sb.session)
        #expect(sa.session != (try Self.complete(a, b)).0.session)
    }

    @Test("the static keys are the X25519 forms of the Ed25519 identities")
    func derivedStatic() throws {
        let identity = KeyPair(seed: [UInt8](repeating: 3, count: 32))!
        #expect(identity.x25519KeyPair().publicKey == (try identity.publicKey.x25519PublicKey()))
    }

    @Test("dialling a known node that turns out to be another is unexpectedPeer")
    func unexpectedPeer() throws {
        let a = KeyPair(), b = KeyPair(), c = KeyPair()
        #expect(throws: SheafHandshakeError.unexpectedPeer(b.publicKey)) { try Self.complete(a, b, expected: c.publicKey) }
    }

    /// A peer that proves one static key but names another identity.
    @Test("a payload naming another identity is identityMismatch")
    func identityMismatch() throws {
        let honest = KeyPair(), liar = KeyPair(), victim = KeyPair()
        var initiator = SheafHandshake(initiator: honest)
        let xx = try HandshakePattern(name: "XX")
        var responder = try HandshakeState(pattern: xx, initiator: false, prologue: SheafHandshake.prologue,
                                           localStatic: liar.x25519KeyPair())
        _ = try responder.readMessage(try #require(try initiator.start()))
        let m2 = try responder.writeMessage(payload: [1] + victim.publicKey.raw.bytes)
        #expect(thrown(SheafHandshakeError.self) { _ = try initiator.next(message: m2) } == .identityMismatch)
    }

    @Test("payload versions and layouts are checked")
    func payloadChecks() throws {
        let xx = try HandshakePattern(name: "XX")
        for (payload, expected) in [([2] + [UInt8](repeating: 0, count: 32), SheafHandshakeError.unsupportedVersion(2)),
                                    ([1, 5], .malformedPayload("identity payload of 2 bytes")),
                                    ([], .malformedPayload("empty identity payload"))] {
            let liar = KeyPair()
            var initiator = SheafHandshake(initiator: KeyPair())
            var responder = try HandshakeState(pattern: xx, initiator: false, prologue: SheafHandshake.prologue,
                                               localStatic: liar.x25519KeyPair())
            _ = try responder.readMessage(try #require(try initiator.start()))
            let m2 = try responder.writeMessage(payload: payload)
            #expect(thrown(SheafHandshakeError.self) { _ = try initiator.next(message: m2) } == expected)
        }
    }

    @Test("another prologue (version) fails at message 2")
    func otherPrologue() throws {
        let xx = try HandshakePattern(name: "XX")
        var initiator = SheafHandshake(initiator: KeyPair())
        var responder = try HandshakeState(pattern: xx, initiator: false, prologue: Array("sheaf/2".utf8), localStatic: X25519KeyPair())
        _ = try responder.readMessage(try #require(try initiator.start()))
        let m2 = try responder.writeMessage(payload: [1] + KeyPair().publicKey.raw.bytes)
        #expect(thrown(SheafHandshakeError.self) { _ = try initiator.next(message: m2) } == .noise(.decryptFailed))
    }

    @Test("garbage and misuse are typed errors")
    func garbage() throws {
        var responder = SheafHandshake(responder: KeyPair())
        #expect(thrown(SheafHandshakeError.self) { _ = try responder.next(message: [1]) } == .outOfTurn)
        _ = try responder.start()
        #expect(thrown(SheafHandshakeError.self) { _ = try responder.next(message: [1, 2, 3]) } == .noise(.messageTooShort))
        var initiator = SheafHandshake(initiator: KeyPair())
        _ = try initiator.start()
        #expect(thrown(SheafHandshakeError.self) { _ = try initiator.start() } == .outOfTurn)
        #expect(thrown(SheafHandshakeError.self) { _ = try initiator.next(message: [UInt8](repeating: 7, count: 200)) } == .noise(.decryptFailed))
    }
}
