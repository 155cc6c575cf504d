import SheafCodec
import SheafCollections
import SheafCrypto
import SheafModels
import Testing

@discardableResult
private func post(_ timeline: inout Timeline, _ body: [UInt8], feed: PublicKey, seq: UInt64, lamport: UInt64) -> ApplyOutcome {
    timeline.apply(Timeline.op(body), context: EntryContext(feed: feed, seq: seq, lamport: lamport))
}

/// Feeds sorted by key bytes: `low` < `high`.
private let (low, high): (PublicKey, PublicKey) = {
    let a = Writers.alice, b = Writers.bob
    return a.raw.bytes.lexicographicallyPrecedes(b.raw.bytes) ? (a, b) : (b, a)
}()

/// A timeline of `count` events with bodies [i], lamport = i / 2 + 1 so that
/// pairs tie on Lamport time and are ordered by feed.
private func sampleTimeline(_ count: Int) -> Timeline {
    var timeline = Timeline()
    for i in (0..<count).reversed() {
        post(&timeline, [UInt8(i)], feed: i % 2 == 0 ? low : high, seq: UInt64(i / 2 + 1), lamport: UInt64(i / 2 + 1))
    }
    return timeline
}

@Suite("Timeline")
struct TimelineTests {
    @Test("events are ordered by Lamport time, then feed key, then seq")
    func ordering() {
        var timeline = Timeline()
        post(&timeline, [1], feed: high, seq: 1, lamport: 5)
        post(&timeline, [2], feed: low, seq: 9, lamport: 5)
        post(&timeline, [3], feed: low, seq: 2, lamport: 5)
        post(&timeline, [4], feed: high, seq: 7, lamport: 3)
        post(&timeline, [5], feed: low, seq: 1, lamport: 300)  // 300 > 5 numerically (big-endian key)
        post(&timeline, [6], feed: high, seq: 8, lamport: 256)
        let events = timeline.events()
        #expect(events.map(\.body) == [[4], [3], [2], [1], [6], [5]])
        #expect(events.map(\.lamport) == [3, 5, 5, 5, 256, 300])
        #expect(events.map(\.seq) == [7, 2, 9, 1, 8, 1])
        #expect(events.map(\.feed) == [high, low, low, high, high, low])
    }

    @Test("record key layout: lamport (u64 BE) ‖ feed ‖ seq (u64 BE)")
    func keyLayout() throws {
        var timeline = Timeline()
        let outcome = post(&timeline, [0xaa], feed: low, seq: 0x1122_3344_5566_7788, lamport: 0x0102_0304_0506_0708)
        let expected = RecordKey([1, 2, 3, 4, 5, 6, 7, 8] + low.raw.bytes + [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88])
        #expect(timeline.records.keys == [expected])
        #expect(outcome == .applied(changed: [expected]))
        #expect(timeline.records[expected] == [0xaa])
        let event = try #require(timeline.events().first)
        #expect(event.lamport == 0x0102_0304_0506_0708)
        #expect(event.seq == 0x1122_3344_5566_7788)
        #expect(event.feed == low)
    }

    @Test("events(after:limit:) pages through the timeline")
    func paging() throws {
        let timeline = sampleTimeline(23)
        let all = timeline.events()
        #expect(all.map(\.body) == (0..<23).map { [UInt8($0)] })
        #expect(timeline.events(limit: 0).isEmpty)
        #expect(timeline.events(limit: 4) == Array(all.prefix(4)))
        for pageSize in [1, 3, 5, 23, 100] {
            var paged = [Timeline.Event]()
            var cursor: Timeline.Event? = nil
            for _ in 0...all.count {  // bounded: a broken cursor must fail, not hang
                let page = timeline.events(after: cursor, limit: pageSize)
                if page.isEmpty { break }
                #expect(page.count <= pageSize)
                paged += page
                cursor = page.last
            }
            #expect(paged == all, "page size \(pageSize)")
        }
        // `after` is a position: it need not be an event of this timeline.
        var between = all[4]
        between.seq += 1
        between.body = [0xee]
        #expect(timeline.events(after: between).first == all[5])
        let last = try #require(all.last)
        #expect(timeline.events(after: last).isEmpty)
    }

    @Test("latest(n) gives the newest n, oldest first")
    func latest() {
        let timeline = sampleTimeline(10)
        let all = timeline.events()
        #expect(timeline.latest(0).isEmpty)
        #expect(timeline.latest(1) == [all[9]])
        #expect(timeline.latest(3) == Array(all[7...]))
        #expect(timeline.latest(10) == all)
        #expect(timeline.latest(50) == all)
        #expect(Timeline().latest(5).isEmpty)
    }

    @Test("event size limit; empty events are fine")
    func sizeLimit() {
        var timeline = Timeline()
        #expect(!post(&timeline, [], feed: low, seq: 1, lamport: 1).isIgnored)
        #expect(!post(&timeline, Array(repeating: 7, count: Timeline.maxEventBytes), feed: low, seq: 2, lamport: 2).isIgnored)
        let before = timeline.records
        #expect(post(&timeline, Array(repeating: 7, count: Timeline.maxEventBytes + 1), feed: low, seq: 3, lamport: 3).isIgnored)
        #expect(timeline.records == before)
        #expect(timeline.events().count == 2)
    }

    @Test("init(records:) loads valid records and refuses keys of the wrong size")
    func reload() throws {
        let timeline = sampleTimeline(30)
        let loaded = try Timeline(records: timeline.records)
        #expect(loaded.events() == timeline.events())
        #expect(loaded.latest(4) == timeline.latest(4))
        for size in [0, 47, 49] {
            var bad = timeline.records
            bad.set(RecordKey(Array(repeating: 0xff, count: size)), [1])
            #expect(throws: ModelError.self, "key of \(size) bytes") { try Timeline(records: bad) }
        }
    }
}
