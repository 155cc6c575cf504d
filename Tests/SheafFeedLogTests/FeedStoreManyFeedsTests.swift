import SheafCrypto
import SheafFeedLog
import SheafFeeds
import SheafFiles
import Testing

@Suite("FeedStore with many feeds")
struct FeedStoreManyFeedsTests {
    @Test("200 feeds share at most maxOpenFiles descriptors")
    func manyFeedsFewDescriptors() throws {
        try withTemporaryDirectory { dir in
            let maxOpen = 4
            let options = FeedStore.Options(durability: .none, segmentBytes: 4096, maxOpenFiles: maxOpen)
            var models = (0..<200).map { FeedModel(keyPair: testKeyPair(1_000 + $0)) }
            var mostOpen = 0
            do {
                let store = try FeedStore(directory: dir, options: options)
                defer { store.close() }
                // Round-robin appends; payloads large enough that some feeds
                // roll over into a second segment.
                for round in 0..<4 {
                    for i in models.indices {
                        let log = try store.log(models[i].feed)
                        try models[i].append(1 + (i + round) % 3, payloadBytes: i % 7 == 0 ? 900 : 16, to: log)
                        // No descriptor is leased between calls, so the pool is within capacity.
                        mostOpen = max(mostOpen, store.openDescriptors)
                    }
                }
                #expect(models.contains { $0.entries.count > 0 })
                for model in models {
                    let log = try store.log(model.feed)
                    try expectLog(log, holds: model.entries, heads: model.heads)
                    mostOpen = max(mostOpen, store.openDescriptors)
                }
                #expect(try store.log(models[0].feed).segmentCount > 1)
                #expect(try store.storedFeeds().count == models.count)
            }
            #expect(mostOpen <= maxOpen)
            #expect(mostOpen > 0)

            // Reopen: every log is recovered from disk, still within the limit.
            let store = try FeedStore(directory: dir, options: options)
            defer { store.close() }
            for i in models.indices where i % 2 == 0 {
                let log = try store.log(models[i].feed)
                #expect(log.recovery == nil)
                try models[i].append(2, to: log)
                #expect(store.openDescriptors <= maxOpen)
            }
            for model in models {
                try expectLog(try store.log(model.feed), holds: model.entries, heads: model.heads)
                #expect(store.openDescriptors <= maxOpen)
            }
            store.close()
            #expect(store.openDescriptors == 0)
        }
    }
}

@Suite("FeedStore opening many logs at once")
struct FeedStoreLogsTests {
    /// New directories are made side by side, existing logs keep their
    /// entries, and each log is the one `log(_:)` returns afterwards.
    @Test("logs(_:) opens new and existing feeds alike")
    func opensManyAtOnce() throws {
        try withTemporaryDirectory { dir in
            var models = (0..<12).map { FeedModel(keyPair: testKeyPair(2_000 + $0)) }
            let store = try FeedStore(directory: dir, options: FeedStore.Options(durability: .fsync, segmentBytes: 4096))
            defer { store.close() }
            try models[0].append(3, payloadBytes: 20, to: try store.log(models[0].feed))
            let logs = try store.logs(models.map(\.feed))
            #expect(logs.count == models.count)
            for model in models {
                let log = try #require(logs[model.feed])
                #expect(log === (try store.log(model.feed)))
                #expect(Directory.exists(Path.join(Path.join(dir, "feeds"), model.feed.hex)))
            }
            #expect(logs[models[0].feed]?.length == 3)
            #expect(logs[models[1].feed]?.length == 0)
            try models[5].append(2, payloadBytes: 20, to: try #require(logs[models[5].feed]))
            try expectLog(try store.log(models[5].feed), holds: models[5].entries, heads: models[5].heads)
        }
    }
}
