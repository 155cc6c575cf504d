import SheafCodec
import SheafCrypto

/// Proof that a writer signed two different entries at the same seq.
///
/// Anyone can check it with the writer's public key alone, so it can be
/// stored and gossiped: every node that verifies it stops accepting the feed.
/// The two heads are kept in hash order, so a fork has one canonical proof.
public struct ForkProof: Hashable, Sendable {
    public let first: SignedHead
    public let second: SignedHead

    public var feed: PublicKey { first.feed }
    public var seq: UInt64 { first.seq }

    /// Builds a proof from two heads; fails unless both verify and disagree.
    public init(_ a: SignedHead, _ b: SignedHead) throws(FeedError) {
        try Self.checkShape(a, b)
        try a.verify()
        try b.verify()
        (first, second) = a.hash < b.hash ? (a, b) : (b, a)
    }

    private static func checkShape(_ a: SignedHead, _ b: SignedHead) throws(FeedError) {
        guard a.feed == b.feed else { throw FeedError(.notAFork("heads of different feeds")) }
        guard a.seq == b.seq else { throw FeedError(.notAFork("heads at different seqs")) }
        guard a.hash != b.hash else { throw FeedError(.notAFork("heads agree")) }
    }

    /// Re-checks both signatures (after decoding from an untrusted peer).
    public func verify() throws(FeedError) {
        try first.verify()
        try second.verify()
    }
}

/// Layout: feed (32) ‖ seq ‖ first hash ‖ first signature ‖ second hash ‖
/// second signature, with first hash < second hash. Decoding checks the shape;
/// `verify()` checks the signatures.
extension ForkProof: CanonicalCodable {
    public func encode(into writer: inout ByteWriter) {
        first.feed.encode(into: &writer)
        writer.writeVarint(first.seq)
        first.hash.encode(into: &writer)
        first.signature.encode(into: &writer)
        second.hash.encode(into: &writer)
        second.signature.encode(into: &writer)
    }

    public init(from reader: inout ByteReader) throws(DecodingError) {
        let feed = try PublicKey(from: &reader)
        let seq = try reader.readVarint("fork.seq", in: 1...UInt64.max)
        let h1 = try Hash(from: &reader)
        let s1 = try Signature(from: &reader)
        let offset = reader.offset
        let h2 = try Hash(from: &reader)
        let s2 = try Signature(from: &reader)
        guard h1 < h2 else {
            throw DecodingError(.notCanonical, at: offset, field: "fork.second.hash",
                                detail: "hashes must differ and ascend")
        }
        first = SignedHead(feed: feed, seq: seq, hash: h1, signature: s1)
        second = SignedHead(feed: feed, seq: seq, hash: h2, signature: s2)
    }
}
