import PropertyBased
import SheafCodec
import SheafCrypto
import SheafFeeds
import Testing

/// A random batch of a random feed, from genesis or from a first batch's head.
private struct Scenario {
    let feed: PublicKey
    let anchor: FeedAnchor
    let batch: VerifiedBatch

    init(seed: UInt64, count: Int, midFeed: Bool) throws {
        var rng = SplitMix64(seed: seed)
        let keyPair = [Fixtures.alice, Fixtures.bob, Fixtures.carol][Int(seed % 3)]
        var writer = FeedWriter(keyPair: keyPair)
        if midFeed {
            _ = try Fixtures.appendBatch(&writer, count: Int.random(in: 1...5, using: &rng), using: &rng)
        }
        feed = keyPair.publicKey
        anchor = writer.tip
        batch = try Fixtures.appendBatch(&writer, count: count, payloadSizes: 0...200, using: &rng)
    }

    /// Where the head, the count and each length-prefixed body sit in the encoded range.
    var layout: (headEnd: Int, bodies: [(lengthAt: Int, bodyAt: Int, count: Int)]) {
        let headEnd = batch.head.canonicalBytes.count
        var at = headEnd + ByteWriter.varintSize(UInt64(batch.count))
        var bodies = [(lengthAt: Int, bodyAt: Int, count: Int)]()
        for range in batch.bodyRanges {
            let start = at + ByteWriter.varintSize(UInt64(range.count))
            bodies.append((at, start, range.count))
            at = start + range.count
        }
        return (headEnd, bodies)
    }
}

@Suite("RangeVerifier properties")
struct RangeVerifierPropertyTests {
    @Test("any single changed byte in an encoded range is rejected")
    func singleByteChange() async {
        await propertyCheck(count: 800, input: Gen.uint64(), Gen.int(in: 1...40), Gen.bool, Gen.int(in: 0...2),
                            Gen.int(in: 0...Int.max), Gen.uint8(in: 1...255)) { seed, count, midFeed, region, pick, xor throws in
            let scenario = try Scenario(seed: seed, count: count, midFeed: midFeed)
            var bytes = scenario.batch.encodedRange()
            #expect(feedError { try RangeVerifier.verify(encodedRange: bytes, from: scenario.anchor, feed: scenario.feed) } == nil)

            // Uniform positions land mostly in payloads, so two thirds of the
            // time aim at the head or at an entry's length and header fields.
            let layout = scenario.layout
            let index: Int
            switch region {
            case 0:
                index = pick % bytes.count
            case 1:
                index = pick % (layout.bodies[0].lengthAt + 1)  // head and count
            default:
                let body = layout.bodies[pick % layout.bodies.count]
                let span = (body.bodyAt - body.lengthAt) + min(body.count, 50)
                index = body.lengthAt + (pick / layout.bodies.count) % span
            }
            bytes[index] ^= xor
            let error = feedError { try RangeVerifier.verify(encodedRange: bytes, from: scenario.anchor, feed: scenario.feed) }
            #expect(error != nil, "byte \(index) of \(bytes.count) changed by xor \(xor) was accepted")
        }
    }

    @Test("dropping, duplicating or swapping entries is rejected with the matching code")
    func reorderings() async {
        await propertyCheck(count: 600, input: Gen.uint64(), Gen.int(in: 1...40), Gen.bool, Gen.int(in: 0...2),
                            Gen.int(in: 0...Int.max), Gen.int(in: 0...Int.max)) { seed, count, midFeed, operation, p, q throws in
            let scenario = try Scenario(seed: seed, count: count, midFeed: midFeed)
            let entries = try scenario.batch.entries()
            let n = entries.count
            let base = scenario.anchor.seq
            let head = scenario.batch.head
            var changed = entries
            let expected: FeedError.Code
            switch operation {
            case 2 where n >= 2:
                let i = p % n
                let j = (i + 1 + q % (n - 1)) % n
                let (lo, hi) = (min(i, j), max(i, j))
                changed.swapAt(lo, hi)
                expected = .outOfOrder(expected: base + UInt64(lo) + 1, found: base + UInt64(hi) + 1)
            case 1:
                let i = p % n
                let at = i + 1 + q % (n - i)  // anywhere after the original
                changed.insert(entries[i], at: at)
                expected = .duplicate(seq: base + UInt64(i) + 1)
            default:
                let i = p % n
                changed.remove(at: i)
                if n == 1 {
                    expected = .emptyRange
                } else if i == n - 1 {
                    expected = .headMismatch(seq: head.seq)
                } else {
                    expected = .gap(expected: base + UInt64(i) + 1, found: base + UInt64(i) + 2)
                }
            }
            #expect(rangeError(changed, from: scenario.anchor, to: head, feed: scenario.feed) == expected)
        }
    }

    @Test("any changed field of any entry is rejected")
    func fieldChange() async {
        await propertyCheck(count: 300, input: Gen.uint64(), Gen.int(in: 1...30), Gen.int(in: 0...5),
                            Gen.int(in: 0...Int.max)) { seed, count, field, pick throws in
            let scenario = try Scenario(seed: seed, count: count, midFeed: seed & 1 == 0)
            var entries = try scenario.batch.entries()
            let i = pick % entries.count
            switch field {
            case 0: entries[i].seq += 1
            case 1: entries[i].previous = Hash.of(entries[i].previous.raw.bytes, domain: FeedDomains.entry)
            case 2: entries[i].lamport += 1
            case 3: entries[i].timestamp ^= 1
            case 4: entries[i].payload.append(UInt8(truncatingIfNeeded: pick))
            default: entries[i].dependencies.append(Dependency(feed: PublicKey(raw: Bytes32([UInt8](repeating: 0xFF, count: 32))!), seq: 1))
            }
            #expect(rangeError(entries, from: scenario.anchor, to: scenario.batch.head, feed: scenario.feed) != nil,
                    "field \(field) of entry \(i) changed undetected")
        }
    }
}
