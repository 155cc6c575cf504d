import SheafCodec
import SheafCrypto

/// A writer's signature over "my feed's entry `seq` has hash `hash`".
///
/// Writers sign once per appended batch, at its last entry. The hash chain
/// makes that one signature cover every entry before it, so a receiver checks
/// one signature and hashes the rest.
public struct SignedHead: Hashable, Sendable {
    public var feed: PublicKey
    public var seq: UInt64
    public var hash: Hash
    public var signature: Signature

    public init(feed: PublicKey, seq: UInt64, hash: Hash, signature: Signature) {
        self.feed = feed
        self.seq = seq
        self.hash = hash
        self.signature = signature
    }

    /// Signs (feed, seq, hash) with the feed's own key pair.
    public init(signing keyPair: KeyPair, seq: UInt64, hash: Hash) {
        feed = keyPair.publicKey
        self.seq = seq
        self.hash = hash
        signature = keyPair.sign(Self.signedBody(feed: feed, seq: seq, hash: hash), domain: FeedDomains.signedHead)
    }

    /// The signed bytes: feed (32) ‖ seq (u64 LE) ‖ hash (32), after the domain prefix.
    public static func signedBody(feed: PublicKey, seq: UInt64, hash: Hash) -> [UInt8] {
        var writer = ByteWriter(capacity: 72)
        feed.encode(into: &writer)
        writer.writeUInt64(seq)
        hash.encode(into: &writer)
        return writer.bytes
    }

    /// Checks the signature under `feed`.
    public func verify() throws(FeedError) {
        do {
            try feed.verify(signature, over: Self.signedBody(feed: feed, seq: seq, hash: hash), domain: FeedDomains.signedHead)
        } catch {
            switch error.code {
            case .nonCanonical: throw FeedError(.nonCanonicalSignature)
            case .invalid: throw FeedError(.badSignature)
            }
        }
    }

    public var anchor: FeedAnchor { FeedAnchor(seq: seq, hash: hash) }
}

extension SignedHead: CanonicalCodable {
    public func encode(into writer: inout ByteWriter) {
        feed.encode(into: &writer)
        writer.writeVarint(seq)
        hash.encode(into: &writer)
        signature.encode(into: &writer)
    }

    public init(from reader: inout ByteReader) throws(DecodingError) {
        feed = try PublicKey(from: &reader)
        seq = try reader.readVarint("head.seq", in: 1...UInt64.max)
        hash = try Hash(from: &reader)
        signature = try Signature(from: &reader)
    }
}

/// A verified position in a feed that later entries are checked against:
/// our own last verified entry, a frontier hash from a trusted snapshot, or
/// the feed's root (seq 0) when starting from nothing.
public struct FeedAnchor: Hashable, Sendable {
    public var seq: UInt64
    public var hash: Hash

    public init(seq: UInt64, hash: Hash) {
        self.seq = seq
        self.hash = hash
    }

    /// The position before a feed's first entry.
    public static func genesis(of feed: PublicKey) -> FeedAnchor {
        FeedAnchor(seq: 0, hash: Entry.root(of: feed))
    }
}
