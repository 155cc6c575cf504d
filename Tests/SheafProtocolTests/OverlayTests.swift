import SheafRandom
import Testing

@testable import SheafProtocol

@Suite struct OverlayTests {
    let me = testPeer(0)

    /// An overlay whose neighbours are `neighbors` (each asked it, high
    /// priority) and whose passive view is `known`.
    func overlay(
        neighbors: [Int] = [], known: [Int] = [], config: OverlayConfig = .init(), rng: inout SplitMix64
    ) -> Overlay {
        var overlay = Overlay(me: me, config: config)
        for i in neighbors { _ = overlay.receive(.neighbor(highPriority: true), from: testPeer(i), rng: &rng) }
        overlay.learn(known.map(testPeer), rng: &rng)
        return overlay
    }

    func sends(_ outputs: [OverlayOutput]) -> [PeerAddress: [OverlayMessage]] {
        var sends: [PeerAddress: [OverlayMessage]] = [:]
        for case .send(let peer, let message) in outputs { sends[peer, default: []].append(message) }
        return sends
    }

    // MARK: Join

    @Test func joinerHoldsItsContactAndAsksToJoin() {
        var rng = SplitMix64(seed: 1)
        var node = Overlay(me: me)
        let outputs = node.join(via: testPeer(1), rng: &rng)
        #expect(outputs == [.send(testPeer(1), .join), .neighborUp(testPeer(1))])
        #expect(node.active == [testPeer(1)])
        #expect(node.join(via: me, rng: &rng).isEmpty)
    }

    @Test func contactTakesTheJoinerAndWalksItToEveryOtherNeighbour() {
        var rng = SplitMix64(seed: 2)
        var contact = overlay(neighbors: [1, 2, 3], rng: &rng)
        let outputs = contact.receive(.join, from: testPeer(9), rng: &rng)
        #expect(contact.active == [1, 2, 3, 9].map(testPeer))
        #expect(outputs.contains(.neighborUp(testPeer(9))))
        let sent = sends(outputs)
        #expect(sent.count == 4)
        for i in 1...3 { #expect(sent[testPeer(i)] == [.forwardJoin(joiner: testPeer(9), ttl: 6)]) }
        // The joiner learns the contact's other neighbours at once.
        guard case .shuffleReply(let sample)? = sent[testPeer(9)]?.first else {
            Issue.record("no sample sent to the joiner")
            return
        }
        #expect(Set(sample) == Set([1, 2, 3].map(testPeer)))
    }

    @Test func fullContactDropsARandomNeighbourForTheJoiner() {
        var rng = SplitMix64(seed: 3)
        var contact = overlay(neighbors: [1, 2, 3, 4, 5], rng: &rng)
        let outputs = contact.receive(.join, from: testPeer(9), rng: &rng)
        let dropped = outputs.compactMap { output -> PeerAddress? in
            if case .send(let peer, .disconnect(alive: true)) = output { return peer }
            return nil
        }
        #expect(dropped.count == 1)
        guard let victim = dropped.first else { return }
        #expect(outputs.contains(.neighborDown(victim)))
        #expect(outputs.contains(.release(victim)))
        #expect(contact.active.count == 5)
        #expect(contact.active.contains(testPeer(9)))
        #expect(!contact.active.contains(victim))
        #expect(contact.passive == [victim])
        #expect(sends(outputs)[victim] == [.disconnect(alive: true)])
    }

    // MARK: Forward join

    @Test func walkEndingHereAsksTheJoinerWithHighPriority() {
        var rng = SplitMix64(seed: 4)
        var node = overlay(neighbors: [1, 2, 3], rng: &rng)
        let outputs = node.receive(.forwardJoin(joiner: testPeer(9), ttl: 0), from: testPeer(1), rng: &rng)
        #expect(outputs == [.send(testPeer(9), .neighbor(highPriority: true))])
        #expect(node.pendingRequests == [testPeer(9)])
        #expect(!node.active.contains(testPeer(9)))

        let accepted = node.receive(.neighborReply(accepted: true), from: testPeer(9), rng: &rng)
        #expect(accepted == [.neighborUp(testPeer(9))])
        #expect(node.active.contains(testPeer(9)))
        #expect(node.pendingRequests.isEmpty)
    }

    @Test func walkEndsAtANodeWithOneNeighbour() {
        var rng = SplitMix64(seed: 5)
        var node = overlay(neighbors: [1], rng: &rng)
        let outputs = node.receive(.forwardJoin(joiner: testPeer(9), ttl: 5), from: testPeer(1), rng: &rng)
        #expect(outputs == [.send(testPeer(9), .neighbor(highPriority: true))])
    }

    @Test func walkContinuesAwayFromSenderAndJoiner() {
        var rng = SplitMix64(seed: 6)
        for _ in 0..<20 {
            var node = overlay(neighbors: [1, 2, 3, 9], rng: &rng)
            let outputs = node.receive(.forwardJoin(joiner: testPeer(9), ttl: 5), from: testPeer(1), rng: &rng)
            let sent = sends(outputs)
            #expect(sent.count == 1)
            #expect(sent[testPeer(2)] == [.forwardJoin(joiner: testPeer(9), ttl: 4)]
                || sent[testPeer(3)] == [.forwardJoin(joiner: testPeer(9), ttl: 4)])
            #expect(node.passive.isEmpty)
        }
    }

    @Test func walkLeavesTheJoinerInThePassiveViewAtPRWL() {
        var rng = SplitMix64(seed: 7)
        var node = overlay(neighbors: [1, 2], rng: &rng)
        let outputs = node.receive(.forwardJoin(joiner: testPeer(9), ttl: 3), from: testPeer(1), rng: &rng)
        #expect(outputs == [.send(testPeer(2), .forwardJoin(joiner: testPeer(9), ttl: 2))])
        #expect(node.passive == [testPeer(9)])
    }

    @Test func walkLongerThanARWLIsCutShort() {
        var rng = SplitMix64(seed: 8)
        var node = overlay(neighbors: [1, 2], rng: &rng)
        let outputs = node.receive(.forwardJoin(joiner: testPeer(9), ttl: 200), from: testPeer(1), rng: &rng)
        #expect(outputs == [.send(testPeer(2), .forwardJoin(joiner: testPeer(9), ttl: 5))])
    }

    @Test func walkAboutOurselvesOrAKnownNeighbourStops() {
        var rng = SplitMix64(seed: 9)
        var node = overlay(neighbors: [1], rng: &rng)
        #expect(node.receive(.forwardJoin(joiner: me, ttl: 0), from: testPeer(1), rng: &rng).isEmpty)
        #expect(node.receive(.forwardJoin(joiner: testPeer(1), ttl: 0), from: testPeer(1), rng: &rng).isEmpty)
        #expect(node.active == [testPeer(1)])
    }

    // MARK: Neighbour requests

    @Test func highPriorityRequestIsAlwaysAccepted() {
        var rng = SplitMix64(seed: 10)
        var node = overlay(neighbors: [1, 2, 3, 4, 5], rng: &rng)
        let outputs = node.receive(.neighbor(highPriority: true), from: testPeer(9), rng: &rng)
        #expect(sends(outputs)[testPeer(9)] == [.neighborReply(accepted: true)])
        #expect(outputs.contains(.neighborUp(testPeer(9))))
        #expect(node.active.count == 5)
        #expect(node.active.last == testPeer(9))
        #expect(node.passive.count == 1)
    }

    @Test func lowPriorityRequestToAFullViewIsRejected() {
        var rng = SplitMix64(seed: 11)
        var node = overlay(neighbors: [1, 2, 3, 4, 5], rng: &rng)
        let outputs = node.receive(.neighbor(highPriority: false), from: testPeer(9), rng: &rng)
        #expect(outputs == [.send(testPeer(9), .neighborReply(accepted: false)), .release(testPeer(9))])
        #expect(node.active == [1, 2, 3, 4, 5].map(testPeer))
        #expect(node.passive == [testPeer(9)])
    }

    @Test func lowPriorityRequestWithRoomIsAccepted() {
        var rng = SplitMix64(seed: 12)
        var node = overlay(neighbors: [1, 2], rng: &rng)
        let outputs = node.receive(.neighbor(highPriority: false), from: testPeer(9), rng: &rng)
        #expect(outputs == [.send(testPeer(9), .neighborReply(accepted: true)), .neighborUp(testPeer(9))])
    }

    @Test func crossingRequestsLinkBothEndsEvenWhenFull() {
        var rng = SplitMix64(seed: 13)
        var node = overlay(neighbors: [1, 2, 3], known: [9], rng: &rng)
        _ = node.receive(.disconnect(alive: true), from: testPeer(3), rng: &rng)
        // The refill asked 9, the only candidate; then 4, 5 and 6 fill the view.
        #expect(node.pendingRequests == [testPeer(9)])
        _ = node.receive(.neighbor(highPriority: true), from: testPeer(4), rng: &rng)
        _ = node.receive(.neighbor(highPriority: true), from: testPeer(5), rng: &rng)
        #expect(node.active.count == 4)
        _ = node.receive(.neighbor(highPriority: true), from: testPeer(6), rng: &rng)
        #expect(node.active.count == 5)
        let outputs = node.receive(.neighbor(highPriority: false), from: testPeer(9), rng: &rng)
        #expect(sends(outputs)[testPeer(9)] == [.neighborReply(accepted: true)])
        #expect(node.active.contains(testPeer(9)))
        #expect(node.receive(.neighborReply(accepted: true), from: testPeer(9), rng: &rng).isEmpty)
    }

    @Test func rejectionMovesOnToTheNextPassivePeer() {
        var rng = SplitMix64(seed: 14)
        var node = overlay(neighbors: [1], known: [7, 8], config: OverlayConfig(activeSize: 2), rng: &rng)
        let first = node.tick(rng: &rng)
        let asked = node.pendingRequests
        #expect(asked.count == 1)
        guard let refuser = asked.first else { return }
        #expect(first.contains(.send(refuser, .neighbor(highPriority: false))))

        let outputs = node.receive(.neighborReply(accepted: false), from: refuser, rng: &rng)
        let other = refuser == testPeer(7) ? testPeer(8) : testPeer(7)
        #expect(outputs == [.release(refuser), .send(other, .neighbor(highPriority: false))])
        #expect(node.passive.contains(refuser))

        // Both refuse: no one is asked again until the next tick.
        #expect(node.receive(.neighborReply(accepted: false), from: other, rng: &rng) == [.release(other)])
        let next = node.tick(rng: &rng)
        #expect(next.contains { if case .send(_, .neighbor) = $0 { true } else { false } })
    }

    @Test func unansweredRequestTimesOut() {
        var rng = SplitMix64(seed: 15)
        var node = overlay(neighbors: [1], known: [7], config: OverlayConfig(activeSize: 2, requestTimeoutTicks: 2), rng: &rng)
        _ = node.tick(rng: &rng)
        #expect(node.pendingRequests == [testPeer(7)])
        _ = node.tick(rng: &rng)
        #expect(node.pendingRequests == [testPeer(7)])
        let expiry = node.tick(rng: &rng)
        #expect(expiry.contains(.release(testPeer(7))))
        #expect(node.pendingRequests.isEmpty)
        #expect(node.passive == [testPeer(7)])
        // A late acceptance is still taken while there is room.
        #expect(node.receive(.neighborReply(accepted: true), from: testPeer(7), rng: &rng) == [.neighborUp(testPeer(7))])
    }

    @Test func lateAcceptanceWithoutRoomIsUndone() {
        var rng = SplitMix64(seed: 16)
        var node = overlay(neighbors: [1, 2, 3, 4, 5], rng: &rng)
        let outputs = node.receive(.neighborReply(accepted: true), from: testPeer(9), rng: &rng)
        #expect(outputs == [.send(testPeer(9), .disconnect(alive: true)), .release(testPeer(9))])
        #expect(!node.active.contains(testPeer(9)))
        #expect(node.receive(.neighborReply(accepted: false), from: testPeer(9), rng: &rng).isEmpty)
    }

    // MARK: Disconnects and failures

    @Test func disconnectMovesTheNeighbourToThePassiveViewAndRefills() {
        var rng = SplitMix64(seed: 17)
        var node = overlay(neighbors: [1, 2], known: [7], rng: &rng)
        let outputs = node.receive(.disconnect(alive: true), from: testPeer(1), rng: &rng)
        #expect(outputs == [.neighborDown(testPeer(1)), .release(testPeer(1)), .send(testPeer(7), .neighbor(highPriority: false))])
        #expect(node.active == [testPeer(2)])
        #expect(Set(node.passive) == [testPeer(1), testPeer(7)])

        _ = node.receive(.disconnect(alive: false), from: testPeer(2), rng: &rng)
        #expect(!node.passive.contains(testPeer(2)))
    }

    @Test func isolatedNodeAsksWithHighPriority() {
        var rng = SplitMix64(seed: 18)
        var node = overlay(neighbors: [1], known: [7, 8], rng: &rng)
        let outputs = node.peerFailed(testPeer(1), rng: &rng)
        let requests = outputs.compactMap { output -> Bool? in
            if case .send(_, .neighbor(let high)) = output { return high }
            return nil
        }
        #expect(outputs.first == .neighborDown(testPeer(1)))
        #expect(requests == [true, false])
        #expect(node.active.isEmpty)

        // A failed candidate is forgotten; it held no slot.
        guard let candidate = node.pendingRequests.first else { return }
        _ = node.peerFailed(candidate, rng: &rng)
        #expect(!node.passive.contains(candidate))
        #expect(!node.holds(candidate))
    }

    @Test func leaveTellsEveryNeighbourAndIgnoresLaterEvents() {
        var rng = SplitMix64(seed: 19)
        var node = overlay(neighbors: [1, 2], known: [7], rng: &rng)
        _ = node.receive(.forwardJoin(joiner: testPeer(9), ttl: 0), from: testPeer(1), rng: &rng)
        let outputs = node.leave()
        for i in [1, 2, 9] {
            #expect(sends(outputs)[testPeer(i)] == [.disconnect(alive: false)])
            #expect(outputs.contains(.release(testPeer(i))))
        }
        #expect(outputs.filter { if case .neighborDown = $0 { true } else { false } }.count == 2)
        #expect(node.active.isEmpty)
        #expect(node.receive(.neighborReply(accepted: true), from: testPeer(9), rng: &rng).isEmpty)
        #expect(node.tick(rng: &rng).isEmpty)
        #expect(!node.join(via: testPeer(1), rng: &rng).isEmpty)
    }

    // MARK: Shuffle

    @Test func tickSendsASampleToANeighbour() {
        var rng = SplitMix64(seed: 20)
        var node = overlay(neighbors: [1, 2, 3, 4, 5], known: Array(10..<20), rng: &rng)
        let outputs = node.tick(rng: &rng)
        #expect(outputs.count == 1)
        guard case .send(let target, .shuffle(let origin, let ttl, let peers)) = outputs.first else {
            Issue.record("expected a shuffle, got \(outputs)")
            return
        }
        #expect(node.active.contains(target))
        #expect(origin == me)
        #expect(ttl == 4)
        #expect(peers.count == 3 + 4)
        #expect(peers.prefix(3).allSatisfy { node.active.contains($0) && $0 != target })
        #expect(peers.suffix(4).allSatisfy(node.passive.contains))
    }

    @Test func shuffleWalksOnAwayFromSenderAndOrigin() {
        var rng = SplitMix64(seed: 21)
        var node = overlay(neighbors: [1, 2, 3], rng: &rng)
        let sample = [testPeer(30), testPeer(31)]
        let outputs = node.receive(.shuffle(origin: testPeer(2), ttl: 3, peers: sample), from: testPeer(1), rng: &rng)
        #expect(outputs == [.send(testPeer(3), .shuffle(origin: testPeer(2), ttl: 2, peers: sample))])
        #expect(node.passive.isEmpty)
    }

    @Test func lastShuffleReceiverSwapsSamplesWithTheOrigin() {
        var rng = SplitMix64(seed: 22)
        var node = overlay(neighbors: [1, 2], known: Array(10..<40), rng: &rng)
        let before = node.passive
        let sample = [me, testPeer(1), testPeer(50), testPeer(51), testPeer(10)]
        let outputs = node.receive(.shuffle(origin: testPeer(60), ttl: 1, peers: sample), from: testPeer(1), rng: &rng)
        #expect(outputs.count == 2)
        guard case .send(testPeer(60), .shuffleReply(let reply)) = outputs.first else {
            Issue.record("expected a reply to the origin, got \(outputs)")
            return
        }
        #expect(outputs.last == .release(testPeer(60)))
        #expect(reply.count == sample.count + 1)
        #expect(Set(reply).count == reply.count)
        #expect(reply.allSatisfy(before.contains))
        // New peers (the origin included) replaced peers it sent away.
        let added = [testPeer(60), testPeer(50), testPeer(51)]
        #expect(added.allSatisfy(node.passive.contains))
        #expect(node.passive.count == 30)
        let evicted = before.filter { !node.passive.contains($0) }
        #expect(evicted.count == added.count)
        #expect(evicted.allSatisfy(reply.contains))
        #expect(!node.passive.contains(me) && !node.passive.contains(testPeer(1)))
    }

    @Test func shuffleReplyReplacesWhatTheOriginSent() {
        var rng = SplitMix64(seed: 23)
        var node = overlay(neighbors: [1, 2, 3, 4, 5], known: Array(10..<40), rng: &rng)
        guard case .send(_, .shuffle(_, _, let sent)) = node.tick(rng: &rng).first else {
            Issue.record("expected a shuffle")
            return
        }
        let sentPassive = sent.filter { node.passive.contains($0) }
        let reply = [testPeer(70), testPeer(71), testPeer(72)]
        let outputs = node.receive(.shuffleReply(peers: reply), from: testPeer(80), rng: &rng)
        #expect(outputs == [.release(testPeer(80))])
        #expect(reply.allSatisfy(node.passive.contains))
        #expect(node.passive.count == 30)
        #expect(sentPassive.filter { !node.passive.contains($0) }.count == reply.count)
    }

    @Test func oversizedShuffleIsCutToTheSampleLimit() {
        var rng = SplitMix64(seed: 24)
        var node = overlay(neighbors: [1], rng: &rng)
        let flood = (100..<1100).map(testPeer)
        _ = node.receive(.shuffle(origin: testPeer(2), ttl: 1, peers: flood), from: testPeer(1), rng: &rng)
        #expect(node.passive.count == OverlayConfig().shuffleSampleLimit)
        _ = node.receive(.shuffleReply(peers: flood), from: testPeer(2), rng: &rng)
        #expect(node.passive.count <= 30)
    }

    // MARK: Networks

    @Test func twoHundredNodesFormASymmetricConnectedOverlay() {
        var network = OverlayNetwork(count: 200, seed: 0x5EED)
        network.joinAll()
        #expect(network.brokenInvariants() == [])
        #expect(network.isConnected)

        network.tickAll(rounds: 10)
        #expect(network.brokenInvariants() == [])
        #expect(network.isConnected)
        let sizes = network.activeSizes
        #expect(sizes.allSatisfy { (1...5).contains($0) })
        #expect(Double(sizes.reduce(0, +)) / Double(sizes.count) > 4)
        #expect(network.nodes.allSatisfy { $0.passive.count > 5 })

        network.kill(network.randomSample(60, of: Array(network.nodes.indices)))
        network.settle()
        #expect(network.brokenInvariants() == [])
        network.tickAll(rounds: 5)
        #expect(network.brokenInvariants() == [])
        #expect(network.isConnected)
        #expect(network.activeSizes.allSatisfy { (1...5).contains($0) })
    }

    @Test func crossingMessagesStillLeaveSymmetricViews() {
        var network = OverlayNetwork(count: 100, delivery: .interleaved, seed: 0xC0FFEE)
        network.joinAll(deliveringBetween: 5)
        network.tickAll(rounds: 5, deliveringBetween: 50)
        #expect(network.inFlight > 0)
        network.settle()
        #expect(network.brokenInvariants() == [])
        #expect(network.isConnected)

        network.tickAll(rounds: 2, deliveringBetween: 50)
        network.kill(network.randomSample(30, of: Array(network.nodes.indices)))
        network.tickAll(rounds: 6, deliveringBetween: 50)
        network.settle()
        #expect(network.brokenInvariants() == [])
        #expect(network.isConnected)
        #expect(network.activeSizes.allSatisfy { (1...5).contains($0) })
    }

    @Test func overlayRunsAreReproducibleFromTheSeed() {
        func run(seed: UInt64) -> [[PeerAddress]] {
            var network = OverlayNetwork(count: 40, seed: seed)
            network.joinAll()
            network.tickAll(rounds: 3)
            return network.nodes.map { $0.active + [me] + $0.passive }
        }
        #expect(run(seed: 7) == run(seed: 7))
        #expect(run(seed: 7) != run(seed: 8))
    }
}
