import SheafCrypto
import SheafFeeds
import SheafSnapshots
import Testing

@testable import SheafProtocol

@Suite struct TrustTests {
    let genesis = testKeyPair(seed: 600)
    let members = (1...4).map { testKeyPair(seed: 600 + UInt64($0)) }
    let outsider = testKeyPair(seed: 699)
    var space: PublicKey { genesis.publicKey }
    var memberKeys: Set<PublicKey> { Set(members.map(\.publicKey)) }

    func manifest(signedBy signer: KeyPair) throws -> SnapshotManifest {
        let frontier = Frontier([space: FeedAnchor(seq: 4, hash: testHash(4))])
        return try TestSnapshot(records: 20, space: space, signer: signer, frontier: frontier).manifest
    }

    func attestation(of manifest: SnapshotManifest, by key: KeyPair) -> Attestation {
        Attestation(space: manifest.space, model: manifest.model, modelVersion: manifest.modelVersion, frontier: manifest.frontier,
                    stateRoot: manifest.stateRoot, signedBy: key)
    }

    func accepts(_ manifest: SnapshotManifest, _ policy: TrustPolicy, attestations: [Attestation] = [],
                 denounced: Set<PublicKey> = []) -> Bool {
        Trust.accepts(manifest, policy: policy, space: space, members: memberKeys, attestations: attestations, denounced: denounced)
    }

    @Test func memberPolicyTrustsMembersAndTheGenesisKey() throws {
        #expect(accepts(try manifest(signedBy: members[0]), .member))
        #expect(accepts(try manifest(signedBy: genesis), .member))
        #expect(Trust.accepts(try manifest(signedBy: genesis), policy: .member, space: space, members: [], attestations: [], denounced: []))
        #expect(!accepts(try manifest(signedBy: outsider), .member))
        // A denounced signer is never trusted again.
        #expect(!accepts(try manifest(signedBy: members[0]), .member, denounced: [members[0].publicKey]))
        #expect(!accepts(try manifest(signedBy: genesis), .member, denounced: [space]))
    }

    @Test func replayNeverInstalls() throws {
        let signed = try manifest(signedBy: genesis)
        #expect(!accepts(signed, .replay, attestations: members.map { attestation(of: signed, by: $0) }))
    }

    @Test func quorumCountsDistinctMatchingMemberAttestations() throws {
        let signed = try manifest(signedBy: members[0])
        let good = members.dropFirst().map { attestation(of: signed, by: $0) }
        // The signer counts as one.
        #expect(accepts(signed, .quorum(1)))
        #expect(!accepts(signed, .quorum(2)))
        #expect(accepts(signed, .quorum(2), attestations: [good[0]]))
        #expect(accepts(signed, .quorum(4), attestations: good))
        #expect(!accepts(signed, .quorum(5), attestations: good))
        // The signer's own attestation and repeats add nothing.
        #expect(!accepts(signed, .quorum(3), attestations: [attestation(of: signed, by: members[0]), good[0], good[0]]))
        // An outsider's attestation does not count.
        #expect(!accepts(signed, .quorum(3), attestations: [good[0], attestation(of: signed, by: outsider)]))
        // Nor a denounced member's.
        #expect(!accepts(signed, .quorum(3), attestations: [good[0], good[1]], denounced: [members[2].publicKey]))
        #expect(accepts(signed, .quorum(3), attestations: [good[0], good[1]], denounced: [members[3].publicKey]))

        // Attestations of something else: another root, another frontier.
        let otherRoot = Attestation(space: space, model: signed.model, modelVersion: signed.modelVersion, frontier: signed.frontier,
                                stateRoot: testHash(77), signedBy: members[1])
        let otherFrontier = Attestation(space: space, model: signed.model, modelVersion: signed.modelVersion,
                                        frontier: Frontier([space: FeedAnchor(seq: 5, hash: testHash(5))]),
                                        stateRoot: signed.stateRoot, signedBy: members[2])
        #expect(!accepts(signed, .quorum(2), attestations: [otherRoot]))
        #expect(!accepts(signed, .quorum(2), attestations: [otherFrontier]))

        // An attestation whose signature does not verify.
        var forged = attestation(of: signed, by: outsider)
        forged.signer = members[1].publicKey
        #expect(forged.matches(signed))
        #expect(throws: SnapshotError.self) { try forged.verify() }
        #expect(!accepts(signed, .quorum(2), attestations: [forged]))

        // A quorum never makes an outsider's snapshot installable.
        let foreign = try manifest(signedBy: outsider)
        #expect(!accepts(foreign, .quorum(2), attestations: members.map { attestation(of: foreign, by: $0) }))
    }
}

@Suite struct PeerScoreTests {
    let peer = testKey(1), other = testKey(2)

    @Test func aPeerIsBannedWhenItsScoreReachesTheThreshold() {
        let config = ScoringConfig()
        var scores = PeerScores(config: config)
        let now = NodeTime(nanoseconds: 1_000)
        var banned = scores.charge(peer, .malformedFrame, now: now)
        #expect(!banned)
        #expect(scores.score(peer) == -50)
        #expect(!scores.isBanned(peer, now: now))
        banned = scores.charge(peer, .malformedFrame, now: now)
        #expect(banned)
        #expect(scores.isBanned(peer, now: now))
        #expect(scores.isBanned(peer, now: NodeTime(nanoseconds: now.nanoseconds + config.banDuration.nanoseconds - 1)))
        #expect(!scores.isBanned(peer, now: now + config.banDuration))
        // The ban cleared the score; others are untouched.
        #expect(scores.score(peer) == 0)
        #expect(!scores.isBanned(other, now: now))
        // One bad proof or forged signature is enough.
        banned = scores.charge(other, .badCapability, now: now)
        #expect(banned)
        banned = scores.charge(testKey(3), .invalidSignature, now: now)
        #expect(banned)
        // Silence alone takes many times.
        let slow = testKey(4)
        for _ in 0..<99 {
            let banned = scores.charge(slow, .unresponsive, now: now)
            #expect(!banned)
        }
        banned = scores.charge(slow, .unresponsive, now: now)
        #expect(banned)
    }

    @Test func scoresDecayTowardZero() {
        var config = ScoringConfig()
        config.decayPerInterval = 5
        var scores = PeerScores(config: config)
        for _ in 0..<12 { _ = scores.charge(peer, .unresponsive, now: .zero) }
        _ = scores.charge(other, .malformedFrame, now: .zero)
        #expect(scores.score(peer) == -12)
        scores.decay(now: .zero)
        #expect(scores.score(peer) == -7)
        #expect(scores.score(other) == -45)
        scores.decay(now: .zero)
        scores.decay(now: .zero)
        #expect(scores.score(peer) == 0)
        #expect(scores.score(other) == -35)
        // Decayed, a peer takes longer to ban.
        let banned = scores.charge(other, .malformedFrame, now: .zero)
        #expect(!banned)
    }

    @Test func decayForgetsExpiredBans() {
        let config = ScoringConfig()
        var scores = PeerScores(config: config)
        let banned = scores.charge(peer, .oversizeFrame, now: .zero)
        #expect(banned)
        scores.decay(now: .zero + config.banDuration)
        #expect(!scores.isBanned(peer, now: .zero))
    }

    @Test func framesBeyondTheRateAreFloodingOncePerSecond() {
        var config = ScoringConfig()
        config.maxFramesPerSecond = 5
        var scores = PeerScores(config: config)
        let start = NodeTime(nanoseconds: 10_000_000_000)
        for _ in 0..<5 {
            let flooding = scores.countFrame(from: peer, now: start)
            #expect(!flooding)
        }
        var flooding = scores.countFrame(from: other, now: start)
        #expect(!flooding)
        flooding = scores.countFrame(from: peer, now: start + .milliseconds(500))
        #expect(flooding)
        // Reported once per window.
        flooding = scores.countFrame(from: peer, now: start + .milliseconds(900))
        #expect(!flooding)
        // A new second starts a new count.
        for _ in 0..<5 {
            let flooding = scores.countFrame(from: peer, now: start + .seconds(1))
            #expect(!flooding)
        }
        flooding = scores.countFrame(from: peer, now: start + .seconds(1))
        #expect(flooding)
    }
}
