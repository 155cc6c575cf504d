import SheafCodec
import SheafCrypto
import SheafFeeds

/// The canonical bytes of a `WireMessage`: one frame's payload (the
/// transport adds its own length prefix and encryption). Layout in
/// docs/PROTOCOL.md: a type byte per level, varints for integers,
/// length-prefixed byte strings. Each message has exactly one encoding, so
/// `decode` accepts a frame only if `encode` of the result gives it back.
public enum WireCodec {
    public static func encode(_ message: WireMessage) -> [UInt8] {
        var writer = ByteWriter(capacity: message.encodedSizeHint)
        message.encode(into: &writer)
        return writer.bytes
    }

    /// Decodes one frame from a peer, checking its size, every count and
    /// length against `limits` before allocating, and that nothing is left over.
    public static func decode(_ bytes: [UInt8], limits: WireLimits = .default) throws(WireError) -> WireMessage {
        guard bytes.count <= limits.maxFrameBytes else {
            throw WireError(.frameTooLarge(size: bytes.count, limit: limits.maxFrameBytes))
        }
        var decoder = WireDecoder(bytes, limits: limits)
        return try decoder.frame()
    }

    /// The chunk a frame carries, if it is a snapshot chunk: its type bytes
    /// are looked at first, so any other frame costs three comparisons.
    public static func snapshotChunk(in bytes: [UInt8], limits: WireLimits = .default) -> (id: Hash, compressed: [UInt8])? {
        // Message tag, 32-byte discovery key, space tag, snapshot tag.
        guard bytes.count > 35, bytes[0] == WireTag.Message.space.rawValue, bytes[33] == WireTag.Space.snapshot.rawValue,
              bytes[34] == WireTag.Snapshot.chunk.rawValue,
              case .space(_, .snapshot(.chunk(let id, let compressed)))? = try? decode(bytes, limits: limits) else { return nil }
        return (id, compressed)
    }
}

extension WireMessage {
    /// Enough capacity for the header, plus the largest byte string carried.
    fileprivate var encodedSizeHint: Int {
        guard case .space(_, let message) = self else { return 128 }
        return switch message {
        case .broadcast(.gossip(_, _, _, let bytes)), .sync(.range(_, _, let bytes)), .snapshot(.manifest(let bytes)),
             .snapshot(.chunk(_, let bytes)), .evidence(.snapshotFraud(let bytes)):
            128 + bytes.count
        default: 256
        }
    }
}

// MARK: Encoding

extension ByteWriter {
    fileprivate mutating func writeTag<Tag: RawRepresentable>(_ tag: Tag) where Tag.RawValue == UInt8 {
        writeUInt8(tag.rawValue)
    }

    fileprivate mutating func writeBool(_ value: Bool) { writeUInt8(value ? 1 : 0) }

    fileprivate mutating func writeList<Element: CanonicalEncodable>(_ list: [Element]) {
        writeVarint(UInt64(list.count))
        for element in list { element.encode(into: &self) }
    }
}

extension WireMessage: CanonicalEncodable {
    public func encode(into writer: inout ByteWriter) {
        switch self {
        case .hello(let hello):
            writer.writeTag(WireTag.Message.hello)
            hello.encode(into: &writer)
        case .ping(let nonce):
            writer.writeTag(WireTag.Message.ping)
            writer.writeVarint(nonce)
        case .pong(let nonce):
            writer.writeTag(WireTag.Message.pong)
            writer.writeVarint(nonce)
        case .open(let open):
            writer.writeTag(WireTag.Message.open)
            open.encode(into: &writer)
        case .close(let discovery, let reason):
            writer.writeTag(WireTag.Message.close)
            discovery.encode(into: &writer)
            writer.writeUInt8(reason.rawValue)
        case .space(let discovery, let message):
            writer.writeTag(WireTag.Message.space)
            discovery.encode(into: &writer)
            message.encode(into: &writer)
        }
    }
}

/// Layout: `varint version ‖ PeerAddress`. The version comes first in every
/// version, so a node can always tell which one a peer speaks.
extension Hello: CanonicalEncodable {
    public func encode(into writer: inout ByteWriter) {
        writer.writeVarint(UInt64(version))
        address.encode(into: &writer)
    }
}

/// Layout: `key ‖ bytes endpoint` (UTF-8).
extension PeerAddress: CanonicalEncodable {
    public func encode(into writer: inout ByteWriter) {
        node.encode(into: &writer)
        writer.writeLengthPrefixed(endpoint.utf8)
    }
}

/// Layout: `hash` (32 bytes).
extension DiscoveryKey: CanonicalCodable {
    public func encode(into writer: inout ByteWriter) { hash.encode(into: &writer) }
    public init(from reader: inout ByteReader) throws(DecodingError) { hash = try Hash(from: &reader) }
}

/// Layout: `discovery key ‖ proof hash`.
extension OpenSpace: CanonicalCodable {
    public func encode(into writer: inout ByteWriter) {
        discovery.encode(into: &writer)
        proof.encode(into: &writer)
    }

    public init(from reader: inout ByteReader) throws(DecodingError) {
        discovery = try DiscoveryKey(from: &reader)
        proof = try Hash(from: &reader)
    }
}

extension SpaceMessage: CanonicalEncodable {
    public func encode(into writer: inout ByteWriter) {
        switch self {
        case .overlay(let message):
            writer.writeTag(WireTag.Space.overlay)
            message.encode(into: &writer)
        case .broadcast(let message):
            writer.writeTag(WireTag.Space.broadcast)
            message.encode(into: &writer)
        case .sync(let message):
            writer.writeTag(WireTag.Space.sync)
            message.encode(into: &writer)
        case .snapshot(let message):
            writer.writeTag(WireTag.Space.snapshot)
            message.encode(into: &writer)
        case .evidence(let message):
            writer.writeTag(WireTag.Space.evidence)
            message.encode(into: &writer)
        }
    }
}

extension OverlayMessage: CanonicalEncodable {
    public func encode(into writer: inout ByteWriter) {
        switch self {
        case .join:
            writer.writeTag(WireTag.Overlay.join)
        case .forwardJoin(let joiner, let ttl):
            writer.writeTag(WireTag.Overlay.forwardJoin)
            joiner.encode(into: &writer)
            writer.writeUInt8(ttl)
        case .neighbor(let highPriority):
            writer.writeTag(WireTag.Overlay.neighbor)
            writer.writeBool(highPriority)
        case .neighborReply(let accepted):
            writer.writeTag(WireTag.Overlay.neighborReply)
            writer.writeBool(accepted)
        case .disconnect(let alive):
            writer.writeTag(WireTag.Overlay.disconnect)
            writer.writeBool(alive)
        case .shuffle(let origin, let ttl, let peers):
            writer.writeTag(WireTag.Overlay.shuffle)
            origin.encode(into: &writer)
            writer.writeUInt8(ttl)
            writer.writeList(peers)
        case .shuffleReply(let peers):
            writer.writeTag(WireTag.Overlay.shuffleReply)
            writer.writeList(peers)
        }
    }
}

/// Layout: `key feed ‖ varint seq` (seq ≥ 1).
extension BroadcastID: CanonicalCodable {
    public func encode(into writer: inout ByteWriter) {
        feed.encode(into: &writer)
        writer.writeVarint(seq)
    }

    public init(from reader: inout ByteReader) throws(DecodingError) {
        feed = try PublicKey(from: &reader)
        seq = try reader.readVarint("broadcast.seq", in: 1...UInt64.max)
    }
}

/// Layout: `BroadcastID ‖ varint round` (round ≤ 65535).
extension Announcement: CanonicalCodable {
    public func encode(into writer: inout ByteWriter) {
        id.encode(into: &writer)
        writer.writeVarint(UInt64(round))
    }

    public init(from reader: inout ByteReader) throws(DecodingError) {
        id = try BroadcastID(from: &reader)
        round = UInt16(try reader.readVarint("broadcast.round", in: 0...UInt64(UInt16.max)))
    }
}

extension BroadcastMessage: CanonicalEncodable {
    public func encode(into writer: inout ByteWriter) {
        switch self {
        case .gossip(let id, let round, let after, let range):
            writer.writeTag(WireTag.Broadcast.gossip)
            Announcement(id: id, round: round).encode(into: &writer)
            writer.writeVarint(after)
            writer.writeLengthPrefixed(range)
        case .ihave(let announcements):
            writer.writeTag(WireTag.Broadcast.ihave)
            writer.writeList(announcements)
        case .graft(let id, let round):
            writer.writeTag(WireTag.Broadcast.graft)
            Announcement(id: id, round: round).encode(into: &writer)
        case .prune:
            writer.writeTag(WireTag.Broadcast.prune)
        }
    }
}

extension SyncMessage: CanonicalEncodable {
    public func encode(into writer: inout ByteWriter) {
        switch self {
        case .frontier(let frontier):
            writer.writeTag(WireTag.Sync.frontier)
            frontier.encode(into: &writer)
        case .request(let request):
            writer.writeTag(WireTag.Sync.request)
            Self.encode(request, into: &writer)
        case .range(let feed, let after, let range):
            writer.writeTag(WireTag.Sync.range)
            feed.encode(into: &writer)
            writer.writeVarint(after)
            writer.writeLengthPrefixed(range)
        case .unavailable(let request, let reason):
            writer.writeTag(WireTag.Sync.unavailable)
            Self.encode(request, into: &writer)
            reason.encode(into: &writer)
        }
    }

    /// Layout: `key feed ‖ varint after ‖ varint through` (after < through).
    /// Not a conformance: `FeedRangeRequest` belongs to SheafFeeds.
    static func encode(_ request: FeedRangeRequest, into writer: inout ByteWriter) {
        request.feed.encode(into: &writer)
        writer.writeVarint(request.after)
        writer.writeVarint(request.through)
    }
}

/// Layout: `u8 reason` (1 pruned, 2 not held, 3 forked); pruned adds `varint through` (≥ 1).
extension UnavailableReason: CanonicalCodable {
    public func encode(into writer: inout ByteWriter) {
        switch self {
        case .pruned(let through):
            writer.writeTag(WireTag.Unavailable.pruned)
            writer.writeVarint(through)
        case .notHeld:
            writer.writeTag(WireTag.Unavailable.notHeld)
        case .forked:
            writer.writeTag(WireTag.Unavailable.forked)
        }
    }

    public init(from reader: inout ByteReader) throws(DecodingError) {
        let offset = reader.offset
        switch WireTag.Unavailable(rawValue: try reader.readUInt8("unavailable.reason")) {
        case .pruned: self = .pruned(through: try reader.readVarint("unavailable.through", in: 1...UInt64.max))
        case .notHeld: self = .notHeld
        case .forked: self = .forked
        case nil: throw DecodingError(.invalidValue, at: offset, field: "unavailable.reason")
        }
    }
}

/// Layout: `manifest hash ‖ varint entries ‖ state root ‖ key signer ‖
/// varint compressed bytes ‖ varint created (ms)`.
extension SnapshotOffer: CanonicalCodable {
    public func encode(into writer: inout ByteWriter) {
        manifest.encode(into: &writer)
        writer.writeVarint(entryCount)
        stateRoot.encode(into: &writer)
        signer.encode(into: &writer)
        writer.writeVarint(compressedBytes)
        writer.writeVarint(createdAt)
    }

    public init(from reader: inout ByteReader) throws(DecodingError) {
        manifest = try Hash(from: &reader)
        entryCount = try reader.readVarint("offer.entryCount")
        stateRoot = try Hash(from: &reader)
        signer = try PublicKey(from: &reader)
        compressedBytes = try reader.readVarint("offer.compressedBytes")
        createdAt = try reader.readVarint("offer.createdAt")
    }
}

extension SnapshotMessage: CanonicalEncodable {
    public func encode(into writer: inout ByteWriter) {
        switch self {
        case .requestOffers:
            writer.writeTag(WireTag.Snapshot.requestOffers)
        case .offers(let offers):
            writer.writeTag(WireTag.Snapshot.offers)
            writer.writeList(offers)
        case .requestManifest(let id):
            writer.writeTag(WireTag.Snapshot.requestManifest)
            id.encode(into: &writer)
        case .manifest(let bytes):
            writer.writeTag(WireTag.Snapshot.manifest)
            writer.writeLengthPrefixed(bytes)
        case .requestChunks(let ids):
            writer.writeTag(WireTag.Snapshot.requestChunks)
            writer.writeList(ids)
        case .chunk(let id, let compressed):
            writer.writeTag(WireTag.Snapshot.chunk)
            id.encode(into: &writer)
            writer.writeLengthPrefixed(compressed)
        case .chunkMissing(let id):
            writer.writeTag(WireTag.Snapshot.chunkMissing)
            id.encode(into: &writer)
        case .attestations(let attestations):
            writer.writeTag(WireTag.Snapshot.attestations)
            writer.writeVarint(UInt64(attestations.count))
            for attestation in attestations { writer.writeLengthPrefixed(attestation) }
        case .requestSnapshot:
            writer.writeTag(WireTag.Snapshot.requestSnapshot)
        }
    }
}

extension EvidenceMessage: CanonicalEncodable {
    public func encode(into writer: inout ByteWriter) {
        switch self {
        case .fork(let proof):
            writer.writeTag(WireTag.Evidence.fork)
            proof.encode(into: &writer)
        case .snapshotFraud(let manifest):
            writer.writeTag(WireTag.Evidence.snapshotFraud)
            writer.writeLengthPrefixed(manifest)
        }
    }
}
