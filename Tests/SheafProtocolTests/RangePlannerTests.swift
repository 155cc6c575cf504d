import SheafCrypto
import SheafFeeds
import Testing

@testable import SheafProtocol

@Suite struct RangePlannerTests {
    let p = testKey(1), q = testKey(2), r = testKey(3)
    let feedA = testKey(10), feedB = testKey(11)

    /// A frontier holding `seqs` of the given feeds (hashes are irrelevant to planning).
    func frontier(_ seqs: [PublicKey: UInt64]) -> Frontier {
        Frontier(seqs.mapValues { FeedAnchor(seq: $0, hash: testHash($0)) })
    }

    func plan(_ planner: inout RangePlanner, stored: [PublicKey: UInt64] = [:], allowed: Set<PublicKey>? = nil,
              maxEntries: Int = 100, window: Int = 4) -> [RangePlanner.Outstanding] {
        planner.plan(stored: frontier(stored), allowed: { allowed?.contains($0) ?? true }, maxEntries: maxEntries, window: window)
    }

    @Test func oneRequestPerFeedUntilItEnds() throws {
        var planner = RangePlanner()
        planner.heard(frontier([feedA: 10, feedB: 5]), from: p)
        planner.heard(frontier([feedA: 10]), from: q)
        let first = plan(&planner)
        #expect(first.map(\.request.feed).sorted() == [feedA, feedB].sorted())
        #expect(first.allSatisfy { $0.request.after == 0 })
        #expect(first.first { $0.request.feed == feedB }?.request.through == 5)
        #expect(first.first { $0.request.feed == feedB }?.peer == p)
        // Nothing more while both are in flight, whoever else holds them.
        planner.heard(frontier([feedA: 30]), from: r)
        #expect(plan(&planner).isEmpty)

        let a = try #require(first.first { $0.request.feed == feedA })
        #expect(planner.outstanding[feedA] == a)
        let finished = planner.finish(feedA)
        #expect(finished == a)
        #expect(planner.outstanding[feedA] == nil)
        // Answered up to 10: the next range continues from there, from the one who holds more.
        let next = plan(&planner, stored: [feedA: 10])
        #expect(next.count == 1)
        #expect(next.first?.request == FeedRangeRequest(feed: feedA, after: 10, through: 30))
        #expect(next.first?.peer == r)
        #expect(next.first.map { $0.generation > a.generation } == true)
        // Caught up: nothing to ask.
        planner.finish(feedA)
        planner.finish(feedB)
        #expect(plan(&planner, stored: [feedA: 30, feedB: 5]).isEmpty)
    }

    @Test func picksTheLeastBusyPeerThenTheOneHoldingMost() {
        var planner = RangePlanner()
        let feeds = (0..<6).map { testKey(100 + UInt64($0)) }
        let all = Dictionary(uniqueKeysWithValues: feeds.map { ($0, UInt64(50)) })
        planner.heard(frontier(all), from: p)
        planner.heard(frontier(all), from: q)
        planner.heard(frontier(all), from: r)
        let planned = plan(&planner)
        #expect(planned.count == 6)
        // Spread evenly: two each.
        let perPeer = Dictionary(grouping: planned, by: \.peer).mapValues(\.count)
        #expect(perPeer == [p: 2, q: 2, r: 2])

        // Equally busy: the peer holding more of the feed.
        var other = RangePlanner()
        other.heard(frontier([feedA: 10]), from: p)
        other.heard(frontier([feedA: 20]), from: q)
        #expect(plan(&other).map(\.peer) == [q])
    }

    @Test func windowAndMaxEntriesBoundRequests() {
        var planner = RangePlanner()
        let feeds = (0..<6).map { testKey(200 + UInt64($0)) }
        planner.heard(frontier(Dictionary(uniqueKeysWithValues: feeds.map { ($0, UInt64(1_000)) })), from: p)
        let first = plan(&planner, maxEntries: 64, window: 4)
        #expect(first.count == 4)
        #expect(first.allSatisfy { $0.peer == p && $0.request.after == 0 && $0.request.through == 64 })
        #expect(plan(&planner, maxEntries: 64, window: 4).isEmpty)
        planner.finish(first[0].request.feed)
        let refill = plan(&planner, stored: [first[0].request.feed: 64], maxEntries: 64, window: 4)
        // Feeds are planned in key order: the freed slot goes to the first feed again, for its next range.
        #expect(first.map(\.request.feed) == Array(feeds.sorted().prefix(4)))
        #expect(refill.map(\.request) == [FeedRangeRequest(feed: first[0].request.feed, after: 64, through: 128)])
    }

    @Test func theEntryWindowHoldsBackLargeRangesNotSmallOnes() {
        var planner = RangePlanner()
        let feeds = (0..<6).map { testKey(UInt64(40 + $0)) }
        planner.heard(frontier(Dictionary(uniqueKeysWithValues: feeds.map { ($0, 1_000) })), from: p)
        // Large ranges: the first always goes, then no more than 2,000 entries in flight.
        let large = planner.plan(stored: frontier([:]), allowed: { _ in true }, maxEntries: 1_000, window: 16, entryWindow: 2_000)
        #expect(large.count == 2)
        var small = RangePlanner()
        small.heard(frontier(Dictionary(uniqueKeysWithValues: feeds.map { ($0, 10) })), from: p)
        // Small ones fill the request window.
        #expect(small.plan(stored: frontier([:]), allowed: { _ in true }, maxEntries: 1_000, window: 16, entryWindow: 2_000).count == 6)
        // An answered range frees its entries.
        planner.finish(large[0].request.feed)
        #expect(planner.plan(stored: frontier([:]), allowed: { _ in true }, maxEntries: 1_000, window: 16, entryWindow: 2_000).count == 1)
    }

    @Test func disallowedFeedsAreNotPlanned() {
        var planner = RangePlanner()
        planner.heard(frontier([feedA: 3, feedB: 3]), from: p)
        #expect(plan(&planner, allowed: [feedB]).map(\.request.feed) == [feedB])
    }

    @Test func timeoutsSteerToOtherPeersUntilHeardAgain() {
        var planner = RangePlanner()
        planner.heard(frontier([feedA: 10]), from: p)
        planner.heard(frontier([feedA: 9]), from: q)
        #expect(plan(&planner).map(\.peer) == [p])
        var timedOut = planner.timedOut(feedA)
        #expect(timedOut?.item.peer == p)
        #expect(timedOut?.repeated == false)
        timedOut = planner.timedOut(feedA)
        #expect(timedOut == nil)
        // Asked of q instead, though p holds more.
        #expect(plan(&planner).map(\.peer) == [q])
        timedOut = planner.timedOut(feedA)
        #expect(timedOut?.item.peer == q)
        // Both timed out: asked again of the one holding more, rather than
        // waiting for the next frontier; a second lapse is marked repeated.
        #expect(plan(&planner).map(\.peer) == [p])
        timedOut = planner.timedOut(feedA)
        #expect(timedOut?.item.peer == p)
        #expect(timedOut?.repeated == true)
        // q is heard from again: it is preferred to p, which is not.
        planner.heard(frontier([feedA: 9]), from: q)
        #expect(plan(&planner).map(\.peer) == [q])
    }

    @Test func unavailableRangesAreNotAskedAgainOfThatPeer() throws {
        var planner = RangePlanner()
        planner.heard(frontier([feedA: 100]), from: p)
        planner.heard(frontier([feedA: 100]), from: q)
        let first = plan(&planner)
        let asked = try #require(first.first)
        planner.finish(feedA)
        // It pruned history up to 40: a node at 0 must ask someone else.
        planner.unavailable(feedA, through: 40, at: asked.peer)
        let other = asked.peer == p ? q : p
        #expect(plan(&planner).map(\.peer) == [other])
        planner.finish(feedA)
        // The other one does not hold it at all.
        planner.unavailable(feedA, through: 100, at: other)
        #expect(plan(&planner).isEmpty)
        // From seq 40 on, the pruning peer serves again.
        #expect(plan(&planner, stored: [feedA: 40]).map(\.peer) == [asked.peer])
        planner.finish(feedA)
        // A later frontier does not make a refusal forgotten.
        planner.heard(frontier([feedA: 100]), from: other)
        #expect(plan(&planner, stored: [feedA: 39]).isEmpty)
    }

    @Test func aPeerThatLeavesIsForgotten() {
        let sorted = [feedA, feedB].sorted()
        let (first, second) = (sorted[0], sorted[1])
        var planner = RangePlanner()
        planner.heard(frontier([first: 10, second: 10]), from: p)
        planner.heard(frontier([first: 5]), from: q)
        let planned = plan(&planner)
        #expect(planned.map(\.peer) == [p, p])
        planner.peerGone(p)
        #expect(planner.peerFrontiers[p] == nil)
        #expect(planner.outstanding.isEmpty)
        // What p was asked goes to whoever else holds it.
        #expect(plan(&planner).map(\.request) == [FeedRangeRequest(feed: first, after: 0, through: 5)])
        #expect(planner.outstanding[first]?.peer == q)
    }
}
