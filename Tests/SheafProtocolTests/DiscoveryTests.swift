import SheafCrypto
import Testing

@testable import SheafProtocol

@Suite struct DiscoveryTests {
    let space = KeyPair(seed: [UInt8](repeating: 7, count: 32))!.publicKey
    let other = KeyPair(seed: [UInt8](repeating: 8, count: 32))!.publicKey

    @Test func discoveryKeyNamesTheSpaceWithoutRevealingIt() {
        let key = DiscoveryKey(space: space)
        #expect(key == DiscoveryKey(space: space))
        #expect(key != DiscoveryKey(space: other))
        #expect(key.hash.raw != space.raw)
    }

    @Test func capabilityProofIsBoundToSpaceSessionAndSender() {
        let session = Hash.of([1, 2, 3], domain: ProtocolDomains.trace)
        let otherSession = Hash.of([1, 2, 4], domain: ProtocolDomains.trace)
        let proof = OpenSpace.proof(space: space, session: session, sender: space)
        #expect(proof == OpenSpace(space: space, session: session, sender: space).proof)
        #expect(proof != OpenSpace.proof(space: space, session: otherSession, sender: space))
        #expect(proof != OpenSpace.proof(space: other, session: session, sender: space))
        // The two ends of one session prove different things: echoing the other's proof fails.
        #expect(proof != OpenSpace.proof(space: space, session: session, sender: other))
    }

    @Test func peersAreTheSameWhenTheirKeysAre() {
        #expect(PeerAddress(node: space, endpoint: "a:1") == PeerAddress(node: space, endpoint: "b:2"))
        #expect(Set([PeerAddress(node: space, endpoint: "a:1"), PeerAddress(node: space, endpoint: "b:2")]).count == 1)
        #expect(PeerAddress(node: space, endpoint: "a:1") != PeerAddress(node: other, endpoint: "a:1"))
    }

    @Test func nodeTimeArithmetic() {
        let t = NodeTime(nanoseconds: 1_000)
        #expect((t + .milliseconds(2)).nanoseconds == 2_001_000)
        #expect((t + .milliseconds(2)).since(t) == .milliseconds(2))
        #expect(t.since(t + .seconds(1)) == .zero)
    }
}
