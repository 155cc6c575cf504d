import SheafCodec
import SheafCrypto
import SheafFeeds
import SheafProtocol
import SheafRandom

/// Seeded random wire messages of any kind, with integers of every varint
/// width and byte strings of at most `maxBytes`.
struct WireSamples {
    var rng: SplitMix64
    var maxBytes: Int

    init(seed: UInt64, maxBytes: Int = 48) {
        rng = SplitMix64(seed: seed)
        self.maxBytes = maxBytes
    }

    mutating func message(_ kind: WireMessageKind) throws -> WireMessage {
        let space = DiscoveryKey(hash: hash())
        switch kind {
        case .hello: return .hello(Hello(address: peer()))
        case .ping: return .ping(nonce: number())
        case .pong: return .pong(nonce: number())
        case .open: return .open(OpenSpace(space: key(), session: hash(), sender: key()))
        case .close: return .close(space, reason: CloseReason.allCases[rng.below(CloseReason.allCases.count)])
        default: return .space(space, try spaceMessage(kind))
        }
    }

    private mutating func spaceMessage(_ kind: WireMessageKind) throws -> SpaceMessage {
        switch kind {
        case .hello, .ping, .pong, .open, .close: preconditionFailure("not a space message")
        case .join: return .overlay(.join)
        case .forwardJoin: return .overlay(.forwardJoin(joiner: peer(), ttl: UInt8(truncatingIfNeeded: rng.next())))
        case .neighbor: return .overlay(.neighbor(highPriority: bool()))
        case .neighborReply: return .overlay(.neighborReply(accepted: bool()))
        case .disconnect: return .overlay(.disconnect(alive: bool()))
        case .shuffle:
            return .overlay(.shuffle(origin: peer(), ttl: UInt8(truncatingIfNeeded: rng.next()), peers: list(0...5) { $0.peer() }))
        case .shuffleReply: return .overlay(.shuffleReply(peers: list(0...5) { $0.peer() }))
        case .gossip:
            let id = broadcastID()
            return .broadcast(.gossip(id: id, round: round(), after: number() % id.seq, range: bytes()))
        case .ihave: return .broadcast(.ihave(list(1...6) { Announcement(id: $0.broadcastID(), round: $0.round()) }))
        case .graft: return .broadcast(.graft(id: broadcastID(), round: round()))
        case .prune: return .broadcast(.prune)
        case .frontier: return .sync(.frontier(frontier()))
        case .request: return .sync(.request(rangeRequest()))
        case .range: return .sync(.range(feed: key(), after: number(), range: bytes()))
        case .unavailable:
            let reasons: [UnavailableReason] = [.pruned(through: max(1, number())), .notHeld, .forked]
            return .sync(.unavailable(rangeRequest(), reason: reasons[rng.below(3)]))
        case .requestOffers: return .snapshot(.requestOffers)
        case .offers: return .snapshot(.offers(list(0...3) { $0.offer() }))
        case .requestManifest: return .snapshot(.requestManifest(hash()))
        case .manifest: return .snapshot(.manifest(bytes()))
        case .requestChunks: return .snapshot(.requestChunks(list(1...6) { $0.hash() }))
        case .chunk: return .snapshot(.chunk(id: hash(), compressed: bytes()))
        case .chunkMissing: return .snapshot(.chunkMissing(hash()))
        case .attestations: return .snapshot(.attestations(list(1...3) { $0.bytes() }))
        case .requestSnapshot: return .snapshot(.requestSnapshot)
        case .fork: return .evidence(.fork(try forkProof()))
        case .snapshotFraud: return .evidence(.snapshotFraud(manifest: bytes()))
        }
    }

    // MARK: Parts

    /// 0 to 2^64 - 1, with every bit width equally likely.
    mutating func number() -> UInt64 {
        let bits = rng.below(65)
        return bits == 0 ? 0 : rng.next() >> (64 - bits)
    }

    mutating func bool() -> Bool { rng.next() & 1 == 1 }
    mutating func round() -> UInt16 { UInt16(truncatingIfNeeded: number()) }
    mutating func key() -> PublicKey { PublicKey(raw: Bytes32(rng.bytes(32))!) }
    mutating func hash() -> Hash { Hash(raw: Bytes32(rng.bytes(32))!) }

    /// Non-empty, at most `maxBytes`.
    mutating func bytes() -> [UInt8] { rng.bytes(1 + rng.below(maxBytes)) }

    mutating func list<T>(_ counts: ClosedRange<Int>, _ element: (inout WireSamples) -> T) -> [T] {
        (0..<(counts.lowerBound + rng.below(counts.count))).map { _ in element(&self) }
    }

    mutating func peer() -> PeerAddress {
        let endpoints = ["", "10.0.0.\(rng.below(256)):\(rng.below(65536))", "sim-\(rng.below(1000))", "nœud-\(rng.below(9))"]
        return PeerAddress(node: key(), endpoint: endpoints[rng.below(endpoints.count)])
    }

    mutating func broadcastID() -> BroadcastID { BroadcastID(feed: key(), seq: max(1, number())) }

    mutating func rangeRequest() -> FeedRangeRequest {
        let through = max(1, number())
        return FeedRangeRequest(feed: key(), after: number() % through, through: through)
    }

    mutating func frontier() -> Frontier {
        var heads = [PublicKey: FeedAnchor]()
        for _ in 0..<rng.below(5) { heads[key()] = FeedAnchor(seq: max(1, number()), hash: hash()) }
        return Frontier(heads)
    }

    mutating func offer() -> SnapshotOffer {
        SnapshotOffer(manifest: hash(), entryCount: number(), stateRoot: hash(), signer: key(),
                      compressedBytes: number(), createdAt: number())
    }

    mutating func forkProof() throws -> ForkProof {
        let writer = KeyPair(seed: rng.bytes(32))!
        let seq = max(1, number())
        return try ForkProof(SignedHead(signing: writer, seq: seq, hash: hash()), SignedHead(signing: writer, seq: seq, hash: hash()))
    }
}
