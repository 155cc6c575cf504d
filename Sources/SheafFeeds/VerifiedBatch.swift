import SheafCodec
import SheafCrypto

/// Contiguous entries of one feed whose chain has been checked from a known
/// anchor up to a signed head.
///
/// Only `FeedWriter` (for entries it signs itself) and `RangeVerifier` (for
/// entries from anyone else) create values of this type, so code that takes a
/// `VerifiedBatch` (the durable log, the replica) cannot be handed unverified
/// entries by mistake.
public struct VerifiedBatch: Sendable {
    /// The position the batch continues from.
    public let anchor: FeedAnchor
    /// The signed last entry of the batch.
    public let head: SignedHead
    /// The bodies, each at `bodyRanges[i]` of `buffer`, in seq order.
    public let buffer: [UInt8]
    public let bodyRanges: [Range<Int>]

    package init(anchor: FeedAnchor, head: SignedHead, buffer: [UInt8], bodyRanges: [Range<Int>]) {
        self.anchor = anchor
        self.head = head
        self.buffer = buffer
        self.bodyRanges = bodyRanges
    }

    public var feed: PublicKey { head.feed }
    public var count: Int { bodyRanges.count }
    /// Seqs `anchor.seq + 1 ... head.seq`.
    public var seqs: ClosedRange<UInt64> { (anchor.seq + 1)...head.seq }

    public func body(at index: Int) -> ArraySlice<UInt8> { buffer[bodyRanges[index]] }

    /// Decodes the entries. The bodies were fully validated when the batch
    /// was made, so this fails only if memory was corrupted.
    public func entries() throws(DecodingError) -> [Entry] {
        var result = [Entry]()
        result.reserveCapacity(count)
        for range in bodyRanges {
            var reader = ByteReader(buffer, range: range)
            result.append(try Entry(feed: feed, body: &reader))
        }
        return result
    }

    /// The wire form of this batch: see `EncodedRange`.
    public func encodedRange() -> [UInt8] {
        var writer = ByteWriter(capacity: buffer.count + 128 + count * 3)
        EncodedRange.encode(head: head, bodies: bodyRanges.lazy.map { buffer[$0] }, into: &writer)
        return writer.bytes
    }
}

/// The wire form of a verified range: the signed head, then the bodies of
/// entries `anchor.seq + 1 ... head.seq`, each prefixed by its length.
///
/// Layout: `SignedHead ‖ varint count ‖ count × (varint length ‖ body)`.
/// The anchor is not sent: the receiver supplies the one it already trusts.
public enum EncodedRange {
    public static func encode<S: Sequence>(head: SignedHead, bodies: S, into writer: inout ByteWriter)
    where S.Element == ArraySlice<UInt8> {
        head.encode(into: &writer)
        let all = Array(bodies)
        writer.writeVarint(UInt64(all.count))
        for body in all { writer.writeLengthPrefixed(body) }
    }

    /// The signed head an encoded range ends at, read without the bodies (to
    /// compare with heads already seen before verifying anything else).
    public static func head(of bytes: [UInt8]) throws(DecodingError) -> SignedHead {
        var reader = ByteReader(bytes)
        return try SignedHead(from: &reader)
    }

    /// Splits an encoded range into its head and body ranges, bounding every
    /// count and length before use.
    static func parse(_ bytes: [UInt8], maxEntries: Int) throws(DecodingError) -> (SignedHead, [Range<Int>]) {
        var reader = ByteReader(bytes)
        let head = try SignedHead(from: &reader)
        // The smallest body is 1 + 32 + 1 + 1 + 1 + 1 = 37 bytes, plus its length.
        let count = try reader.readCount("range.count", limit: maxEntries, minElementSize: 38)
        var ranges = [Range<Int>]()
        ranges.reserveCapacity(count)
        for _ in 0..<count {
            let length = try reader.readCount("range.body.length", limit: FeedLimits.maxEntryBodyBytes)
            ranges.append(try reader.readRange("range.body", count: length))
        }
        try reader.expectEnd("range")
        return (head, ranges)
    }
}
