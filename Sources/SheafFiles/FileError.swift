#if canImport(Glibc)
import Glibc
#endif

/// An operating-system failure on a named file.
public struct FileError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: Hashable, Sendable {
        case open, read, write, sync, truncate, stat, lock, close, directory, remove, rename
        /// Another process (or another handle in this one) holds the lock.
        case locked
        /// The file is larger than the caller allows.
        case tooLarge
    }

    public let code: Code
    public let path: String
    /// `errno` at the failure, 0 when not from a system call.
    public let errno: Int32

    public init(_ code: Code, path: String, errno: Int32) {
        self.code = code
        self.path = path
        self.errno = errno
    }

    public var description: String {
        if code == .locked { return "\(path) is locked by another process" }
        if code == .tooLarge { return "\(path) is larger than allowed" }
        let reason = errno == 0 ? "" : ": " + String(cString: strerror(errno))
        return "\(code) \(path)\(reason)"
    }
}

/// How hard an append tries to reach the disk before it returns.
public enum Durability: String, Hashable, Sendable, CaseIterable {
    /// Data is fsynced (and the directory, for new files) before an append
    /// returns. The default: an acknowledged write survives power loss.
    case fsync
    /// No syncing: the OS writes back when it likes. For tests and
    /// benchmarks only; a crash can lose acknowledged writes.
    case none
}
