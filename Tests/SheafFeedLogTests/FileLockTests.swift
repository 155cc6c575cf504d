import SheafFiles
import Testing

@Suite("FileLock")
struct FileLockTests {
    @Test("a second lock on the same file fails until the first is released")
    func exclusive() throws {
        try withTemporaryDirectory { dir in
            let path = Path.join(dir, "LOCK")
            let first = try FileLock(path: path)
            #expect(first.path == path)
            #expect(RawFile.exists(path))

            let error = #expect(throws: FileError.self) { _ = try FileLock(path: path) }
            #expect(error?.code == .locked)
            #expect(error?.path == path)

            first.release()
            first.release()  // idempotent
            let second = try FileLock(path: path)
            #expect(throws: FileError.self) { _ = try FileLock(path: path) }
            second.release()
        }
    }

    @Test("dropping a lock releases it")
    func releasedOnDeinit() throws {
        try withTemporaryDirectory { dir in
            let path = Path.join(dir, "LOCK")
            do { _ = try FileLock(path: path) }
            let again = try FileLock(path: path)
            again.release()
        }
    }

    @Test("a lock in a missing directory is an open error, not .locked")
    func missingDirectory() throws {
        try withTemporaryDirectory { dir in
            let error = #expect(throws: FileError.self) { _ = try FileLock(path: Path.join(dir, "nope/LOCK")) }
            #expect(error?.code == .open)
        }
    }
}
