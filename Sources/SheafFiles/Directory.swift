#if canImport(Glibc)
import Glibc
#endif

/// Directory operations, with the fsyncs that make creations and renames durable.
public enum Directory {
    /// Creates `path` and missing parents. With `durable`, each new directory's
    /// parent is fsynced so the entry survives a crash.
    public static func create(_ path: String, durable: Bool) throws(FileError) {
        var components: [String] = []
        var current = path
        while !exists(current) {
            components.append(current)
            let parent = Path.parent(current)
            if parent == current { break }
            current = parent
        }
        for dir in components.reversed() {
            if mkdir(dir, 0o755) != 0 && errno != EEXIST {
                throw FileError(.directory, path: dir, errno: errno)
            }
            if durable { try sync(Path.parent(dir)) }
        }
    }

    public static func exists(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0
    }

    public static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// fsyncs a directory, making the creation, removal or rename of its
    /// entries durable.
    public static func sync(_ path: String) throws(FileError) {
        let fd = retrying { open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        guard fd >= 0 else { throw FileError(.directory, path: path, errno: errno) }
        defer { close(fd) }
        if retrying({ fsync(fd) }) != 0 { throw FileError(.sync, path: path, errno: errno) }
    }

    /// Names in `path`, without "." and "..", sorted.
    public static func list(_ path: String) throws(FileError) -> [String] {
        guard let dir = opendir(path) else { throw FileError(.directory, path: path, errno: errno) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// Removes a file.
    public static func removeFile(_ path: String) throws(FileError) {
        if unlink(path) != 0 && errno != ENOENT { throw FileError(.remove, path: path, errno: errno) }
    }

    /// Removes `path` and everything under it.
    public static func removeTree(_ path: String) throws(FileError) {
        guard exists(path) else { return }
        if isDirectory(path) {
            for name in try list(path) { try removeTree(Path.join(path, name)) }
            if rmdir(path) != 0 && errno != ENOENT { throw FileError(.remove, path: path, errno: errno) }
        } else {
            try removeFile(path)
        }
    }

    /// Renames atomically (within one file system).
    public static func rename(_ from: String, to: String) throws(FileError) {
        if Glibc.rename(from, to) != 0 { throw FileError(.rename, path: from, errno: errno) }
    }

    /// Writes `bytes` to `path` so that a reader sees either the old file or
    /// the whole new one: temporary file, fsync, rename, fsync directory.
    /// With `ownerOnly` (files holding secrets) the file has mode 0600 from
    /// its creation, whatever the umask or a stale temporary file's mode.
    public static func writeAtomically(_ bytes: [UInt8], to path: String, durable: Bool, ownerOnly: Bool = false) throws(FileError) {
        let temporary = path + ".tmp"
        let fd = try FileDescriptor.open(temporary, .readWriteCreate, permissions: ownerOnly ? 0o600 : 0o644)
        do throws(FileError) {
            if ownerOnly, fchmod(fd.raw, 0o600) != 0 { throw FileError(.open, path: temporary, errno: errno) }
            try fd.truncate(to: 0)
            try fd.write(bytes, at: 0)
            if durable { try fd.sync() }
            fd.close()
        } catch {
            fd.close()
            try? removeFile(temporary)
            throw error
        }
        try rename(temporary, to: path)
        if durable { try sync(Path.parent(path)) }
    }
}

/// Path strings, without Foundation.
public enum Path {
    public static func join(_ a: String, _ b: String) -> String {
        a.hasSuffix("/") ? a + b : a + "/" + b
    }

    public static func parent(_ path: String) -> String {
        var p = Substring(path)
        while p.count > 1 && p.hasSuffix("/") { p = p.dropLast() }
        guard let slash = p.lastIndex(of: "/") else { return "." }
        if slash == p.startIndex { return "/" }
        return String(p[..<slash])
    }

    public static func lastComponent(_ path: String) -> String {
        var p = Substring(path)
        while p.count > 1 && p.hasSuffix("/") { p = p.dropLast() }
        guard let slash = p.lastIndex(of: "/") else { return String(p) }
        return String(p[p.index(after: slash)...])
    }
}
