import SheafCodec
import SheafCrypto
import SheafFeeds
import SheafRandom
import Testing

@testable import SheafProtocol

/// The error `decode` throws, or nil when it decodes.
private func wireError(_ bytes: [UInt8], limits: WireLimits = .default) -> WireError? {
    do {
        _ = try WireCodec.decode(bytes, limits: limits)
        return nil
    } catch {
        return error
    }
}

/// The `DecodingError` code inside a `.malformed` error.
private func malformedCode(_ bytes: [UInt8], limits: WireLimits = .default) -> DecodingError.Code? {
    guard case .malformed(let error)? = wireError(bytes, limits: limits)?.code else { return nil }
    return error.code
}

private let key = PublicKey(raw: Bytes32([UInt8](repeating: 0x11, count: 32))!)
private let space = DiscoveryKey(hash: Hash(raw: Bytes32([UInt8](repeating: 0x22, count: 32))!))
private let spaceBytes = [UInt8](repeating: 0x22, count: 32)

@Suite("Wire codec")
struct WireCodecTests {
    /// A few messages of every kind, from fixed seeds.
    static func samples(perKind: Int, maxBytes: Int = 48) throws -> [(WireMessageKind, WireMessage)] {
        var result = [(WireMessageKind, WireMessage)]()
        for kind in WireMessageKind.allCases {
            for index in 0..<perKind {
                var samples = WireSamples(seed: UInt64(index) << 8 | UInt64(result.count), maxBytes: maxBytes)
                result.append((kind, try samples.message(kind)))
            }
        }
        return result
    }

    @Test func everyMessageRoundTrips() throws {
        for (kind, message) in try Self.samples(perKind: 40) {
            #expect(message.kind == kind)
            let bytes = WireCodec.encode(message)
            #expect(bytes == message.canonicalBytes)
            let decoded = try WireCodec.decode(bytes)
            #expect(decoded == message, "\(kind)")
            #expect(decoded.kind == kind)
            // Equality of PeerAddress ignores the endpoint: compare bytes too.
            #expect(WireCodec.encode(decoded) == bytes, "\(kind)")
        }
    }

    /// The peek at chunk frames finds exactly the chunks, whatever else a
    /// frame is, and nothing in a cut-short chunk frame.
    @Test func snapshotChunkPeeksOnlyAtChunks() throws {
        for (kind, message) in try Self.samples(perKind: 20) {
            let bytes = WireCodec.encode(message)
            let peeked = WireCodec.snapshotChunk(in: bytes)
            if case .space(_, .snapshot(.chunk(let id, let compressed))) = message {
                #expect(peeked?.id == id && peeked?.compressed == compressed)
                #expect(WireCodec.snapshotChunk(in: Array(bytes.dropLast())) == nil)
            } else {
                #expect(peeked == nil, "\(kind)")
            }
        }
    }

    @Test func kindsHaveDistinctNames() {
        #expect(Set(WireMessageKind.allCases.map(\.rawValue)).count == WireMessageKind.allCases.count)
        #expect(WireMessage.ping(nonce: 1).kind.description == "ping")
        #expect(WireMessage.space(space, .sync(.frontier(Frontier()))).kind.description == "sync.frontier")
    }

    @Test func everyTruncationFailsAsTruncated() throws {
        for (kind, message) in try Self.samples(perKind: 6, maxBytes: 12) {
            let bytes = WireCodec.encode(message)
            for cut in 0..<bytes.count {
                #expect(malformedCode(Array(bytes[0..<cut])) == .truncated, "\(kind) cut at \(cut) of \(bytes.count)")
            }
        }
    }

    @Test func trailingBytesAreRejected() throws {
        for (kind, message) in try Self.samples(perKind: 2) {
            #expect(malformedCode(WireCodec.encode(message) + [0]) == .trailingBytes, "\(kind)")
        }
    }

    /// Any change to a frame either fails with a typed error or decodes to a
    /// message that encodes back to the changed bytes: one encoding per value.
    @Test func changedBytesFailOrStayCanonical() throws {
        var rng = SplitMix64(seed: 0xC0DEC)
        var decodedChanges = 0
        func check(_ changed: [UInt8], _ what: @autoclosure () -> String) {
            guard let decoded = try? WireCodec.decode(changed) else { return }
            decodedChanges += 1
            #expect(WireCodec.encode(decoded) == changed, "\(what()): a changed frame decoded to a non-canonical form")
        }
        for (kind, message) in try Self.samples(perKind: 3, maxBytes: 8) {
            let bytes = WireCodec.encode(message)
            // Every position, set to each boundary value of tags, booleans and varints.
            for index in bytes.indices {
                for value: UInt8 in [0x00, 0x01, 0x02, 0x7F, 0x80, 0x81, 0xFF, bytes[index] ^ 0x01, bytes[index] ^ 0x80] {
                    var changed = bytes
                    changed[index] = value
                    check(changed, "\(kind), byte \(index) set to \(value)")
                }
            }
            // Bytes dropped and inserted anywhere.
            for _ in 0..<40 {
                var changed = bytes
                if rng.below(2) == 0 {
                    changed.remove(at: rng.below(changed.count))
                } else {
                    changed.insert(UInt8(truncatingIfNeeded: rng.next()), at: rng.below(changed.count + 1))
                }
                check(changed, "\(kind), resized")
            }
        }
        // Most changes land in keys, hashes and payloads and still decode.
        #expect(decodedChanges > 5000)
    }

    // MARK: Golden bytes (docs/PROTOCOL.md)

    @Test func goldenBytes() {
        let keyBytes = [UInt8](repeating: 0x11, count: 32)
        #expect(WireCodec.encode(.ping(nonce: 300)) == [0x02, 0xAC, 0x02])
        #expect(WireCodec.encode(.pong(nonce: 0)) == [0x03, 0x00])
        #expect(WireCodec.encode(.hello(Hello(address: PeerAddress(node: key, endpoint: "h:1"))))
            == [0x01, 0x01] + keyBytes + [0x03, 0x68, 0x3A, 0x31])
        #expect(WireCodec.encode(.close(space, reason: .badProof)) == [0x05] + spaceBytes + [0x02])
        #expect(WireCodec.encode(.space(space, .overlay(.neighbor(highPriority: true)))) == [0x06] + spaceBytes + [0x01, 0x03, 0x01])
        #expect(WireCodec.encode(.space(space, .broadcast(.prune))) == [0x06] + spaceBytes + [0x02, 0x04])
        #expect(WireCodec.encode(.space(space, .broadcast(.graft(id: BroadcastID(feed: key, seq: 7), round: 200))))
            == [0x06] + spaceBytes + [0x02, 0x03] + keyBytes + [0x07, 0xC8, 0x01])
        #expect(WireCodec.encode(.space(space, .sync(.unavailable(FeedRangeRequest(feed: key, after: 5, through: 9), reason: .pruned(through: 4)))))
            == [0x06] + spaceBytes + [0x03, 0x04] + keyBytes + [0x05, 0x09, 0x01, 0x04])
        #expect(WireCodec.encode(.space(space, .snapshot(.attestations([[0xAA], [0xBB, 0xCC]]))))
            == [0x06] + spaceBytes + [0x04, 0x08, 0x02, 0x01, 0xAA, 0x02, 0xBB, 0xCC])
    }

    // MARK: Rejections

    @Test func unknownTypesAtEveryLevel() {
        #expect(wireError([0x00])?.code == .unknownMessage(field: "message", tag: 0))
        #expect(wireError([0x07])?.code == .unknownMessage(field: "message", tag: 7))
        #expect(wireError([0x06] + spaceBytes + [0x06])?.code == .unknownMessage(field: "space", tag: 6))
        #expect(wireError([0x06] + spaceBytes + [0x01, 0x08])?.code == .unknownMessage(field: "overlay", tag: 8))
        #expect(wireError([0x06] + spaceBytes + [0x02, 0x05])?.code == .unknownMessage(field: "broadcast", tag: 5))
        #expect(wireError([0x06] + spaceBytes + [0x03, 0x00])?.code == .unknownMessage(field: "sync", tag: 0))
        #expect(wireError([0x06] + spaceBytes + [0x04, 0x0a])?.code == .unknownMessage(field: "snapshot", tag: 10))
        #expect(wireError([0x06] + spaceBytes + [0x05, 0x03])?.code == .unknownMessage(field: "evidence", tag: 3))
    }

    @Test func outOfRangeValuesAreInvalid() {
        let keyBytes = [UInt8](repeating: 0x11, count: 32)
        // Close reasons are 1...5, booleans 0 or 1, unavailable reasons 1...3.
        #expect(malformedCode([0x05] + spaceBytes + [0x00]) == .invalidValue)
        #expect(malformedCode([0x05] + spaceBytes + [0x06]) == .invalidValue)
        #expect(malformedCode([0x06] + spaceBytes + [0x01, 0x04, 0x02]) == .invalidValue)
        #expect(malformedCode([0x06] + spaceBytes + [0x03, 0x04] + keyBytes + [0x01, 0x02, 0x04]) == .invalidValue)
        // A request must ask for at least one entry; a gossiped batch ends after `after`.
        #expect(malformedCode([0x06] + spaceBytes + [0x03, 0x02] + keyBytes + [0x05, 0x05]) == .invalidValue)
        #expect(malformedCode([0x06] + spaceBytes + [0x02, 0x01] + keyBytes + [0x07, 0x00, 0x07, 0x01, 0xAA]) == .invalidValue)
        // Broadcast items name seq ≥ 1; a round fits 16 bits.
        #expect(malformedCode([0x06] + spaceBytes + [0x02, 0x03] + keyBytes + [0x00, 0x00]) == .invalidValue)
        #expect(malformedCode([0x06] + spaceBytes + [0x02, 0x03] + keyBytes + [0x01, 0x80, 0x80, 0x04]) == .invalidValue)
        // Endpoints are UTF-8.
        #expect(malformedCode([0x01, 0x01] + keyBytes + [0x02, 0xC3, 0x28]) == .invalidValue)
    }

    @Test func nonMinimalVarintsAreRejected() {
        #expect(malformedCode([0x02, 0x80, 0x00]) == .nonCanonicalVarint)
        #expect(malformedCode([0x02, 0xAC, 0x82, 0x00]) == .nonCanonicalVarint)
        // A length written in two bytes.
        #expect(malformedCode([0x06] + spaceBytes + [0x04, 0x04, 0x81, 0x00, 0xAA]) == .nonCanonicalVarint)
    }

    @Test func emptyListsAndStringsWhereNotAllowed() {
        for body: [UInt8] in [[0x02, 0x02, 0x00], [0x04, 0x05, 0x00], [0x04, 0x08, 0x00], [0x04, 0x04, 0x00],
                              [0x04, 0x08, 0x01, 0x00, 0x00], [0x05, 0x02, 0x00]] {
            #expect(malformedCode([0x06] + spaceBytes + body) == .invalidValue, "\(body)")
        }
        // Empty offers, shuffles, frontiers and endpoints are meaningful.
        #expect(wireError([0x06] + spaceBytes + [0x04, 0x02, 0x00]) == nil)
        #expect(wireError([0x06] + spaceBytes + [0x01, 0x07, 0x00]) == nil)
        #expect(wireError([0x06] + spaceBytes + [0x03, 0x01, 0x00]) == nil)
    }

    @Test func helloOfAnotherVersionIsUnsupported() {
        #expect(wireError([0x01, 0x02])?.code == .unsupportedVersion(2))
        #expect(wireError([0x01, 0x00, 0xFF])?.code == .unsupportedVersion(0))
        #expect(malformedCode([0x01, 0x80, 0x80, 0x04]) == .invalidValue)
    }

    // MARK: Limits

    @Test func listsOverTheirLimitAreTooMany() throws {
        var samples = WireSamples(seed: 9)
        let limits = WireLimits.default
        let cases: [(WireMessage, String, Int)] = [
            (.space(space, .overlay(.shuffle(origin: samples.peer(), ttl: 3, peers: (0...32).map { _ in samples.peer() }))),
             "shuffle.peers", limits.maxShufflePeers),
            (.space(space, .overlay(.shuffleReply(peers: (0...32).map { _ in samples.peer() }))), "shuffleReply.peers", limits.maxShufflePeers),
            (.space(space, .broadcast(.ihave((0...256).map { _ in Announcement(id: samples.broadcastID(), round: 1) }))),
             "ihave.announcements", limits.maxAnnouncements),
            (.space(space, .snapshot(.requestChunks((0...256).map { _ in samples.hash() }))), "requestChunks.ids", limits.maxChunkRequests),
            (.space(space, .snapshot(.attestations((0...64).map { _ in [1] }))), "attestations", limits.maxAttestations),
            (.space(space, .snapshot(.offers((0...32).map { _ in samples.offer() }))), "offers", limits.maxOffers),
        ]
        for (message, field, limit) in cases {
            #expect(wireError(WireCodec.encode(message))?.code == .tooMany(field: field, count: limit + 1, limit: limit))
        }
        var small = WireLimits()
        small.maxFrontierFeeds = 2
        let frontier = WireMessage.space(space, .sync(.frontier(Frontier([
            samples.key(): FeedAnchor(seq: 1, hash: samples.hash()), samples.key(): FeedAnchor(seq: 2, hash: samples.hash()),
            samples.key(): FeedAnchor(seq: 3, hash: samples.hash()),
        ]))))
        #expect(wireError(WireCodec.encode(frontier), limits: small)?.code == .tooMany(field: "frontier.count", count: 3, limit: 2))
        #expect(wireError(WireCodec.encode(frontier)) == nil)
    }

    @Test func byteStringsOverTheirLimitAreTooLarge() {
        var limits = WireLimits()
        limits.maxRangeBytes = 10
        limits.maxChunkBytes = 10
        limits.maxManifestBytes = 10
        limits.maxAttestationBytes = 10
        let eleven = [UInt8](repeating: 7, count: 11)
        let cases: [(WireMessage, String)] = [
            (.space(space, .broadcast(.gossip(id: BroadcastID(feed: key, seq: 2), round: 0, after: 1, range: eleven))), "gossip.range"),
            (.space(space, .sync(.range(feed: key, after: 1, range: eleven))), "range.bytes"),
            (.space(space, .snapshot(.chunk(id: space.hash, compressed: eleven))), "chunk.compressed"),
            (.space(space, .snapshot(.manifest(eleven))), "manifest"),
            (.space(space, .snapshot(.attestations([[1], eleven]))), "attestation"),
            (.space(space, .evidence(.snapshotFraud(manifest: eleven))), "snapshotFraud.manifest"),
        ]
        for (message, field) in cases {
            let bytes = WireCodec.encode(message)
            #expect(wireError(bytes, limits: limits)?.code == .tooLarge(field: field, size: 11, limit: 10))
            #expect(wireError(bytes) == nil)
        }
        let endpoint = String(repeating: "e", count: 256)
        #expect(wireError(WireCodec.encode(.hello(Hello(address: PeerAddress(node: key, endpoint: endpoint)))))?.code
            == .tooLarge(field: "hello.endpoint", size: 256, limit: 255))
    }

    @Test func frameOverTheLimitIsRejectedUnread() {
        var limits = WireLimits()
        limits.maxFrameBytes = 40
        let message = WireMessage.space(space, .snapshot(.manifest([1, 2, 3, 4, 5, 6, 7])))
        let bytes = WireCodec.encode(message)
        #expect(bytes.count == 43)
        #expect(wireError(bytes, limits: limits)?.code == .frameTooLarge(size: 43, limit: 40))
        // Even garbage: the size is checked before the first byte is read.
        #expect(wireError([UInt8](repeating: 0xFF, count: 41), limits: limits)?.code == .frameTooLarge(size: 41, limit: 40))
        limits.maxFrameBytes = 43
        #expect(wireError(bytes, limits: limits) == nil)
    }

    /// Counts and lengths that claim more than the frame holds fail before
    /// anything is allocated for them.
    @Test func lyingLengthsAreTruncated() {
        let header = [0x06] + spaceBytes
        // 32 peers claimed (within the limit), none present.
        #expect(malformedCode(header + [0x01, 0x07, 0x20]) == .truncated)
        // A chunk of 2^24 bytes claimed, four present.
        #expect(malformedCode(header + [0x04, 0x06] + spaceBytes + [0x80, 0x80, 0x80, 0x08, 1, 2, 3, 4]) == .truncated)
        // A count of 2^63: over the limit, reported without allocation.
        let huge: [UInt8] = [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]
        #expect(wireError(header + [0x04, 0x05] + huge)?.code == .tooMany(field: "requestChunks.ids", count: Int.max, limit: 256))
        #expect(wireError(header + [0x04, 0x04] + huge)?.code == .tooLarge(field: "manifest", size: Int.max, limit: 16 << 20))
    }

    /// The defaults carry the largest chunk the snapshot layer allows, and a
    /// range holding the largest entry.
    @Test func defaultsCarryTheLargestLegalPayloads() throws {
        let chunk = WireMessage.space(space, .snapshot(.chunk(id: space.hash, compressed: [UInt8](repeating: 1, count: WireLimits.default.maxChunkBytes))))
        #expect(try WireCodec.decode(WireCodec.encode(chunk)) == chunk)
        // SignedHead (≤ 138) ‖ varint count ‖ varint length ‖ body.
        let largestOneEntryRange = 138 + 1 + 3 + FeedLimits.maxEntryBodyBytes
        #expect(largestOneEntryRange <= WireLimits.default.maxRangeBytes)
        #expect(WireLimits.default.maxRangeBytes + 256 <= WireLimits.default.maxFrameBytes)
    }
}
