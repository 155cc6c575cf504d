#if canImport(Glibc)
import Glibc
#endif

/// An open file, with reads and writes that retry on EINTR and short counts.
/// Owned by whoever opened it; `close()` must be called once.
public struct FileDescriptor: Sendable {
    public let raw: Int32
    public let path: String

    public enum Mode: Sendable { case readOnly, readWrite, readWriteCreate }

    /// `permissions` is the mode a file created here gets (less the umask).
    public static func open(_ path: String, _ mode: Mode, permissions: mode_t = 0o644) throws(FileError) -> FileDescriptor {
        let flags: Int32 = switch mode {
        case .readOnly: O_RDONLY | O_CLOEXEC
        case .readWrite: O_RDWR | O_CLOEXEC
        case .readWriteCreate: O_RDWR | O_CREAT | O_CLOEXEC
        }
        let fd = retrying { Glibc.open(path, flags, permissions) }
        guard fd >= 0 else { throw FileError(.open, path: path, errno: errno) }
        return FileDescriptor(raw: fd, path: path)
    }

    /// The whole file at `path`, refused before reading if over `limit` bytes.
    public static func readWholeFile(_ path: String, limit: Int) throws(FileError) -> [UInt8] {
        let fd = try open(path, .readOnly)
        defer { fd.close() }
        let size = try fd.size()
        guard size <= UInt64(limit) else { throw FileError(.tooLarge, path: path, errno: 0) }
        return try fd.read(at: 0, count: Int(size))
    }

    public func close() {
        _ = Glibc.close(raw)
    }

    /// Reads exactly `count` bytes at `offset`, or fewer only at end of file.
    public func read(at offset: UInt64, count: Int) throws(FileError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var done = 0
        var failure: Int32 = 0
        out.withUnsafeMutableBytes { buf in
            while done < count {
                let n = pread(raw, buf.baseAddress! + done, count - done, off_t(offset) + off_t(done))
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                if n == 0 { break }
                done += n
            }
        }
        if failure != 0 { throw FileError(.read, path: path, errno: failure) }
        if done < count { out.removeLast(count - done) }
        return out
    }

    /// Writes all of `bytes` at `offset`.
    public func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws(FileError) {
        var done = 0
        while done < bytes.count {
            let n = pwrite(raw, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw FileError(.write, path: path, errno: errno)
            }
            done += n
        }
    }

    public func write(_ bytes: [UInt8], at offset: UInt64) throws(FileError) {
        let result: Result<Void, FileError> = bytes.withUnsafeBytes { raw in
            do throws(FileError) { try write(raw, at: offset); return .success(()) } catch { return .failure(error) }
        }
        try result.get()
    }

    /// Flushes file data (and the metadata needed to read it back) to disk.
    public func syncData() throws(FileError) {
        if retrying({ fdatasync(raw) }) != 0 { throw FileError(.sync, path: path, errno: errno) }
    }

    public func sync() throws(FileError) {
        if retrying({ fsync(raw) }) != 0 { throw FileError(.sync, path: path, errno: errno) }
    }

    public func truncate(to size: UInt64) throws(FileError) {
        if retrying({ ftruncate(raw, off_t(size)) }) != 0 { throw FileError(.truncate, path: path, errno: errno) }
    }

    public func size() throws(FileError) -> UInt64 {
        var st = stat()
        if fstat(raw, &st) != 0 { throw FileError(.stat, path: path, errno: errno) }
        return UInt64(st.st_size)
    }
}

@inline(__always)
func retrying(_ call: () -> Int32) -> Int32 {
    while true {
        let r = call()
        if r < 0 && errno == EINTR { continue }
        return r
    }
}
