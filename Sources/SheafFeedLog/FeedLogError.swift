import SheafCrypto
import SheafFeeds
import SheafFiles

/// Why a feed log or store operation failed.
public struct FeedLogError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: Hashable, Sendable {
        /// The operating system refused an operation.
        case io(FileError)
        /// Another process (or another store in this one) has the directory open.
        case locked(path: String)
        /// Stored bytes are damaged somewhere other than a torn tail. Nothing
        /// after this point is served until the feed is repaired from peers.
        case corrupt(feed: PublicKey, seq: UInt64, segment: String, offset: UInt64, detail: String)
        /// No entry with this seq is stored.
        case outOfRange(seq: UInt64, length: UInt64)
        /// A batch does not start right after the log's last entry.
        case doesNotContinue(expected: FeedAnchor, found: FeedAnchor)
        /// A batch or head of another feed.
        case wrongFeed(expected: PublicKey, found: PublicKey)
        /// No signed head is stored at this seq, so the range cannot be proved.
        case noSignedHead(seq: UInt64)
        /// A head that does not verify or does not match the stored entry.
        case badHead(FeedError)
        /// An earlier write or sync failed; the log must be reopened, since
        /// what reached the disk is unknown.
        case poisoned
        /// The store has been closed.
        case closed
        /// The entry was pruned by compaction (a kept snapshot covers it).
        case pruned(seq: UInt64, through: UInt64)
    }

    public let code: Code
    public init(_ code: Code) { self.code = code }

    public var description: String {
        switch code {
        case .io(let e): "I/O error: \(e)"
        case .locked(let path): "\(path) is locked by another process; is another peer running on this data directory?"
        case .corrupt(let feed, let seq, let segment, let offset, let detail):
            "feed \(feed.hex) is corrupt at seq \(seq) (\(segment) byte \(offset)): \(detail)"
        case .outOfRange(let seq, let length): "no entry \(seq): log holds 1...\(length)"
        case .doesNotContinue(let expected, let found):
            "batch continues from seq \(found.seq), log is at seq \(expected.seq)\(found.seq == expected.seq ? " with another hash" : "")"
        case .wrongFeed(let expected, let found): "batch of feed \(found) given to log of \(expected)"
        case .noSignedHead(let seq): "no signed head stored at seq \(seq)"
        case .badHead(let e): "bad head: \(e)"
        case .poisoned: "log is unusable after an earlier write failure; reopen it"
        case .closed: "store is closed"
        case .pruned(let seq, let through): "entry \(seq) was pruned by compaction (entries 1...\(through) are covered by a snapshot)"
        }
    }
}

/// What opening a log had to repair.
public struct FeedLogRecovery: Hashable, Sendable, CustomStringConvertible {
    public let feed: PublicKey
    public let segment: String
    /// Where the torn tail started, and how many bytes were cut.
    public let truncatedAt: UInt64
    public let bytesDropped: UInt64
    /// The last complete entry kept.
    public let lastSeq: UInt64

    public var description: String {
        "feed \(feed.hex.prefix(16)): dropped a torn tail of \(bytesDropped) bytes at \(Path.lastComponent(segment)):\(truncatedAt); log ends at seq \(lastSeq)"
    }
}
