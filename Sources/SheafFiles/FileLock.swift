#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// An exclusive advisory lock on a file, held while this object lives.
///
/// `flock` locks belong to the open file description, so a second
/// `FileLock` on the same path fails whether it is taken by another process
/// or by this one: a store directory has exactly one owner.
public final class FileLock: Sendable {
    public let path: String
    private let fd: Mutex<Int32?>

    /// Takes the lock without waiting; throws `.locked` if it is held.
    public init(path: String) throws(FileError) {
        let fd = retrying { open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644) }
        guard fd >= 0 else { throw FileError(.open, path: path, errno: errno) }
        if retrying({ flock(fd, LOCK_EX | LOCK_NB) }) != 0 {
            let err = errno
            close(fd)
            if err == EWOULDBLOCK { throw FileError(.locked, path: path, errno: err) }
            throw FileError(.lock, path: path, errno: err)
        }
        self.path = path
        self.fd = Mutex(fd)
    }

    /// Releases the lock now rather than at deinit. Idempotent.
    public func release() {
        fd.withLock { held in
            guard let raw = held else { return }
            _ = flock(raw, LOCK_UN)
            close(raw)
            held = nil
        }
    }

    deinit { release() }
}
