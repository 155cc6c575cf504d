#if canImport(Glibc)
import Glibc
#endif
import SheafFeedLog
import SheafFiles
import Testing

/// The flock(1) utility, used to hold a store's lock from another process.
private let flockTool = "/usr/bin/flock"
private let flockToolAvailable = access(flockTool, X_OK) == 0

/// A child process started with posix_spawn in its own process group, so it
/// (and anything it starts) can be ended by its id.
private final class ChildProcess {
    let pid: pid_t
    private var reaped = false

    init(_ arguments: [String]) throws {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
        posix_spawnattr_setpgroup(&attributes, 0)

        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) }
        argv.append(nil)
        defer { for arg in argv { free(arg) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, arguments[0], nil, &attributes, argv, environ)
        guard result == 0 else { throw FixtureError("posix_spawn \(arguments[0]): \(result)") }
        self.pid = pid
    }

    /// Ends the child's process group and reaps the child. Idempotent: once
    /// reaped, its id may belong to someone else and is not signalled again.
    func terminate() {
        guard !reaped else { return }
        kill(-pid, SIGKILL)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        reaped = true
    }

    /// Whether the child has already exited (reaping it if so).
    func hasExited() -> Bool {
        guard !reaped else { return true }
        var status: Int32 = 0
        if waitpid(pid, &status, WNOHANG) == pid { reaped = true }
        return reaped
    }

    deinit { terminate() }
}

@Suite("FeedStore lock")
struct FeedStoreLockTests {
    @Test("a second store on an open directory is refused until the first closes")
    func lockedInProcess() throws {
        try withTemporaryDirectory { dir in
            let first = try FeedStore(directory: dir, options: .init(durability: .none))
            #expect(RawFile.exists(Path.join(dir, "LOCK")))
            let error = #expect(throws: FeedLogError.self) {
                _ = try FeedStore(directory: dir, options: .init(durability: .none))
            }
            #expect(error?.code == .locked(path: dir))
            // Still refused on a retry; the first store is unaffected.
            #expect(throws: FeedLogError(.locked(path: dir))) {
                _ = try FeedStore(directory: dir, options: .init(durability: .none))
            }
            var model = FeedModel(keyPair: testKeyPair(40))
            try model.append(2, to: try first.log(model.feed))

            first.close()
            let second = try FeedStore(directory: dir, options: .init(durability: .none))
            defer { second.close() }
            try expectLog(try second.log(model.feed), holds: model.entries, heads: model.heads)
        }
    }

    @Test("dropping the last reference to a store releases its lock")
    func releasedOnDeinit() throws {
        try withTemporaryDirectory { dir in
            do { _ = try FeedStore(directory: dir, options: .init(durability: .none)) }
            let again = try FeedStore(directory: dir, options: .init(durability: .none))
            again.close()
        }
    }

    @Test("a store locked by another process is refused",
          .enabled(if: flockToolAvailable, "needs \(flockTool) to hold the lock from a child process"))
    func lockedByAnotherProcess() throws {
        try withTemporaryDirectory { dir in
            let lockPath = Path.join(dir, "LOCK")
            let ready = Path.join(dir, "ready")
            // flock takes the lock, then runs the command, which announces it.
            // With -o only flock itself holds the lock (the command does not
            // inherit it), so ending flock releases it at once.
            let child = try ChildProcess([flockTool, "-n", "-x", "-o", lockPath,
                                          "/bin/sh", "-c", ": > '\(ready)'; exec sleep 30"])
            defer { child.terminate() }
            var waited = 0
            while !RawFile.exists(ready) {
                try #require(!child.hasExited(), "flock exited without taking the lock")
                try #require(waited < 10_000, "flock did not take the lock within 10 s")
                usleep(2_000)
                waited += 2
            }

            let error = #expect(throws: FeedLogError.self) {
                _ = try FeedStore(directory: dir, options: .init(durability: .none))
            }
            #expect(error?.code == .locked(path: dir))
            let fileLock = #expect(throws: FileError.self) { _ = try FileLock(path: lockPath) }
            #expect(fileLock?.code == .locked)

            // Once the other process is gone the store opens.
            child.terminate()
            let store = try FeedStore(directory: dir, options: .init(durability: .none))
            store.close()
        }
    }
}
