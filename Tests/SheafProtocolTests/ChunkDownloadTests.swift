import SheafCrypto
import SheafFeeds
import SheafSnapshots
import Testing

@testable import SheafProtocol

@Suite struct ChunkDownloadTests {
    let p = testKey(1), q = testKey(2)
    let space = testKeyPair(seed: 500)

    func snapshot(records: Int = 240) throws -> TestSnapshot {
        let frontier = Frontier([space.publicKey: FeedAnchor(seq: 9, hash: testHash(9))])
        let snapshot = try TestSnapshot(records: records, space: space.publicKey, signer: space, frontier: frontier)
        #expect(snapshot.manifest.index.count >= 3)
        #expect(snapshot.manifest.leafCount >= 40)
        return snapshot
    }

    func ids(_ requests: [(PublicKey, [Hash])]) -> [Hash] { requests.flatMap(\.1) }

    @Test func indexChunksFirstThenTheLeavesTheyName() throws {
        let snap = try snapshot()
        var download = ChunkDownload(manifest: snap.manifest, sources: [p])
        #expect(download.chunksTotal == snap.manifest.index.count + Int(snap.manifest.leafCount))
        #expect(!download.isComplete)
        let first = download.nextRequests(now: .zero, timeout: .seconds(5), window: 1_000, perRequest: 1_000)
        // Only the index is known at first.
        #expect(ids(first) == snap.indexIDs)
        #expect(download.nextRequests(now: .zero, timeout: .seconds(5), window: 1_000, perRequest: 1_000).isEmpty)

        let index = snap.indexIDs[1]
        let outcome = download.received(index, compressed: snap.chunks[index]!, from: p, now: .zero)
        #expect(outcome.isAccepted)
        let leaves = download.nextRequests(now: .zero, timeout: .seconds(5), window: 1_000, perRequest: 1_000)
        #expect(ids(leaves) == snap.leavesOf[index])
        #expect(download.chunksDone == 1)
        #expect(download.chunks[index]?.compressed == snap.chunks[index])
        #expect(download.chunks[index]?.rawSize == snap.manifest.index[1].rawSize)
    }

    @Test func aStreamTakesEveryChunkUnaskedAndLapsesToRequests() throws {
        let snap = try snapshot()
        var download = ChunkDownload(manifest: snap.manifest, sources: [p, q])
        download.stream(from: p, now: .zero, timeout: .seconds(5))
        // Everything counts as asked of the streamer: no request goes out.
        #expect(download.nextRequests(now: .zero, timeout: .seconds(5), window: 1_000, perRequest: 64).isEmpty)
        // The stream's chunks are taken as they come, leaves once their index chunk named them.
        for index in snap.indexIDs {
            #expect(download.received(index, compressed: snap.chunks[index]!, from: p, now: .milliseconds(100)).isAccepted)
        }
        #expect(download.nextRequests(now: .milliseconds(100), timeout: .seconds(5), window: 1_000, perRequest: 64).isEmpty)
        let leaves = snap.indexIDs.flatMap { snap.leavesOf[$0] ?? [] }
        let half = leaves.count / 2
        for leaf in leaves.prefix(half) {
            #expect(download.received(leaf, compressed: snap.chunks[leaf]!, from: p, now: .seconds(1)).isAccepted)
        }
        // Progress keeps the stream alive; silence past the timeout ends it.
        #expect(download.expire(now: .seconds(5)).isEmpty)
        #expect(download.expire(now: .seconds(6)) == [p])
        #expect(download.streamer == nil)
        // What it still owed is asked of the other source, in windows.
        let asked = download.nextRequests(now: .seconds(6), timeout: .seconds(5), window: 1_000, perRequest: 64)
        #expect(Set(asked.map(\.0)) == [q])
        #expect(Set(ids(asked)) == Set(leaves.dropFirst(half)))
        for leaf in ids(asked) {
            #expect(download.received(leaf, compressed: snap.chunks[leaf]!, from: q, now: .seconds(7)).isAccepted)
        }
        #expect(download.isComplete)
    }

    @Test func windowsPerPeerAndRequestSize() throws {
        let snap = try snapshot()
        let count = snap.manifest.index.count
        var download = ChunkDownload(manifest: snap.manifest, sources: [p, q])
        let requests = download.nextRequests(now: .zero, timeout: .seconds(5), window: 1, perRequest: 10)
        // One chunk per peer in flight.
        #expect(requests.count == 2)
        #expect(Set(requests.map(\.0)) == [p, q])
        #expect(requests.allSatisfy { $0.1.count == 1 })
        #expect(download.nextRequests(now: .zero, timeout: .seconds(5), window: 1, perRequest: 10).isEmpty)

        // A larger window: split into messages of `perRequest` ids, spread evenly.
        var wide = ChunkDownload(manifest: snap.manifest, sources: [p, q])
        let spread = wide.nextRequests(now: .zero, timeout: .seconds(5), window: 100, perRequest: 1)
        #expect(spread.count == count)
        #expect(spread.allSatisfy { $0.1.count == 1 })
        let perPeer = Dictionary(grouping: spread, by: \.0).mapValues(\.count)
        #expect(abs((perPeer[p] ?? 0) - (perPeer[q] ?? 0)) <= 1)
        #expect(Set(ids(spread)) == Set(snap.indexIDs))

        // Answers free the window.
        let (peer, asked) = requests[0]
        let outcome = download.received(asked[0], compressed: snap.chunks[asked[0]]!, from: peer, now: .zero)
        #expect(outcome.isAccepted)
        let refill = download.nextRequests(now: .zero, timeout: .seconds(5), window: 1, perRequest: 10)
        #expect(refill.map(\.0) == [peer])
    }

    @Test func badChunksAreRejectedAndAskedElsewhere() throws {
        let snap = try snapshot()
        var download = ChunkDownload(manifest: snap.manifest, sources: [p, q])
        let requests = download.nextRequests(now: .zero, timeout: .seconds(5), window: 1, perRequest: 10)
        let (peer, asked) = try #require(requests.first)
        let other = peer == p ? q : p
        let id = asked[0]
        // From someone not asked, or not asked for this chunk: ignored.
        var outcome = download.received(id, compressed: snap.chunks[id]!, from: other, now: .zero)
        #expect(outcome.isUnexpected)
        outcome = download.received(testHash(1), compressed: [1, 2, 3], from: peer, now: .zero)
        #expect(outcome.isUnexpected)
        // Another chunk's bytes: rejected.
        let wrong = snap.indexIDs.first { $0 != id }!
        outcome = download.received(id, compressed: snap.chunks[wrong]!, from: peer, now: .zero)
        #expect(outcome.isRejected)
        #expect(download.chunksDone == 0)
        // Asked again, of the other peer only.
        let retry = download.nextRequests(now: .zero, timeout: .seconds(5), window: 10, perRequest: 10)
        let retriedBy = retry.filter { $0.1.contains(id) }.map(\.0)
        #expect(retriedBy == [other])
        outcome = download.received(id, compressed: snap.chunks[id]!, from: other, now: .zero)
        #expect(outcome.isAccepted)
        // A late copy of an accepted chunk is ignored.
        outcome = download.received(id, compressed: snap.chunks[id]!, from: peer, now: .zero)
        #expect(outcome.isUnexpected)
    }

    @Test func missingChunksAreAskedElsewhere() throws {
        let snap = try snapshot()
        var download = ChunkDownload(manifest: snap.manifest, sources: [p, q])
        let (peer, asked) = try #require(download.nextRequests(now: .zero, timeout: .seconds(5), window: 1, perRequest: 1).first)
        let other = peer == p ? q : p
        var wasAsked = download.missing(asked[0], at: other)
        #expect(!wasAsked)
        wasAsked = download.missing(asked[0], at: peer)
        #expect(wasAsked)
        wasAsked = download.missing(asked[0], at: peer)
        #expect(!wasAsked)
        let retry = download.nextRequests(now: .zero, timeout: .seconds(5), window: 10, perRequest: 10)
        #expect(retry.filter { $0.1.contains(asked[0]) }.map(\.0) == [other])
    }

    @Test func lateRequestsExpireAndGoElsewhere() throws {
        let snap = try snapshot()
        var download = ChunkDownload(manifest: snap.manifest, sources: [p])
        let first = download.nextRequests(now: .zero, timeout: .seconds(5), window: 2, perRequest: 10)
        #expect(ids(first).count == 2)
        var late = download.expire(now: NodeTime(nanoseconds: 4_999_999_999))
        #expect(late.isEmpty)
        download.addSource(q)
        #expect(download.sources == [p, q].sorted())
        late = download.expire(now: .seconds(5))
        #expect(late == [p])
        let retry = download.nextRequests(now: .seconds(5), timeout: .seconds(5), window: 10, perRequest: 10)
        for id in ids(first) { #expect(retry.filter { $0.1.contains(id) }.map(\.0) == [q]) }
    }

    @Test func aBusyPeerIsWaitedForUntilItFallsSilent() throws {
        let snap = try snapshot()
        var download = ChunkDownload(manifest: snap.manifest, sources: [p, q])
        let first = download.nextRequests(now: .zero, timeout: .seconds(5), window: 2, perRequest: 10)
        #expect(Set(first.map(\.0)) == [p, q])
        // Past the deadline, p is still sending (so it is waited for, with another timeout); q is not.
        var waits: [(PublicKey, NodeTime)] = []
        let late = download.expire(now: .seconds(5), timeout: .seconds(5)) { peer, since in
            waits.append((peer, since))
            return peer == p
        }
        #expect(late == [q])
        #expect(waits.allSatisfy { $0.1 == .zero })
        #expect(download.expire(now: NodeTime(nanoseconds: 9_999_999_999), timeout: .seconds(5)).isEmpty)
        #expect(download.expire(now: .seconds(10), timeout: .seconds(5)) == [p])
    }

    @Test func aChunkEveryoneFailedIsAskedAgain() throws {
        let snap = try snapshot()
        var download = ChunkDownload(manifest: snap.manifest, sources: [p])
        let id = try #require(ids(download.nextRequests(now: .zero, timeout: .seconds(5), window: 1, perRequest: 1)).first)
        let wasAsked = download.missing(id, at: p)
        #expect(wasAsked)
        // p is the only source: rather than stall, it is asked again (in the next round at the latest).
        let again = ids(download.nextRequests(now: .zero, timeout: .seconds(5), window: 100, perRequest: 100))
            + ids(download.nextRequests(now: .zero, timeout: .seconds(5), window: 100, perRequest: 100))
        #expect(again.filter { $0 == id }.count == 1)
        #expect(!download.isStalled)
    }

    @Test func aSourceThatLeavesGivesBackItsRequests() throws {
        let snap = try snapshot()
        var download = ChunkDownload(manifest: snap.manifest, sources: [p, q])
        let requests = download.nextRequests(now: .zero, timeout: .seconds(5), window: 100, perRequest: 100)
        let fromP = requests.filter { $0.0 == p }.flatMap(\.1)
        #expect(!fromP.isEmpty)
        download.removeSource(p)
        #expect(download.sources == [q])
        let outcome = download.received(fromP[0], compressed: snap.chunks[fromP[0]]!, from: p, now: .zero)
        #expect(outcome.isUnexpected)
        let retry = download.nextRequests(now: .zero, timeout: .seconds(5), window: 100, perRequest: 100)
        #expect(Set(ids(retry)) == Set(fromP))
        #expect(retry.allSatisfy { $0.0 == q })
        download.removeSource(q)
        #expect(download.isStalled)
    }

    @Test func pushedIndexChunksAreTakenBeforeBeingAsked() throws {
        let snap = try snapshot()
        var download = ChunkDownload(manifest: snap.manifest, sources: [p])
        let pushed = snap.indexIDs[0]
        var outcome = download.provide(testHash(3), compressed: [1])
        #expect(outcome.isUnexpected)
        outcome = download.provide(pushed, compressed: snap.chunks[snap.indexIDs[1]]!)
        #expect(outcome.isRejected)
        outcome = download.provide(pushed, compressed: snap.chunks[pushed]!)
        #expect(outcome.isAccepted)
        #expect(download.chunksDone == 1)
        // Held already: not taken twice.
        outcome = download.provide(pushed, compressed: snap.chunks[pushed]!)
        #expect(outcome.isUnexpected)
        let requests = ids(download.nextRequests(now: .zero, timeout: .seconds(5), window: 1_000, perRequest: 1_000))
        #expect(!requests.contains(pushed))
        #expect(requests == Array(snap.indexIDs.dropFirst()) + snap.leavesOf[pushed]!)
    }

    @Test func completesWithEveryChunk() throws {
        let snap = try snapshot()
        var download = ChunkDownload(manifest: snap.manifest, sources: [p, q])
        var received: Set<Hash> = []
        var rounds = 0
        while !download.isComplete && rounds < 100 {
            rounds += 1
            let requests = download.nextRequests(now: .zero, timeout: .seconds(5), window: 8, perRequest: 4)
            #expect(!requests.isEmpty)
            for (peer, asked) in requests {
                #expect(asked.count <= 4)
                for id in asked {
                    // A leaf is asked only after the index chunk naming it arrived.
                    if let parent = snap.leavesOf.first(where: { $0.value.contains(id) })?.key { #expect(received.contains(parent)) }
                    let outcome = download.received(id, compressed: snap.chunks[id]!, from: peer, now: .zero)
                    #expect(outcome.isAccepted)
                    received.insert(id)
                }
            }
        }
        #expect(download.isComplete)
        #expect(!download.isStalled)
        #expect(download.chunksDone == download.chunksTotal)
        #expect(Set(download.chunks.keys) == Set(snap.chunks.keys))
        #expect(download.bytesDone == download.bytesTotal)
        #expect(download.chunks.allSatisfy { $0.value.compressed == snap.chunks[$0.key] })
        #expect(download.nextRequests(now: .zero, timeout: .seconds(5), window: 8, perRequest: 4).isEmpty)
    }

    @Test func anIndexListingMoreLeavesThanTheManifestIsRejected() throws {
        let snap = try snapshot()
        var manifest = snap.manifest
        manifest.leafCount = UInt64(snap.leavesOf[snap.indexIDs[0]]!.count - 1)
        var download = ChunkDownload(manifest: manifest, sources: [p])
        let id = snap.indexIDs[0]
        _ = download.nextRequests(now: .zero, timeout: .seconds(5), window: 100, perRequest: 100)
        let outcome = download.received(id, compressed: snap.chunks[id]!, from: p, now: .zero)
        #expect(outcome.isRejected)
    }
}
