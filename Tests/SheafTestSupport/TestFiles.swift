#if canImport(Glibc)
import Glibc
#endif
import SheafFiles

// Test harness shared by the test targets: temporary directories and raw
// file access. Reads and writes use POSIX directly, not SheafFiles, so tests
// that damage files on disk do not depend on the code they test.

/// A failure of the test harness itself (not of the code under test).
public struct FixtureError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A fresh directory under /tmp; the caller removes it.
public func makeTemporaryDirectory(prefix: String = "sheaf-test") throws -> String {
    var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
    let path: String? = template.withUnsafeMutableBufferPointer { buffer in
        guard let made = mkdtemp(buffer.baseAddress!) else { return nil }
        return String(cString: made)
    }
    guard let path else { throw FixtureError("mkdtemp failed: errno \(errno)") }
    return path
}

/// Runs `body` with a fresh directory under /tmp, removed afterwards. Every
/// test gets its own, so tests can run in parallel.
public func withTemporaryDirectory<R>(_ body: (String) throws -> R) throws -> R {
    let path = try makeTemporaryDirectory()
    defer { try? Directory.removeTree(path) }
    return try body(path)
}

public func withTemporaryDirectory<R>(_ body: (String) async throws -> R) async throws -> R {
    let path = try makeTemporaryDirectory()
    defer { try? Directory.removeTree(path) }
    return try await body(path)
}

/// Raw file access, independent of the code under test.
public enum RawFile {
    public static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    public static func size(_ path: String) throws -> Int {
        var st = stat()
        guard stat(path, &st) == 0 else { throw FixtureError("stat \(path): errno \(errno)") }
        return Int(st.st_size)
    }

    public static func read(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FixtureError("open \(path): errno \(errno)") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw FixtureError("fstat \(path): errno \(errno)") }
        let count = Int(st.st_size)
        var bytes = [UInt8](repeating: 0, count: count)
        let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, 0) }
        guard n == count else { throw FixtureError("short read of \(path)") }
        return bytes
    }

    /// Replaces the file's contents with `bytes`.
    public static func write(_ bytes: [UInt8], to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FixtureError("open \(path): errno \(errno)") }
        defer { close(fd) }
        let n = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, bytes.count, 0) }
        guard n == bytes.count else { throw FixtureError("short write of \(path)") }
    }

    public static func truncate(_ path: String, to size: Int) throws {
        guard Glibc.truncate(path, off_t(size)) == 0 else { throw FixtureError("truncate \(path): errno \(errno)") }
    }

    /// Applies `change` to the byte at `offset`.
    public static func modifyByte(_ path: String, at offset: Int, _ change: (UInt8) -> UInt8) throws {
        var bytes = try read(path)
        bytes[offset] = change(bytes[offset])
        try write(bytes, to: path)
    }

    public static func remove(_ path: String) throws {
        guard unlink(path) == 0 else { throw FixtureError("unlink \(path): errno \(errno)") }
    }

    /// Copies a directory tree (regular files and directories).
    public static func copyTree(_ from: String, to: String) throws {
        try Directory.create(to, durable: false)
        for name in try Directory.list(from) {
            let source = Path.join(from, name)
            let target = Path.join(to, name)
            if Directory.isDirectory(source) {
                try copyTree(source, to: target)
            } else {
                try write(try read(source), to: target)
            }
        }
    }
}
