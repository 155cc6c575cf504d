import SheafCrypto
import SheafFeeds
import SheafFiles
import SheafParallel
import Synchronization

/// All feed logs of one node under one directory, owned by one process.
///
/// ```
/// <directory>/LOCK                       exclusive flock while open
/// <directory>/feeds/<feed hex>/<seq>.seg segment files, named by first seq
/// <directory>/feeds/<feed hex>/<seq>.idx segment index checkpoints
/// ```
/// Logs share one descriptor pool, so thousands of feeds can be open while
/// at most `maxOpenFiles` descriptors are.
public final class FeedStore: Sendable {
    public struct Options: Sendable {
        public var durability: Durability
        /// A new segment starts once the active one reaches this size.
        public var segmentBytes: Int
        /// Most segment files open at once, across all feeds.
        public var maxOpenFiles: Int

        public init(durability: Durability = .fsync, segmentBytes: Int = 16 << 20, maxOpenFiles: Int = 64) {
            self.durability = durability
            self.segmentBytes = min(max(segmentBytes, 4096), 1 << 30)
            self.maxOpenFiles = max(1, maxOpenFiles)
        }
    }

    public let directory: String
    public let options: Options
    private let lock: FileLock
    private let pool: DescriptorPool
    private let logs = Mutex<[PublicKey: FeedLog]?>([:])

    /// Opens (creating if needed) and locks the store at `directory`.
    public init(directory: String, options: Options = Options()) throws(FeedLogError) {
        self.directory = directory
        self.options = options
        do {
            try Directory.create(Path.join(directory, "feeds"), durable: options.durability == .fsync)
            lock = try FileLock(path: Path.join(directory, "LOCK"))
        } catch {
            if error.code == .locked { throw FeedLogError(.locked(path: directory)) }
            throw FeedLogError(.io(error))
        }
        pool = DescriptorPool(capacity: options.maxOpenFiles)
    }

    /// The logs of `feeds`, opened at once: directories that do not exist
    /// yet are made (and synced) side by side first, so a node installing a
    /// snapshot of many feeds waits for one journal commit, not one each.
    public func logs(_ feeds: [PublicKey]) throws(FeedLogError) -> [PublicKey: FeedLog] {
        if options.durability == .fsync {
            let missing = feeds.map(feedDirectory).filter { !Directory.exists($0) }
            do { _ = try Parallel.mapWaiting(missing.count) { (i) throws(FileError) in try Directory.create(missing[i], durable: true) } } catch {
                throw FeedLogError(.io(error))
            }
        }
        var opened: [PublicKey: FeedLog] = [:]
        for feed in feeds { opened[feed] = try log(feed) }
        return opened
    }

    /// The logs of those of `feeds` that have a directory already, opened:
    /// what a snapshot must agree with before the others are made.
    public func existingLogs(_ feeds: [PublicKey]) throws(FeedLogError) -> [PublicKey: FeedLog] {
        var opened: [PublicKey: FeedLog] = [:]
        for feed in feeds where Directory.exists(feedDirectory(feed)) { opened[feed] = try log(feed) }
        return opened
    }

    /// The log of `feed`, opened (and recovered) on first use.
    public func log(_ feed: PublicKey) throws(FeedLogError) -> FeedLog {
        try logs.withLock { logs throws(FeedLogError) in
            guard var open = logs else { throw FeedLogError(.closed) }
            if let log = open[feed] { return log }
            let log = try FeedLog(feed: feed, directory: feedDirectory(feed), pool: pool, options: options)
            open[feed] = log
            logs = open
            return log
        }
    }

    /// Feeds with a directory in the store.
    public func storedFeeds() throws(FeedLogError) -> [PublicKey] {
        do {
            return try Directory.list(Path.join(directory, "feeds")).compactMap { PublicKey(hex: $0) }
        } catch { throw FeedLogError(.io(error)) }
    }

    /// Removes a feed's files. Its open log, if any, is closed first.
    public func remove(_ feed: PublicKey) throws(FeedLogError) {
        let log: FeedLog? = logs.withLock { logs in logs?.removeValue(forKey: feed) }
        log?.close()
        do {
            try Directory.removeTree(feedDirectory(feed))
            if options.durability == .fsync { try Directory.sync(Path.join(directory, "feeds")) }
        } catch { throw FeedLogError(.io(error)) }
    }

    /// Descriptors the store holds open now.
    public var openDescriptors: Int { pool.openCount }

    /// Checkpoints every log, closes every file and releases the lock.
    public func close() {
        let open: [FeedLog] = logs.withLock { logs in
            defer { logs = nil }
            return logs.map { Array($0.values) } ?? []
        }
        for log in open { log.close() }
        pool.closeAll()
        lock.release()
    }

    deinit { close() }

    private func feedDirectory(_ feed: PublicKey) -> String {
        Path.join(Path.join(directory, "feeds"), feed.hex)
    }
}
