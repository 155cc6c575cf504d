import SheafCrypto
import SheafFeedLog
import SheafFeeds
import SheafFiles
import Testing

@Suite("FeedLog concurrent use")
struct FeedLogConcurrencyTests {
    @Test("readers see consistent prefixes while a writer appends across segments")
    func readersDuringAppends() async throws {
        let dir = try makeTemporaryDirectory()
        defer { try? Directory.removeTree(dir) }
        let store = try FeedStore(directory: dir, options: .init(durability: .none, segmentBytes: 4096, maxOpenFiles: 2))
        defer { store.close() }

        // Signed up front, so readers can compare against the final model.
        var model = FeedModel(keyPair: testKeyPair(70))
        let batches = try (0..<40).map { b in
            try model.sign(testDrafts(batch: b, count: 1 + b % 4, payloadBytes: { _ in 80 }))
        }
        let entries = model.entries
        let heads = model.heads
        let log = try store.log(model.feed)

        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for batch in batches { try log.append(batch) }
            }
            for reader in 0..<3 {
                group.addTask {
                    var reads = 0
                    while reads < 40 {
                        let latest = log.latestHead
                        let length = log.length
                        // The head read first is never ahead of the length read after.
                        if let latest { #expect(latest.seq <= length) }
                        if length > 0 {
                            let from = UInt64(reader) % length + 1
                            let read = try log.entries(from: from, through: length)
                            #expect(read == Array(entries[Int(from - 1)..<Int(length)]))
                        }
                        if let latest {
                            #expect(heads.contains(latest))
                            let range = try log.range(after: 0, through: latest.seq)
                            #expect(range.head == latest)
                            #expect(range.count == Int(latest.seq))
                        }
                        reads += 1
                        await Task.yield()
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(store.openDescriptors <= 2)
        try expectLog(log, holds: entries, heads: heads)
    }
}
