import SheafCodec
import SheafCrypto
import SheafFeeds
import Testing
@_exported import SheafRandom
@_exported import SheafTestSupport

enum Fixtures {
    /// The key pair whose seed is 32 bytes drawn from `seed`: the same
    /// number always gives the same key.
    static func keyPair(_ seed: UInt64) -> KeyPair {
        var rng = SplitMix64(seed: seed)
        return KeyPair(seed: rng.bytes(32))!
    }

    static let alice = keyPair(1)
    static let bob = keyPair(2)
    static let carol = keyPair(3)

    /// Keys of feeds that entries depend on; their secrets are never needed.
    static let otherFeeds: [PublicKey] = (100..<108).map { keyPair($0).publicKey }

    /// `count` random feed keys for dependency lists (distinct in practice).
    static func dependencyFeeds(_ count: Int, seed: UInt64 = 0) -> [PublicKey] {
        var rng = SplitMix64(seed: seed)
        return (0..<count).map { _ in PublicKey(raw: Bytes32(rng.bytes(32))!) }
    }

    /// Random drafts: payloads of `payloadSizes` bytes, and now and then a few
    /// dependencies (some duplicated, some on `ownFeed`, to be normalised).
    static func drafts(count: Int, ownFeed: PublicKey, payloadSizes: ClosedRange<Int> = 0...200,
                       using rng: inout SplitMix64) -> [EntryDraft] {
        (0..<count).map { _ in
            let payload = rng.bytes(Int.random(in: payloadSizes, using: &rng))
            var deps = [Dependency]()
            if Int.random(in: 0..<3, using: &rng) == 0 {
                for _ in 0..<Int.random(in: 1...5, using: &rng) {
                    let feed = Int.random(in: 0..<6, using: &rng) == 0 ? ownFeed : otherFeeds.randomElement(using: &rng)!
                    deps.append(Dependency(feed: feed, seq: UInt64.random(in: 1...1000, using: &rng)))
                }
            }
            let observed = Bool.random(using: &rng) ? UInt64.random(in: 0...5000, using: &rng) : 0
            return EntryDraft(payload: payload, dependencies: deps, observedLamport: observed)
        }
    }

    /// Appends one batch of `count` random drafts.
    static func appendBatch(_ writer: inout FeedWriter, count: Int, payloadSizes: ClosedRange<Int> = 0...200,
                            using rng: inout SplitMix64) throws -> VerifiedBatch {
        let drafts = drafts(count: count, ownFeed: writer.feed, payloadSizes: payloadSizes, using: &rng)
        return try writer.append(drafts, timestamp: 1_700_000_000_000 + UInt64(writer.tip.seq))
    }

    /// Builds entries `anchor.seq + 1 ...` with the given Lamport times, chained
    /// by hand (not by `FeedWriter`), and signs a head at the last one, so tests
    /// can make chains a writer would refuse to make.
    static func handChain(_ keyPair: KeyPair, from anchor: FeedAnchor, lamports: [UInt64],
                          payload: (Int) -> [UInt8] = { [UInt8(truncatingIfNeeded: $0)] }) -> ([Entry], SignedHead) {
        var entries = [Entry]()
        var previous = anchor.hash
        for (i, lamport) in lamports.enumerated() {
            let entry = Entry(feed: keyPair.publicKey, seq: anchor.seq + UInt64(i) + 1, previous: previous,
                              lamport: lamport, timestamp: 42, payload: payload(i))
            entries.append(entry)
            previous = entry.hash
        }
        let head = SignedHead(signing: keyPair, seq: entries.last?.seq ?? anchor.seq, hash: previous)
        return (entries, head)
    }

    /// The wire form of `entries` under `head`, however wrong they are.
    static func encodedRange(head: SignedHead, entries: [Entry]) -> [UInt8] {
        var writer = ByteWriter()
        EncodedRange.encode(head: head, bodies: entries.map { $0.body[...] }, into: &writer)
        return writer.bytes
    }

    /// The entry bodies of a batch, as slices ready for `EncodedRange.encode`.
    static func bodies(of batch: VerifiedBatch) -> [ArraySlice<UInt8>] {
        batch.bodyRanges.map { batch.buffer[$0] }
    }
}

/// `S + L` (mod 2^256) of a signature: the same signature, malleated.
func malleate(_ signature: Signature) -> Signature {
    let order: [UInt8] = [
        0xED, 0xD3, 0xF5, 0x5C, 0x1A, 0x63, 0x12, 0x58, 0xD6, 0x9C, 0xF7, 0xA2, 0xDE, 0xF9, 0xDE, 0x14,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ]
    var s = signature.s.bytes
    var carry = 0
    for i in 0..<32 {
        let sum = Int(s[i]) + Int(order[i]) + carry
        s[i] = UInt8(sum & 0xFF)
        carry = sum >> 8
    }
    return Signature(r: signature.r, s: Bytes32(s)!)
}

/// The signature with one bit of R flipped: still canonical, no longer valid.
func flipR(_ signature: Signature, bit: Int = 0) -> Signature {
    var r = signature.r.bytes
    r[bit / 8] ^= UInt8(1) << UInt8(bit % 8)
    return Signature(r: Bytes32(r)!, s: signature.s)
}

/// Runs `body` and returns the `FeedError` it throws, or nil if it succeeds.
/// Any other error is recorded as a test failure.
func feedError<R>(_ body: () throws -> R, sourceLocation: SourceLocation = #_sourceLocation) -> FeedError? {
    do {
        _ = try body()
        return nil
    } catch let error as FeedError {
        return error
    } catch {
        Issue.record("expected a FeedError, got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// Runs `body` and returns the `DecodingError` it throws, or nil if it succeeds.
func decodingError<R>(_ body: () throws -> R, sourceLocation: SourceLocation = #_sourceLocation) -> DecodingError? {
    do {
        _ = try body()
        return nil
    } catch let error as DecodingError {
        return error
    } catch {
        Issue.record("expected a DecodingError, got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// The code of a range verification, checked through both entry points:
/// the in-memory `[Entry]` API and the wire-form `encodedRange` API. Returns
/// nil when both accept; records an issue when they disagree.
func rangeError(_ entries: [Entry], from anchor: FeedAnchor, to head: SignedHead, feed: PublicKey,
                sourceLocation: SourceLocation = #_sourceLocation) -> FeedError.Code? {
    let viaEntries = feedError({ try RangeVerifier.verify(entries, from: anchor, to: head, feed: feed) },
                               sourceLocation: sourceLocation)
    let encoded = Fixtures.encodedRange(head: head, entries: entries)
    let viaEncoded = feedError({ try RangeVerifier.verify(encodedRange: encoded, from: anchor, feed: feed) },
                               sourceLocation: sourceLocation)
    #expect(comparable(viaEntries?.code) == comparable(viaEncoded?.code), "the two APIs disagree",
            sourceLocation: sourceLocation)
    return viaEntries?.code
}

/// A code with the offset of a decoding error left out: the `[Entry]` API
/// reports offsets into the buffer it builds, the encoded API into the bytes
/// received, so only the kind and the field can agree.
private func comparable(_ code: FeedError.Code?) -> String {
    guard let code else { return "accepted" }
    if case .malformed(let error) = code { return "malformed \(error.code) in \(error.field)" }
    return "\(code)"
}
