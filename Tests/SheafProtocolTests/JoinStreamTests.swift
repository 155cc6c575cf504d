import SheafCrypto
import SheafFeeds
import SheafSnapshots
import Testing

@testable import SheafProtocol

/// A joiner asks its first contact to stream the newest snapshot. Offers
/// from other neighbours that come first must not start a second download
/// of the same snapshot, chunk by chunk, next to the stream.
@Suite struct JoinStreamTests {
    let writer = testKeyPair(seed: 800)
    var space: PublicKey { writer.publicKey }
    var discovery: DiscoveryKey { DiscoveryKey(space: space) }
    let streamer = FakePeer(seed: 801), other = FakePeer(seed: 802)

    /// A joining node whose first contact is `streamer`; both fake peers are connected with open channels.
    func joiner() -> (ProtocolNode, [NodeOutput]) {
        var (node, out) = startedNode(seed: 803, opening: .test(space, trust: .member,
                                                                contacts: [PeerAddress(node: streamer.identity, endpoint: "streamer")]))
        for peer in [streamer, other] {
            out += peer.connect(to: &node)
            out += node.handle(peer.open(space), now: .zero)
        }
        return (node, out)
    }

    func snapshot() throws -> TestSnapshot {
        try TestSnapshot(records: 120, space: space, signer: writer, frontier: Frontier([space: FeedAnchor(seq: 4, hash: testHash(4))]))
    }

    /// What a neighbour sends when asked for offers: its offers, then the newest manifest.
    func offers(_ snap: TestSnapshot, from peer: FakePeer) -> [NodeInput] {
        [peer.space(space, .snapshot(.offers([ProtocolNode.offer(for: snap.manifest)]))),
         peer.space(space, .snapshot(.manifest(snap.manifest.encoded)))]
    }

    func chunkRequests(_ out: [NodeOutput], to peer: FakePeer) -> [Hash] {
        out.sent(to: peer.identity).flatMap { message -> [Hash] in
            if case .space(_, .snapshot(.requestChunks(let ids))) = message { ids } else { [] }
        }
    }

    @Test func anotherNeighboursOfferWaitsForTheStream() throws {
        let snap = try snapshot()
        var (node, out) = joiner()
        #expect(out.sent(to: streamer.identity).contains(.space(discovery, .snapshot(.requestSnapshot))))
        // The other neighbour answers first: nothing is asked of it yet.
        for input in offers(snap, from: other) { out += node.handle(input, now: .milliseconds(5)) }
        #expect(chunkRequests(out, to: other).isEmpty)
        // The streamer's offers come: its stream is taken, nothing is asked of anyone.
        for input in offers(snap, from: streamer) { out += node.handle(input, now: .milliseconds(8)) }
        #expect(out.events.contains { if case .bootstrapChoseSnapshot = $0 { true } else { false } })
        #expect(chunkRequests(out, to: other).isEmpty && chunkRequests(out, to: streamer).isEmpty)
        // Index chunks first, then the leaves they name, all from the stream.
        for id in snap.indexIDs + snap.indexIDs.flatMap({ snap.leavesOf[$0] ?? [] }) {
            out += node.handle(streamer.space(space, .snapshot(.chunk(id: id, compressed: snap.chunks[id]!))), now: .milliseconds(10))
        }
        #expect(chunkRequests(out, to: other).isEmpty && chunkRequests(out, to: streamer).isEmpty)
        // Complete (it installs once the genesis feed reaches the snapshot's frontier).
        let total = snap.chunks.count
        #expect(out.events.contains { if case .bootstrapProgress(_, total, total, _, _) = $0 { true } else { false } })
    }

    @Test func aSilentStreamerIsWaitedForOnlyUntilTheRequestTimeout() throws {
        let snap = try snapshot()
        var (node, out) = joiner()
        #expect(out.contains { if case .schedule(.chunkCheck, let after) = $0 { after == NodeConfig().requestTimeout } else { false } })
        for input in offers(snap, from: other) { out += node.handle(input, now: .milliseconds(5)) }
        #expect(chunkRequests(out, to: other).isEmpty)
        // The streamer never answers: when the wait is over, the others are asked.
        let late = node.handle(.timerFired(.chunkCheck(discovery)), now: .milliseconds(5) + NodeConfig().requestTimeout)
        #expect(chunkRequests(late, to: other) == snap.indexIDs)
        #expect(chunkRequests(late, to: streamer).isEmpty)
    }

    @Test func offersAndManifestsFollowTheStoredSnapshots() throws {
        let older = try snapshot()
        let newer = try TestSnapshot(records: 60, space: space, signer: writer, frontier: Frontier([space: FeedAnchor(seq: 8, hash: testHash(8))]))
        var (node, _) = startedNode(seed: 805, opening: .test(space, trust: .replay, snapshots: [LocalSnapshot(manifest: older.manifest, attestations: [])]))
        _ = other.connect(to: &node)
        _ = node.handle(other.open(space), now: .zero)
        func offered(now: NodeTime) -> [SnapshotOffer] {
            node.handle(other.space(space, .snapshot(.requestOffers)), now: now).sent(to: other.identity).flatMap { message -> [SnapshotOffer] in
                if case .space(_, .snapshot(.offers(let offers))) = message { offers } else { [] }
            }
        }
        #expect(offered(now: .zero) == [ProtocolNode.offer(for: older.manifest)])
        _ = node.handle(.snapshotsChanged(discovery, [newer, older].map { LocalSnapshot(manifest: $0.manifest, attestations: []) }), now: .zero)
        #expect(offered(now: .seconds(1)) == [ProtocolNode.offer(for: newer.manifest), ProtocolNode.offer(for: older.manifest)])
        // A manifest is served by its id; an unknown id gets no answer.
        let asked = node.handle(other.space(space, .snapshot(.requestManifest(older.manifest.id))), now: .seconds(1))
        #expect(asked.sent(to: other.identity) == [.space(discovery, .snapshot(.manifest(older.manifest.encoded)))])
        #expect(node.handle(other.space(space, .snapshot(.requestManifest(testHash(9)))), now: .seconds(1)).sent(to: other.identity).isEmpty)
    }

    @Test func aStreamThatBeginsLateStillServesChunksAskedOfOthers() throws {
        let snap = try snapshot()
        var download = ChunkDownload(manifest: snap.manifest, sources: [other.identity])
        let asked = download.nextRequests(now: .zero, timeout: .seconds(5), window: 1_000, perRequest: 64).flatMap(\.1)
        #expect(asked == snap.indexIDs)
        download.stream(from: streamer.identity, now: .zero, timeout: .seconds(5))
        // The streamer's copy comes first and is taken; the other's later copy is not wanted.
        let first = try #require(asked.first)
        #expect(download.received(first, compressed: snap.chunks[first]!, from: streamer.identity, now: .milliseconds(1)).isAccepted)
        #expect(download.chunks[first] != nil)
        if case .unexpected = download.received(first, compressed: snap.chunks[first]!, from: other.identity, now: .milliseconds(2)) {} else {
            Issue.record("a chunk already taken was taken again")
        }
        // A peer that is neither asked nor streaming is not taken from.
        let second = asked[1]
        let stranger = FakePeer(seed: 804)
        if case .unexpected = download.received(second, compressed: snap.chunks[second]!, from: stranger.identity, now: .milliseconds(3)) {} else {
            Issue.record("a chunk from a peer no one asked was taken")
        }
    }
}
