import SheafCodec
import SheafCrypto
import SheafFeeds
import Testing

@Suite("RangeVerifier on large ranges")
struct LargeRangeTests {
    static let count = 20_000

    @Test("a range above the parallel threshold verifies, and a corruption anywhere is found")
    func largeRange() throws {
        let n = Self.count
        try #require(n > RangeVerifier.parallelThreshold)
        var writer = FeedWriter(keyPair: Fixtures.carol)
        let feed = writer.feed
        let drafts = (0..<n).map { EntryDraft(payload: [UInt8(truncatingIfNeeded: $0), 0x5A]) }
        let batch = try writer.append(drafts, timestamp: 1)
        let anchor = batch.anchor

        let verified = try RangeVerifier.verify(encodedRange: batch.encodedRange(), from: anchor, feed: feed)
        #expect(verified.count == n)
        #expect(verified.head == batch.head)
        let entries = try batch.entries()
        #expect(feedError { try RangeVerifier.verify(entries, from: anchor, to: batch.head, feed: feed) } == nil)

        // Change the last payload byte of one entry: its hash changes, so the
        // next entry's `previous` (or, for the last, the head) no longer
        // matches. With each worker count, corrupt the first and last entry
        // and the entries either side of every split between workers.
        let bodies = Fixtures.bodies(of: batch)
        for workers in [1, 2, 3, 8] {
            let valid = try RangeVerifier.verify(encodedRange: batch.encodedRange(), from: anchor, feed: feed, workers: workers)
            #expect(valid.count == n)
            let per = (n + workers - 1) / workers
            var positions = Set([0, n / 2, n - 1])
            for k in 1..<max(workers, 2) where k * per < n { positions.formUnion([k * per - 1, k * per]) }
            for i in positions.sorted() {
                var changed = bodies
                var body = Array(changed[i])
                body[body.count - 1] ^= 0x01
                changed[i] = body[...]
                var encoder = ByteWriter()
                EncodedRange.encode(head: batch.head, bodies: changed, into: &encoder)
                let code = feedError {
                    try RangeVerifier.verify(encodedRange: encoder.bytes, from: anchor, feed: feed, workers: workers)
                }?.code
                let expected: FeedError.Code = i == n - 1 ? .headMismatch(seq: UInt64(n)) : .wrongPrevious(seq: UInt64(i) + 2)
                #expect(code == expected, "corrupted entry at index \(i) with \(workers) workers")
            }
        }

        // Two entries swapped in the middle: out of order.
        var swapped = entries
        swapped.swapAt(n / 2, n / 2 + 1)
        #expect(feedError { try RangeVerifier.verify(swapped, from: anchor, to: batch.head, feed: feed, workers: 4) }?.code
            == .outOfOrder(expected: UInt64(n / 2) + 1, found: UInt64(n / 2) + 2))
    }

    @Test("ranges just below and at the threshold verify too")
    func aroundThreshold() throws {
        for n in [RangeVerifier.parallelThreshold - 1, RangeVerifier.parallelThreshold] {
            var writer = FeedWriter(keyPair: Fixtures.bob)
            let batch = try writer.append((0..<n).map { _ in EntryDraft(payload: []) }, timestamp: 2)
            let verified = try RangeVerifier.verify(encodedRange: batch.encodedRange(), from: batch.anchor, feed: writer.feed,
                                                    workers: 8)
            #expect(verified.count == n)
            // The final entry is the one the head signs: corrupt it and the head no longer matches.
            var bodies = Fixtures.bodies(of: batch)
            var last = Array(bodies[n - 1])
            last[last.count - 3] ^= 0x01  // the timestamp varint (2 = one byte), still canonical
            bodies[n - 1] = last[...]
            var encoder = ByteWriter()
            EncodedRange.encode(head: batch.head, bodies: bodies, into: &encoder)
            #expect(feedError {
                try RangeVerifier.verify(encodedRange: encoder.bytes, from: batch.anchor, feed: writer.feed, workers: 8)
            }?.code == .headMismatch(seq: UInt64(n)))
        }
    }
}
