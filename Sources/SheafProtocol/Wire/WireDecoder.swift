import SheafCodec
import SheafCrypto
import SheafFeeds

/// Reads one frame in the layout `WireCodec.encode` writes, bounding every
/// count and length by `WireLimits` before allocating. Fixed-size parts go
/// through their `CanonicalDecodable` conformances; this type adds the parts
/// whose bounds are configurable, and the type bytes.
struct WireDecoder {
    private var reader: ByteReader
    private let limits: WireLimits

    init(_ bytes: [UInt8], limits: WireLimits) {
        reader = ByteReader(bytes)
        self.limits = limits
    }

    /// A whole frame: one message and nothing after it.
    mutating func frame() throws(WireError) -> WireMessage {
        let message = try message()
        try read { reader throws(DecodingError) in try reader.expectEnd("message") }
        return message
    }

    private mutating func message() throws(WireError) -> WireMessage {
        switch try tag(WireTag.Message.self, "message") {
        case .hello:
            return .hello(try hello())
        case .ping:
            return .ping(nonce: try varint("ping.nonce"))
        case .pong:
            return .pong(nonce: try varint("pong.nonce"))
        case .open:
            return .open(try value(OpenSpace.self))
        case .close:
            let discovery = try value(DiscoveryKey.self)
            let offset = reader.offset
            let raw = try read { reader throws(DecodingError) in try reader.readUInt8("close.reason") }
            guard let reason = CloseReason(rawValue: raw) else {
                throw WireError(.malformed(DecodingError(.invalidValue, at: offset, field: "close.reason", detail: "\(raw)")))
            }
            return .close(discovery, reason: reason)
        case .space:
            let discovery = try value(DiscoveryKey.self)
            return .space(discovery, try spaceMessage())
        }
    }

    private mutating func hello() throws(WireError) -> Hello {
        let version = UInt16(try varint("hello.version", in: 0...UInt64(UInt16.max)))
        // Nothing after the version is read: its layout belongs to that version.
        guard version == WireVersion.current else { throw WireError(.unsupportedVersion(version)) }
        return Hello(version: version, address: try peerAddress("hello.endpoint"))
    }

    private mutating func peerAddress(_ field: String) throws(WireError) -> PeerAddress {
        let node = try value(PublicKey.self)
        let offset = reader.offset
        let bytes = try bytes(field, limit: limits.maxEndpointBytes, allowEmpty: true)
        guard let endpoint = String(validating: bytes, as: UTF8.self) else {
            throw WireError(.malformed(DecodingError(.invalidValue, at: offset, field: field, detail: "not UTF-8")))
        }
        return PeerAddress(node: node, endpoint: endpoint)
    }

    private mutating func spaceMessage() throws(WireError) -> SpaceMessage {
        switch try tag(WireTag.Space.self, "space") {
        case .overlay: .overlay(try overlay())
        case .broadcast: .broadcast(try broadcast())
        case .sync: .sync(try sync())
        case .snapshot: .snapshot(try snapshot())
        case .evidence: .evidence(try evidence())
        }
    }

    // MARK: Sub-protocols

    /// The smallest `PeerAddress`: a key and an empty endpoint.
    private static let minPeerBytes = 33

    private mutating func overlay() throws(WireError) -> OverlayMessage {
        switch try tag(WireTag.Overlay.self, "overlay") {
        case .join:
            return .join
        case .forwardJoin:
            let joiner = try peerAddress("forwardJoin.endpoint")
            return .forwardJoin(joiner: joiner, ttl: try byte("forwardJoin.ttl"))
        case .neighbor:
            return .neighbor(highPriority: try bool("neighbor.highPriority"))
        case .neighborReply:
            return .neighborReply(accepted: try bool("neighborReply.accepted"))
        case .disconnect:
            return .disconnect(alive: try bool("disconnect.alive"))
        case .shuffle:
            let origin = try peerAddress("shuffle.origin.endpoint")
            let ttl = try byte("shuffle.ttl")
            return .shuffle(origin: origin, ttl: ttl, peers: try peers("shuffle.peers"))
        case .shuffleReply:
            return .shuffleReply(peers: try peers("shuffleReply.peers"))
        }
    }

    private mutating func peers(_ field: String) throws(WireError) -> [PeerAddress] {
        let count = try count(field, limit: limits.maxShufflePeers, minElementSize: Self.minPeerBytes)
        var peers = [PeerAddress]()
        peers.reserveCapacity(count)
        for _ in 0..<count { peers.append(try peerAddress("\(field).endpoint")) }
        return peers
    }

    private mutating func broadcast() throws(WireError) -> BroadcastMessage {
        switch try tag(WireTag.Broadcast.self, "broadcast") {
        case .gossip:
            let item = try value(Announcement.self)
            // The batch continues after `after` and ends at `seq`, so after < seq.
            let after = try varint("gossip.after", in: 0...(item.id.seq - 1))
            let range = try bytes("gossip.range", limit: limits.maxRangeBytes)
            return .gossip(id: item.id, round: item.round, after: after, range: range)
        case .ihave:
            let count = try count("ihave.announcements", limit: limits.maxAnnouncements, minElementSize: 34, allowEmpty: false)
            return .ihave(try list(count, Announcement.self))
        case .graft:
            let item = try value(Announcement.self)
            return .graft(id: item.id, round: item.round)
        case .prune:
            return .prune
        }
    }

    private mutating func sync() throws(WireError) -> SyncMessage {
        switch try tag(WireTag.Sync.self, "sync") {
        case .frontier:
            // The frontier decoder bounds its count by FeedLimits; ours may be lower.
            try checkCount("frontier.count", limit: limits.maxFrontierFeeds) { .tooMany(field: "frontier.count", count: $0, limit: $1) }
            return .frontier(try value(Frontier.self))
        case .request:
            return .request(try rangeRequest())
        case .range:
            let feed = try value(PublicKey.self)
            let after = try varint("range.after")
            return .range(feed: feed, after: after, range: try bytes("range.bytes", limit: limits.maxRangeBytes))
        case .unavailable:
            let request = try rangeRequest()
            return .unavailable(request, reason: try value(UnavailableReason.self))
        }
    }

    private mutating func rangeRequest() throws(WireError) -> FeedRangeRequest {
        let feed = try value(PublicKey.self)
        let after = try varint("request.after", in: 0...(UInt64.max - 1))
        let through = try varint("request.through", in: (after + 1)...UInt64.max)
        return FeedRangeRequest(feed: feed, after: after, through: through)
    }

    private mutating func snapshot() throws(WireError) -> SnapshotMessage {
        switch try tag(WireTag.Snapshot.self, "snapshot") {
        case .requestOffers:
            return .requestOffers
        case .offers:
            let count = try count("offers", limit: limits.maxOffers, minElementSize: 99)
            return .offers(try list(count, SnapshotOffer.self))
        case .requestManifest:
            return .requestManifest(try value(Hash.self))
        case .manifest:
            return .manifest(try bytes("manifest", limit: limits.maxManifestBytes))
        case .requestChunks:
            let count = try count("requestChunks.ids", limit: limits.maxChunkRequests, minElementSize: 32, allowEmpty: false)
            return .requestChunks(try list(count, Hash.self))
        case .chunk:
            let id = try value(Hash.self)
            return .chunk(id: id, compressed: try bytes("chunk.compressed", limit: limits.maxChunkBytes))
        case .chunkMissing:
            return .chunkMissing(try value(Hash.self))
        case .attestations:
            let count = try count("attestations", limit: limits.maxAttestations, minElementSize: 2, allowEmpty: false)
            var attestations = [[UInt8]]()
            attestations.reserveCapacity(count)
            for _ in 0..<count { attestations.append(try bytes("attestation", limit: limits.maxAttestationBytes)) }
            return .attestations(attestations)
        case .requestSnapshot:
            return .requestSnapshot
        }
    }

    private mutating func evidence() throws(WireError) -> EvidenceMessage {
        switch try tag(WireTag.Evidence.self, "evidence") {
        case .fork: .fork(try value(ForkProof.self))
        case .snapshotFraud: .snapshotFraud(manifest: try bytes("snapshotFraud.manifest", limit: limits.maxManifestBytes))
        }
    }

    // MARK: Primitives

    /// Runs a canonical decoder on the reader; its failure is `malformed`.
    private mutating func read<T>(_ body: (inout ByteReader) throws(DecodingError) -> T) throws(WireError) -> T {
        do { return try body(&reader) } catch { throw WireError(.malformed(error)) }
    }

    private mutating func value<T: CanonicalDecodable>(_: T.Type) throws(WireError) -> T {
        try read { reader throws(DecodingError) in try T(from: &reader) }
    }

    private mutating func list<T: CanonicalDecodable>(_ count: Int, _: T.Type) throws(WireError) -> [T] {
        var values = [T]()
        values.reserveCapacity(count)
        for _ in 0..<count { values.append(try value(T.self)) }
        return values
    }

    /// A type byte; one this build does not know is `unknownMessage`.
    private mutating func tag<Tag: RawRepresentable>(_: Tag.Type, _ field: String) throws(WireError) -> Tag
    where Tag.RawValue == UInt8 {
        let raw = try byte(field)
        guard let tag = Tag(rawValue: raw) else { throw WireError(.unknownMessage(field: field, tag: raw)) }
        return tag
    }

    private mutating func byte(_ field: String) throws(WireError) -> UInt8 {
        try read { reader throws(DecodingError) in try reader.readUInt8(field) }
    }

    /// `0` or `1`; any other byte would be a second encoding of `true`.
    private mutating func bool(_ field: String) throws(WireError) -> Bool {
        let offset = reader.offset
        switch try byte(field) {
        case 0: return false
        case 1: return true
        case let raw: throw WireError(.malformed(DecodingError(.invalidValue, at: offset, field: field, detail: "bool \(raw)")))
        }
    }

    private mutating func varint(_ field: String, in range: ClosedRange<UInt64> = 0...UInt64.max) throws(WireError) -> UInt64 {
        try read { reader throws(DecodingError) in try reader.readVarint(field, in: range) }
    }

    /// Fails with `over(value, limit)` when the varint at the read position
    /// exceeds `limit`. Consumes nothing: the caller then reads it for real.
    private func checkCount(_ field: String, limit: Int, over: (Int, Int) -> WireError.Code) throws(WireError) {
        let limit = max(0, limit)
        var probe = reader
        let value: UInt64
        do { value = try probe.readVarint(field) } catch { throw WireError(.malformed(error)) }
        if value > UInt64(limit) { throw WireError(over(Int(clamping: value), limit)) }
    }

    /// A list's element count, bounded by `limit` and by the bytes left at
    /// `minElementSize` each.
    private mutating func count(_ field: String, limit: Int, minElementSize: Int, allowEmpty: Bool = true) throws(WireError) -> Int {
        let limit = max(0, limit)
        try checkCount(field, limit: limit) { .tooMany(field: field, count: $0, limit: $1) }
        let offset = reader.offset
        let count = try read { reader throws(DecodingError) in
            try reader.readCount(field, limit: limit, minElementSize: minElementSize)
        }
        if count == 0 && !allowEmpty { throw Self.empty(field, at: offset) }
        return count
    }

    /// A length-prefixed byte string of at most `limit` bytes.
    private mutating func bytes(_ field: String, limit: Int, allowEmpty: Bool = false) throws(WireError) -> [UInt8] {
        let limit = max(0, limit)
        try checkCount(field, limit: limit) { .tooLarge(field: field, size: $0, limit: $1) }
        let offset = reader.offset
        let bytes = try read { reader throws(DecodingError) in try reader.readLengthPrefixed(field, limit: limit) }
        if bytes.isEmpty && !allowEmpty { throw Self.empty(field, at: offset) }
        return bytes
    }

    private static func empty(_ field: String, at offset: Int) -> WireError {
        WireError(.malformed(DecodingError(.invalidValue, at: offset, field: field, detail: "must not be empty")))
    }
}
