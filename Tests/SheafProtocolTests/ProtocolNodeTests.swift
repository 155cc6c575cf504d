import SheafCodec
import SheafCrypto
import SheafFeeds
import Testing

@testable import SheafProtocol

/// Protocol nodes end to end, without replicas: channels, broadcast,
/// anti-entropy, and what misbehaving peers are charged.
@Suite struct ProtocolNodeTests {
    /// The space's genesis writer: its feed is accepted without membership.
    let writer = testKeyPair(seed: 700)
    var space: PublicKey { writer.publicKey }
    var discovery: DiscoveryKey { DiscoveryKey(space: space) }

    /// `count` batches of the genesis feed, `entries` entries each.
    func batches(_ count: Int, entries: Int = 3, tag: Int = 0) throws -> [VerifiedBatch] {
        var feed = FeedWriter(keyPair: writer)
        return try (0..<count).map { try feed.append(drafts(entries, tag: tag * 100 + $0), timestamp: UInt64($0 + 1)) }
    }

    /// A node holding `held` that a fake peer has connected to.
    func nodeWithFakePeer(_ fake: FakePeer, config: NodeConfig = NodeConfig(), holding held: [VerifiedBatch] = []) -> (ProtocolNode, [NodeOutput]) {
        var (node, out) = startedNode(seed: 701, config: config, opening: .test(space, trust: .replay, holding: held))
        out += fake.connect(to: &node)
        return (node, out)
    }

    // MARK: Channels

    @Test func aChannelOpensOnlyWithTheRightProof() {
        let fake = FakePeer(seed: 710)
        var (node, _) = nodeWithFakePeer(fake)
        // A proof made for another session.
        let stale = OpenSpace(space: space, session: testHash(1), sender: fake.identity)
        let out = node.handle(fake.frame(.open(stale)), now: .zero)
        #expect(out.sent(to: fake.identity) == [.close(discovery, reason: .badProof)])
        #expect(out.charges(of: fake.identity) == [.badCapability])
        #expect(out.disconnects(fake.identity))
        #expect(out.events.contains(.peerBanned(fake.identity)))
        #expect(node.connectedPeers.isEmpty)
        // Banned: a new session is refused at once.
        let again = node.handle(.connected(node: fake.identity, session: fake.session, outbound: true), now: .seconds(1))
        #expect(again.disconnects(fake.identity))
        #expect(again.sent(to: fake.identity).isEmpty)

        // Made by someone else (another sender key) for this session.
        let other = FakePeer(seed: 711)
        var (second, _) = nodeWithFakePeer(other)
        let borrowed = OpenSpace(space: space, session: other.session, sender: testKey(9))
        let refused = second.handle(other.frame(.open(borrowed)), now: .zero)
        #expect(refused.sent(to: other.identity) == [.close(discovery, reason: .badProof)])
        #expect(refused.charges(of: other.identity) == [.badCapability])

        // The right proof: answered with the node's own open, bound to the same session.
        let honest = FakePeer(seed: 712)
        var (third, _) = nodeWithFakePeer(honest)
        let answer = third.handle(honest.open(space), now: .zero)
        #expect(answer.sent(to: honest.identity).first == .open(OpenSpace(space: space, session: honest.session, sender: third.identity)))
        #expect(answer.charges(of: honest.identity).isEmpty)
        // Space traffic now flows; before it would have been unsolicited.
        let frontier = third.handle(honest.space(space, .sync(.frontier(Frontier()))), now: .zero)
        #expect(frontier.charges(of: honest.identity).isEmpty)
    }

    @Test func knownEntriesTakeTheFurthestClaimAndSaturate() throws {
        let fake = FakePeer(seed: 715)
        var (node, _) = nodeWithFakePeer(fake, holding: try batches(2))
        _ = node.handle(fake.open(space), now: .zero)
        #expect(node.knownEntries(of: discovery) == 6)
        var claimed = Frontier()
        claimed.advance(space, to: FeedAnchor(seq: 4, hash: testHash(1)))
        claimed.advance(testKey(9), to: FeedAnchor(seq: 5, hash: testHash(2)))
        _ = node.handle(fake.space(space, .sync(.frontier(claimed))), now: .zero)
        #expect(node.knownEntries(of: discovery) == 6 + 5)
        // Seqs no honest feed reaches add up past 2^64: saturated, not a trap.
        claimed.advance(testKey(9), to: FeedAnchor(seq: .max, hash: testHash(3)))
        _ = node.handle(fake.space(space, .sync(.frontier(claimed))), now: .seconds(1))
        #expect(node.knownEntries(of: discovery) == .max)
    }

    @Test func spaceTrafficBeforeTheChannelOpensIsUnsolicited() {
        let fake = FakePeer(seed: 713)
        var (node, _) = nodeWithFakePeer(fake)
        let out = node.handle(fake.space(space, .sync(.frontier(Frontier()))), now: .zero)
        #expect(out.charges(of: fake.identity) == [.unsolicited])
        #expect(out.sent(to: fake.identity).isEmpty)
    }

    @Test func aHelloOfAnotherVersionEndsTheSessionWithoutPenalty() {
        let fake = FakePeer(seed: 716)
        var (node, _) = nodeWithFakePeer(fake)
        let hello = Hello(version: WireVersion.current + 1, address: PeerAddress(node: fake.identity, endpoint: "fake"))
        let out = node.handle(fake.frame(.hello(hello)), now: .zero)
        #expect(out.disconnects(fake.identity))
        #expect(out.charges(of: fake.identity).isEmpty)
        #expect(node.connectedPeers.isEmpty)
    }

    @Test func anOpenForAnUnknownSpaceIsClosedWithoutPenalty() {
        let fake = FakePeer(seed: 714)
        var (node, _) = nodeWithFakePeer(fake)
        let unknown = testKeyPair(seed: 715).publicKey
        let out = node.handle(fake.open(unknown), now: .zero)
        #expect(out.sent(to: fake.identity) == [.close(DiscoveryKey(space: unknown), reason: .unknownSpace)])
        #expect(out.charges(of: fake.identity).isEmpty)
        #expect(node.connectedPeers == [fake.identity])
    }

    @Test func aPeerThatDoesNotHoldTheSpaceGetsNoSpaceData() throws {
        var network = NodeNetwork()
        let holder = network.addNode(seed: 720)
        let stranger = network.addNode(seed: 721)
        let other = testKeyPair(seed: 722).publicKey
        network.openSpace(other, at: stranger)
        network.openSpace(space, at: holder, holding: try batches(2), contacts: [stranger])
        network.run(for: .seconds(3))
        let sent = network.sent(by: holder, to: network.keys[stranger])
        #expect(sent.contains { if case .open = $0 { true } else { false } })
        // Only requests went before the proof; no proof ever came, so nothing else did.
        for message in sent {
            guard case .space(let key, let body) = message else { continue }
            #expect(key == discovery)
            #expect(body.revealsNothing, "sent \(body) to a peer that never proved it holds the space")
        }
        let answers = network.sent(by: stranger, to: network.keys[holder])
        #expect(answers.contains(.close(discovery, reason: .unknownSpace)))
        #expect(!network.nodes[holder].neighbours(of: discovery).contains { $0.node == network.keys[stranger] })
        #expect(network.ingested(by: stranger).isEmpty)
    }

    /// Spaces sit in shared boxes until written: a copy of a node must still
    /// change on its own, and the original must not see it.
    @Test func aCopiedNodeKeepsItsOwnSpaceState() throws {
        let fake = FakePeer(seed: 716)
        let held = try batches(3)
        var (node, _) = nodeWithFakePeer(fake, holding: Array(held.prefix(1)))
        var copy = node
        _ = copy.handle(.appended(discovery, held[1]), now: .seconds(1))
        #expect(copy.storedFrontier(of: discovery)?.seq(of: space) == 6)
        #expect(node.storedFrontier(of: discovery)?.seq(of: space) == 3)
        // And the other way round, with the copy still holding its own state.
        _ = node.handle(.spaceClosed(discovery), now: .seconds(1))
        #expect(node.storedFrontier(of: discovery) == nil)
        #expect(copy.storedFrontier(of: discovery)?.seq(of: space) == 6)
        _ = copy.handle(.appended(discovery, held[2]), now: .seconds(2))
        #expect(copy.storedFrontier(of: discovery)?.seq(of: space) == 9)
    }

    // MARK: Broadcast and anti-entropy

    @Test func anAppendedBatchReachesTheOtherNodes() throws {
        var network = NodeNetwork()
        let a = network.addNode(seed: 730), b = network.addNode(seed: 731), c = network.addNode(seed: 732)
        network.openSpace(space, at: a)
        network.openSpace(space, at: b, contacts: [a])
        network.openSpace(space, at: c, contacts: [b])
        network.run(for: .seconds(1))
        #expect(network.nodes[b].neighbours(of: discovery).contains { $0.node == network.keys[a] })

        let appended = try batches(3)
        for (i, batch) in appended.enumerated() {
            network.input(.appended(discovery, batch), to: a)
            network.run(for: .milliseconds(200 * (i + 1)))
        }
        network.run(for: .milliseconds(200))
        for node in [b, c] {
            #expect(network.ingested(by: node).map(\.head) == appended.map(\.head))
            #expect(network.nodes[node].storedFrontier(of: discovery)?[space] == appended.last?.head.anchor)
        }
        // It came by broadcast, not by anti-entropy.
        let gossip = network.received[b].filter { if case .space(_, .broadcast(.gossip)) = $0.message { true } else { false } }
        #expect(gossip.count >= 3)
        #expect(network.nodes[b].counters.deliveries == 3)
    }

    @Test func antiEntropyFetchesWhatBroadcastMissed() throws {
        var network = NodeNetwork()
        let a = network.addNode(seed: 740), b = network.addNode(seed: 741)
        // All broadcast traffic is lost.
        network.drops = { _, _, message in if case .space(_, .broadcast) = message { true } else { false } }
        let before = try batches(4, entries: 2)
        network.openSpace(space, at: a, holding: Array(before.prefix(2)))
        network.openSpace(space, at: b, contacts: [a])
        network.run(for: .seconds(1))
        // What a held before b came is fetched on the first frontier.
        #expect(network.ingested(by: b).map(\.head) == before.prefix(2).map(\.head))

        network.input(.appended(discovery, before[2]), to: a)
        network.input(.appended(discovery, before[3]), to: a)
        network.run(for: .seconds(3))
        #expect(network.ingested(by: b).map(\.head) == before.map(\.head))
        #expect(!network.received[b].contains { if case .space(_, .broadcast) = $0.message { true } else { false } })
        #expect(network.received[b].contains { if case .space(_, .sync(.range)) = $0.message { true } else { false } })
        #expect(network.nodes[b].counters.deliveries == 0)
    }

    /// A node whose fake peer claims entries of the genesis feed and of a
    /// member's feed, asked for at `genesisAt` and `memberAt`: the two range
    /// requests and their timeout timers.
    func twoRequests(_ fake: FakePeer, genesisAt: NodeTime, memberAt: NodeTime) throws
        -> (node: ProtocolNode, genesis: (request: FeedRangeRequest, timer: NodeTimer, after: Duration),
            member: (request: FeedRangeRequest, timer: NodeTimer, after: Duration))
    {
        var (node, _) = nodeWithFakePeer(fake)
        _ = node.handle(fake.open(space), now: .zero)
        let member = testKeyPair(seed: 731)
        _ = node.handle(.membersChanged(discovery, [member.publicKey]), now: .zero)
        var theirs = FeedWriter(keyPair: member)
        let memberBatch = try theirs.append(drafts(40, tag: 9), timestamp: 1)
        func ask(_ frontier: Frontier, at time: NodeTime) throws -> (request: FeedRangeRequest, timer: NodeTimer, after: Duration) {
            let out = node.handle(fake.space(space, .sync(.frontier(frontier))), now: time)
            let request = try #require(out.sent(to: fake.identity).compactMap { message -> FeedRangeRequest? in
                if case .space(_, .sync(.request(let request))) = message { request } else { nil }
            }.last)
            let timeout = try #require(out.compactMap { output -> (NodeTimer, Duration)? in
                if case .schedule(let timer, let after) = output, case .rangeTimeout = timer { (timer, after) } else { nil }
            }.last)
            return (request, timeout.0, timeout.1)
        }
        var claimed = Frontier()
        claimed.advance(space, to: try batches(1, entries: 50)[0].head.anchor)
        let genesis = try ask(claimed, at: genesisAt)
        claimed.advance(member.publicKey, to: memberBatch.head.anchor)
        let asked = try ask(claimed, at: memberAt)
        #expect(genesis.request.feed == space && asked.request.feed == member.publicKey)
        return (node, genesis, asked)
    }

    @Test func aRangeFromAPeerStillAnsweringIsWaitedForThenAskedAgain() throws {
        let fake = FakePeer(seed: 730)
        var (node, genesis, member) = try twoRequests(fake, genesisAt: .zero, memberAt: .zero)
        // Just before the genesis range is due, the peer answers the other
        // request (asked at the same time): it is working through a backlog,
        // so the genesis request is given more time and nobody is charged.
        let due = NodeTime.zero + genesis.after
        _ = node.handle(fake.space(space, .sync(.unavailable(member.request, reason: .notHeld))),
                        now: NodeTime(nanoseconds: due.nanoseconds - 100_000_000))
        let waited = node.handle(.timerFired(genesis.timer), now: due)
        #expect(waited.charges(of: fake.identity).isEmpty)
        #expect(waited.contains { if case .schedule(genesis.timer, _) = $0 { true } else { false } })
        // No answer for a whole timeout: the request lapses and the peer is charged.
        let lapsed = node.handle(.timerFired(genesis.timer), now: due + NodeConfig().requestTimeout)
        #expect(lapsed.charges(of: fake.identity) == [.unresponsive])
    }

    /// Traffic that answers nothing (pings, gossip) does not make a peer busy:
    /// a reply lost on a lossy link is asked again after one timeout.
    @Test func aPeerThatOnlyChattersIsNotWaitedFor() throws {
        let fake = FakePeer(seed: 732)
        var (node, genesis, _) = try twoRequests(fake, genesisAt: .zero, memberAt: .zero)
        let due = NodeTime.zero + genesis.after
        _ = node.handle(fake.frame(.ping(nonce: 1)), now: NodeTime(nanoseconds: due.nanoseconds - 100_000_000))
        let lapsed = node.handle(.timerFired(genesis.timer), now: due)
        #expect(lapsed.charges(of: fake.identity) == [.unresponsive])
    }

    /// Answers come in the order of the requests: once a request sent later
    /// is answered, an earlier one still open was lost, however busy the peer.
    @Test func aRequestOvertakenByALaterAnswerIsNotWaitedFor() throws {
        let fake = FakePeer(seed: 733)
        var (node, genesis, member) = try twoRequests(fake, genesisAt: .zero, memberAt: NodeTime(nanoseconds: 100_000_000))
        let due = NodeTime.zero + genesis.after
        _ = node.handle(fake.space(space, .sync(.unavailable(member.request, reason: .notHeld))),
                        now: NodeTime(nanoseconds: due.nanoseconds - 50_000_000))
        let lapsed = node.handle(.timerFired(genesis.timer), now: due)
        #expect(lapsed.charges(of: fake.identity) == [.unresponsive])
    }

    @Test func twoHeadsAtOneSeqAreAFork() throws {
        var network = NodeNetwork()
        let a = network.addNode(seed: 750), b = network.addNode(seed: 751)
        // One common batch, then each node holds another third entry.
        var feed = FeedWriter(keyPair: writer)
        let common = try feed.append(drafts(2, tag: 1), timestamp: 1)
        var fork = feed
        let mine = try feed.append(drafts(1, tag: 2), timestamp: 2)
        let theirs = try fork.append(drafts(1, tag: 3), timestamp: 2)
        #expect(mine.head.seq == theirs.head.seq)
        #expect(mine.head.hash != theirs.head.hash)
        network.openSpace(space, at: a, holding: [common, mine])
        network.openSpace(space, at: b, holding: [common, theirs], contacts: [a])
        network.run(for: .seconds(2))

        for node in [a, b] {
            #expect(network.events(of: node).contains(.forkDetected(feed: space, seq: 3)))
            let evidence = network.outputs[node].compactMap { output -> ForkProof? in
                if case .storeEvidence(_, .fork(let proof)) = output { proof } else { nil }
            }
            #expect(evidence.count == 1)
            #expect(evidence.first?.feed == space)
            #expect(evidence.first?.seq == 3)
            #expect((try? evidence.first?.verify()) != nil)
            #expect(network.nodes[node].forkedFeeds(of: discovery) == [space])
            #expect(network.ingested(by: node).isEmpty)
        }
    }

    @Test func aForkedFeedIsNoLongerServed() throws {
        let fake = FakePeer(seed: 755)
        var feed = FeedWriter(keyPair: writer)
        let common = try feed.append(drafts(2, tag: 1), timestamp: 1)
        var fork = feed
        let mine = try feed.append(drafts(1, tag: 2), timestamp: 2)
        let theirs = try fork.append(drafts(1, tag: 3), timestamp: 2)
        var (node, _) = nodeWithFakePeer(fake, holding: [common, mine])
        _ = node.handle(fake.open(space), now: .zero)
        // The other history's batch arrives as gossip.
        let gossip = BroadcastMessage.gossip(id: BroadcastID(feed: space, seq: 3), round: 1, after: 2, range: theirs.encodedRange())
        let out = node.handle(fake.space(space, .broadcast(gossip)), now: .zero)
        #expect(out.events.contains(.forkDetected(feed: space, seq: 3)))
        #expect(out.contains { if case .storeEvidence(_, .fork) = $0 { true } else { false } })
        #expect(out.charges(of: fake.identity).isEmpty)
        // Requests for it are refused, not served.
        let request = FeedRangeRequest(feed: space, after: 0, through: 3)
        let answer = node.handle(fake.space(space, .sync(.request(request))), now: .zero)
        #expect(answer.sent(to: fake.identity) == [.space(discovery, .sync(.unavailable(request, reason: .forked)))])
        #expect(!answer.contains { if case .serveRange = $0 { true } else { false } })
    }

    // MARK: Misbehaviour

    @Test func aGarbageFrameIsMalformed() {
        let fake = FakePeer(seed: 760)
        var (node, _) = nodeWithFakePeer(fake)
        let out = node.handle(.received(from: fake.identity, frame: [0xEE, 1, 2, 3]), now: .zero)
        #expect(out.charges(of: fake.identity) == [.malformedFrame])
        #expect(out.sent(to: fake.identity).isEmpty)
        #expect(node.counters.rejectedFrames == 1)
        // Trailing bytes after a valid message are malformed too.
        let trailing = node.handle(.received(from: fake.identity, frame: WireCodec.encode(.ping(nonce: 1)) + [0]), now: .zero)
        #expect(trailing.charges(of: fake.identity) == [.malformedFrame])
        #expect(trailing.events.contains(.peerBanned(fake.identity)))
        #expect(trailing.disconnects(fake.identity))
        #expect(node.counters.rejectedFrames == 2)
    }

    @Test func anOversizeFrameIsChargedBeforeDecoding() {
        let fake = FakePeer(seed: 761)
        var config = NodeConfig()
        config.limits.maxFrameBytes = 1_024
        var (node, _) = nodeWithFakePeer(fake, config: config)
        // A valid ping padded past the limit would be malformed; oversize is checked first.
        let fits = node.handle(.received(from: fake.identity, frame: WireCodec.encode(.ping(nonce: 5))), now: .zero)
        #expect(fits.sent(to: fake.identity) == [.pong(nonce: 5)])
        let out = node.handle(.received(from: fake.identity, frame: [UInt8](repeating: 2, count: 1_025)), now: .zero)
        #expect(out.charges(of: fake.identity) == [.oversizeFrame])
        #expect(out.disconnects(fake.identity))
    }

    @Test func aForgedRangeIsAnInvalidSignature() throws {
        let fake = FakePeer(seed: 762)
        var (node, _) = nodeWithFakePeer(fake)
        _ = node.handle(fake.open(space), now: .zero)
        let batch = try batches(1, entries: 4)[0]
        var claimed = Frontier()
        claimed.advance(space, to: batch.head.anchor)
        let asked = node.handle(fake.space(space, .sync(.frontier(claimed))), now: .zero)
        let request = FeedRangeRequest(feed: space, after: 0, through: 4)
        #expect(asked.sent(to: fake.identity).contains(.space(discovery, .sync(.request(request)))))

        let forged = forgedRange(of: batch, signedBy: fake.key)
        let out = node.handle(fake.space(space, .sync(.range(feed: space, after: 0, range: forged))), now: .zero)
        #expect(out.charges(of: fake.identity) == [.invalidSignature])
        #expect(out.ingested.isEmpty)
        #expect(out.disconnects(fake.identity))
        #expect(node.storedFrontier(of: discovery)?.isEmpty == true)

        // The genuine range from an honest peer is taken.
        let honest = FakePeer(seed: 763)
        var (second, _) = nodeWithFakePeer(honest)
        _ = second.handle(honest.open(space), now: .zero)
        _ = second.handle(honest.space(space, .sync(.frontier(claimed))), now: .zero)
        let good = second.handle(honest.space(space, .sync(.range(feed: space, after: 0, range: batch.encodedRange()))), now: .zero)
        #expect(good.charges(of: honest.identity).isEmpty)
        #expect(good.ingested.map(\.head) == [batch.head])
    }

    @Test func tamperedEntriesAreInvalid() throws {
        let fake = FakePeer(seed: 764)
        var (node, _) = nodeWithFakePeer(fake)
        _ = node.handle(fake.open(space), now: .zero)
        let batch = try batches(1, entries: 4)[0]
        var range = batch.encodedRange()
        range[range.count - 1] ^= 0x01
        let gossip = BroadcastMessage.gossip(id: BroadcastID(feed: space, seq: 4), round: 1, after: 0, range: range)
        let out = node.handle(fake.space(space, .broadcast(gossip)), now: .zero)
        #expect(out.charges(of: fake.identity) == [.invalidEntries])
        #expect(out.ingested.isEmpty)
    }

    @Test func tooManyFramesInASecondIsFlooding() {
        let fake = FakePeer(seed: 765)
        var config = NodeConfig()
        config.scoring.maxFramesPerSecond = 10
        var (node, _) = nodeWithFakePeer(fake, config: config)
        // The hello already counted as one frame.
        var charges: [Misbehaviour] = []
        for i in 0..<12 { charges += node.handle(fake.frame(.ping(nonce: UInt64(i))), now: .zero).charges(of: fake.identity) }
        #expect(charges == [.flooding])
        // The next second starts afresh.
        let later = node.handle(fake.frame(.ping(nonce: 99)), now: .seconds(1))
        #expect(later.charges(of: fake.identity).isEmpty)
    }
}
