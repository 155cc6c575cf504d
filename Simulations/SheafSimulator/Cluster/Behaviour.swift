import SheafCodec
import SheafCrypto
import SheafFeeds
import SheafModels
import SheafReplica
import SheafProtocol
import SheafSnapshots

/// How a simulated node behaves. Byzantine nodes run the honest code and
/// add one attack each; every attack must be detected by honest nodes.
public enum Behaviour: String, Hashable, Sendable, CaseIterable {
    case honest
    /// Gossips entries of other writers' feeds under heads it signed itself.
    case forger
    /// An admitted writer that signs two different batches at the same seq.
    case equivocator
    /// An admitted writer that offers a snapshot whose root does not follow
    /// from the frontier it claims.
    case liar
    /// Sends undecodable and oversize frames.
    case garbage
    /// Announces what it holds but never sends entries (neither gossip nor
    /// ranges), manifests or chunks.
    case withholder

    public static var attacks: [Behaviour] { allCases.filter { $0 != .honest } }

    /// What honest nodes report when they catch this behaviour. An
    /// equivocator and a liar are not charged: the evidence against them is
    /// reported instead (`forkDetected`, `fraudDetected`).
    var detectedAs: Set<Misbehaviour> {
        switch self {
        case .honest, .equivocator, .liar: []
        case .forger: [.invalidSignature, .invalidEntries]
        case .garbage: [.malformedFrame, .oversizeFrame, .flooding]
        case .withholder: [.unresponsive]
        }
    }
}

struct ByzantineState {
    var equivocated = false
    var lie: SnapshotManifest?
    var rounds = 0
}

extension SimPeer {
    /// Rewrites or drops what an attacker sends.
    func outgoing(_ frame: [UInt8], to peer: PublicKey) -> [[UInt8]] {
        guard behaviour == .withholder || behaviour == .liar, let message = try? WireCodec.decode(frame) else { return [frame] }
        switch (behaviour, message) {
        case (.withholder, .space(_, .sync(.range))), (.withholder, .space(_, .snapshot(.chunk))),
             (.withholder, .space(_, .snapshot(.manifest))), (.withholder, .space(_, .broadcast(.gossip))):
            return []
        case (.liar, .space(let key, .snapshot(.offers))):
            guard let lie = byzantine.lie else { return [frame] }
            return [WireCodec.encode(.space(key, .snapshot(.offers([ProtocolNode.offer(for: lie)]))))]
        case (.liar, .space(let key, .snapshot(.manifest))):
            guard let lie = byzantine.lie else { return [frame] }
            return [WireCodec.encode(.space(key, .snapshot(.manifest(lie.encoded))))]
        default:
            return [frame]
        }
    }

    /// Handles what an attacker answers itself; true when the frame is consumed.
    func interceptIncoming(_ frame: [UInt8], from peer: PublicKey, _ io: SimIO) async -> Bool {
        guard behaviour == .liar, let lie = byzantine.lie, let target = book.node(of: peer),
              case .space(let key, .snapshot(.requestManifest(let id))) = try? WireCodec.decode(frame), id == lie.id else { return false }
        _ = io.send(to: target, WireCodec.encode(.space(key, .snapshot(.manifest(lie.encoded)))))
        return true
    }

    static let equivocationStart = NodeTime(nanoseconds: 7_000_000_000)

    /// One round of the node's attack.
    func misbehave(_ io: SimIO) async {
        guard let host, let replica else { return }
        byzantine.rounds += 1
        // Attack neighbours with an open channel (others drop space traffic unread).
        let peers = host.core.neighbours(of: key).compactMap { book.node(of: $0.node) }
        switch behaviour {
        case .honest, .withholder:
            return
        case .garbage:
            for peer in io.connectedPeers {
                let length = io.random { Int($0.next() % 200) + 1 }
                _ = io.send(to: peer, io.random { $0.bytes(length) })
                if byzantine.rounds % 3 == 0 { _ = io.send(to: peer, [UInt8](repeating: 0xEE, count: config.limits.maxFrameBytes + 1)) }
            }
        case .forger:
            // Another writer's next entry, under a head this node signs.
            let stored = host.storedFrontier(of: key) ?? Frontier()
            guard let victim = stored.feeds.first(where: { $0 != identity.publicKey && $0 != space }),
                  let anchor = stored[victim] else { return }
            let entry = Entry(feed: victim, seq: anchor.seq + 1, previous: anchor.hash, lamport: stored.entryCount + 1,
                              dependencies: [], timestamp: clock.milliseconds, payload: io.random { $0.bytes(24) })
            let signature = identity.sign(SignedHead.signedBody(feed: victim, seq: entry.seq, hash: entry.hash), domain: FeedDomains.signedHead)
            let head = SignedHead(feed: victim, seq: entry.seq, hash: entry.hash, signature: signature)
            var writer = ByteWriter()
            EncodedRange.encode(head: head, bodies: [entry.body[...]], into: &writer)
            monitor.recordForged(feed: victim, seq: entry.seq, hash: entry.hash)
            let gossip = WireMessage.space(key, .broadcast(.gossip(id: BroadcastID(feed: victim, seq: entry.seq), round: 0,
                                                                    after: anchor.seq, range: writer.bytes)))
            for peer in peers { _ = io.send(to: peer, WireCodec.encode(gossip)) }
        case .equivocator:
            // Only after the members' snapshots (6.5 s): a snapshot whose frontier
            // spans a fork can be audited only by the nodes holding its side of
            // it, so a lie told about it may go unnoticed by every honest node.
            guard !byzantine.equivocated, io.now >= Self.equivocationStart, peers.count >= 2, let tip = try? await replica.storedTip(of: identity.publicKey) else { return }
            byzantine.equivocated = true
            var first = FeedWriter(keyPair: identity, resumingAfter: tip, lamport: (host.storedFrontier(of: key)?.entryCount ?? 0) + 1)
            var second = first
            let payloads = (0..<2).map { i in
                [EntryDraft(payload: SpacePayload.model(ObjectStore.Op.put(id: "fork", fields: ["f0": .string("side \(i)")]).encoded).encoded)]
            }
            guard let a = try? first.append(payloads[0], timestamp: clock.milliseconds),
                  let b = try? second.append(payloads[1], timestamp: clock.milliseconds) else { return }
            // It keeps one side itself, so anti-entropy shows that side too.
            try? await replica.ingest(a)
            for (i, peer) in peers.enumerated() {
                let batch = i % 2 == 0 ? a : b
                let message = WireMessage.space(key, .broadcast(.gossip(id: BroadcastID(feed: batch.feed, seq: batch.head.seq), round: 0,
                                                                         after: batch.anchor.seq, range: batch.encodedRange())))
                _ = io.send(to: peer, WireCodec.encode(message))
            }
        case .liar:
            if let lie = byzantine.lie {
                // Push the lie to the neighbours: it wants to be installed.
                let offer = WireCodec.encode(.space(key, .snapshot(.offers([ProtocolNode.offer(for: lie)]))))
                for peer in peers { _ = io.send(to: peer, offer) }
                return
            }
            guard var lie = replica.storedSnapshots.first else { return }
            // Claim a frontier one entry short of what the state holds.
            guard let feed = lie.frontier.feeds.first(where: { lie.frontier.seq(of: $0) > 1 }),
                  let seq = Optional(lie.frontier.seq(of: feed) - 1),
                  let hash = try? await replica.entryHash(of: feed, at: seq) else { return }
            var heads = lie.frontier.heads
            heads[feed] = FeedAnchor(seq: seq, hash: hash)
            lie.frontier = Frontier(heads)
            lie.sign(with: identity)
            byzantine.lie = lie
        }
    }
}
