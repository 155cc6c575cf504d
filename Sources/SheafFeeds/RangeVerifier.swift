import SheafCodec
import SheafCrypto
import SheafParallel

/// Verifies a contiguous range of a feed from a known anchor to a signed
/// head: one signature check, then one hash per entry.
///
/// Checks, each with its own `FeedError` code: the head belongs to the
/// expected feed and its signature is canonical and valid; every body is
/// well-formed; seqs run `anchor.seq + 1, +2, ...` with no gap, duplicate or
/// reordering; each entry's `previous` is the hash of the one before (the
/// anchor's for the first); Lamport times rise; the last entry is the head.
public enum RangeVerifier {
    /// Above this many entries the hashing is spread over the machine's cores;
    /// the chain checks stay sequential.
    public static let parallelThreshold = 16_384

    /// Verifies entries held in memory (e.g. built locally or decoded earlier).
    public static func verify(_ entries: [Entry], from anchor: FeedAnchor, to head: SignedHead,
                              feed: PublicKey, workers: Int? = nil) throws(FeedError) -> VerifiedBatch {
        var writer = ByteWriter(capacity: entries.reduce(0) { $0 + $1.payload.count + 64 })
        var ranges = [Range<Int>]()
        ranges.reserveCapacity(entries.count)
        for entry in entries {
            guard entry.feed == feed else { throw FeedError(.wrongFeed(expected: feed, found: entry.feed)) }
            let start = writer.count
            entry.encodeBody(into: &writer)
            ranges.append(start..<writer.count)
        }
        return try verify(buffer: writer.bytes, bodyRanges: ranges, from: anchor, to: head, feed: feed, workers: workers)
    }

    /// Verifies an encoded range (see `EncodedRange`) as received from a peer.
    /// `workers` caps the threads used for hashing (default: one per core).
    public static func verify(encodedRange bytes: [UInt8], from anchor: FeedAnchor, feed: PublicKey,
                              maxEntries: Int = FeedLimits.maxRangeEntries, workers: Int? = nil) throws(FeedError) -> VerifiedBatch {
        let head: SignedHead
        let ranges: [Range<Int>]
        do { (head, ranges) = try EncodedRange.parse(bytes, maxEntries: maxEntries) } catch {
            throw FeedError(.malformed(error))
        }
        return try verify(buffer: bytes, bodyRanges: ranges, from: anchor, to: head, feed: feed, workers: workers)
    }

    /// The core check over bodies laid out in `buffer`.
    static func verify(buffer: [UInt8], bodyRanges: [Range<Int>], from anchor: FeedAnchor,
                       to head: SignedHead, feed: PublicKey, workers: Int?) throws(FeedError) -> VerifiedBatch {
        guard head.feed == feed else { throw FeedError(.wrongFeed(expected: feed, found: head.feed)) }
        guard !bodyRanges.isEmpty else { throw FeedError(.emptyRange) }
        // No entry can follow seq 2^64 - 1.
        guard anchor.seq < UInt64.max - UInt64(bodyRanges.count) else { throw FeedError(.headMismatch(seq: head.seq)) }
        try head.verify()

        let hashes = hashBodies(buffer, bodyRanges, workers: workers ?? Parallel.processorCount)
        var expectedSeq = anchor.seq + 1
        var previous = anchor.hash
        var lastLamport: UInt64 = 0
        for (index, range) in bodyRanges.enumerated() {
            var reader = ByteReader(buffer, range: range)
            let header: EntryHeader
            do { header = try EntryHeader.scan(&reader) } catch { throw FeedError(.malformed(error)) }
            if header.seq != expectedSeq {
                throw seqError(expected: expectedSeq, found: header.seq, later: bodyRanges[(index + 1)...], buffer)
            }
            guard header.previous == previous else { throw FeedError(.wrongPrevious(seq: header.seq)) }
            guard header.lamport > lastLamport else { throw FeedError(.lamportRegression(seq: header.seq)) }
            lastLamport = header.lamport
            previous = hashes[index]
            expectedSeq += 1
        }
        guard expectedSeq - 1 == head.seq, previous == head.hash else {
            throw FeedError(.headMismatch(seq: head.seq))
        }
        return VerifiedBatch(anchor: anchor, head: head, buffer: buffer, bodyRanges: bodyRanges)
    }

    /// Hashes every body; in parallel for long ranges.
    static func hashBodies(_ buffer: [UInt8], _ ranges: [Range<Int>], workers: Int) -> [Hash] {
        let lanes = ranges.count < parallelThreshold ? 1 : min(8, workers)
        return Parallel.map(ranges.count, lanes: lanes) { i in
            buffer.withUnsafeBytes { Hash.of(UnsafeRawBufferPointer(rebasing: $0[ranges[i]]), domain: FeedDomains.entry) }
        }
    }

    /// Names what is wrong when a seq is not the one expected.
    private static func seqError(expected: UInt64, found: UInt64, later: ArraySlice<Range<Int>>,
                                 _ buffer: [UInt8]) -> FeedError {
        if found < expected { return FeedError(.duplicate(seq: found)) }
        // A later entry carrying the missing seq means the range was reordered.
        for range in later {
            var reader = ByteReader(buffer, range: range)
            if let seq = try? reader.readVarint("entry.seq"), seq == expected {
                return FeedError(.outOfOrder(expected: expected, found: found))
            }
        }
        return FeedError(.gap(expected: expected, found: found))
    }
}
