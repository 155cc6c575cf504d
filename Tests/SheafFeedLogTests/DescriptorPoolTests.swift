#if canImport(Glibc)
import Glibc
#endif
import SheafFiles
import Testing

@Suite("DescriptorPool")
struct DescriptorPoolTests {
    /// Whether `fd` is open on the file at `path`. (Comparing the inode,
    /// not just whether the number is open: tests run in parallel and any of
    /// them may be given a closed descriptor's number.)
    func isOpen(_ fd: Int32, on path: String) -> Bool {
        var a = stat(), b = stat()
        guard fstat(fd, &a) == 0, stat(path, &b) == 0 else { return false }
        return a.st_dev == b.st_dev && a.st_ino == b.st_ino
    }

    @Test("least recently used idle descriptors are closed beyond capacity")
    func lruEviction() throws {
        try withTemporaryDirectory { dir in
            let pool = DescriptorPool(capacity: 2)
            let a = Path.join(dir, "a"), b = Path.join(dir, "b"), c = Path.join(dir, "c")
            func raw(_ path: String) throws -> Int32 {
                try pool.withDescriptor(path, create: true) { fd throws(FileError) in fd.raw }
            }
            let fa = try raw(a)
            let fb = try raw(b)
            #expect(pool.openCount == 2)
            #expect(pool.totalOpened == 2)
            #expect(try raw(a) == fa)  // cached; now b is the least recent
            #expect(pool.totalOpened == 2)

            let fc = try raw(c)
            #expect(pool.openCount == 2)
            #expect(pool.totalOpened == 3)
            #expect(!isOpen(fb, on: b))  // b, the least recently used, was closed
            #expect(isOpen(fa, on: a))
            #expect(isOpen(fc, on: c))
            #expect(try raw(a) == fa)  // a survived
            #expect(pool.totalOpened == 3)

            _ = try raw(b)  // reopened; c is now the least recent
            #expect(pool.totalOpened == 4)
            #expect(try raw(a) == fa)
            _ = try raw(c)
            #expect(pool.totalOpened == 5)
            #expect(pool.openCount == 2)
        }
    }

    @Test("descriptors read and write their own files; evict and closeAll close them")
    func readWriteEvictClose() throws {
        try withTemporaryDirectory { dir in
            let pool = DescriptorPool(capacity: 3)
            let paths = (0..<3).map { Path.join(dir, "file\($0)") }
            for (i, path) in paths.enumerated() {
                try pool.withDescriptor(path, create: true) { fd throws(FileError) in
                    try fd.write(Array(repeating: UInt8(i), count: 10 + i), at: 0)
                }
            }
            for (i, path) in paths.enumerated() {
                let bytes = try pool.withDescriptor(path) { fd throws(FileError) in try fd.read(at: 0, count: 100) }
                #expect(bytes == Array(repeating: UInt8(i), count: 10 + i))
                #expect(try pool.withDescriptor(path) { fd throws(FileError) in try fd.size() } == UInt64(10 + i))
            }
            #expect(pool.openCount == 3)
            #expect(pool.totalOpened == 3)

            let evicted = try pool.withDescriptor(paths[1]) { $0.raw }
            pool.evict(paths[1])
            #expect(pool.openCount == 2)
            #expect(!isOpen(evicted, on: paths[1]))
            pool.evict(paths[1])  // nothing open: a no-op
            pool.evict(Path.join(dir, "never-opened"))
            #expect(pool.openCount == 2)
            // Next use reopens it.
            #expect(try pool.withDescriptor(paths[1]) { fd throws(FileError) in try fd.read(at: 0, count: 3) } == [1, 1, 1])
            #expect(pool.totalOpened == 4)

            let open = try paths.map { path in try pool.withDescriptor(path) { $0.raw } }
            pool.closeAll()
            #expect(pool.openCount == 0)
            #expect(zip(open, paths).allSatisfy { !isOpen($0, on: $1) })

            // Without `create` a missing file is an error.
            let missing = #expect(throws: FileError.self) {
                try pool.withDescriptor(Path.join(dir, "missing")) { _ in () }
            }
            #expect(missing?.code == .open)
            #expect(missing?.errno == ENOENT)
            #expect(pool.openCount == 0)
        }
    }

    @Test("leased descriptors stay open beyond capacity and are trimmed on release")
    func leasedDescriptors() throws {
        try withTemporaryDirectory { dir in
            let pool = DescriptorPool(capacity: 1)
            let a = Path.join(dir, "a"), b = Path.join(dir, "b"), c = Path.join(dir, "c")
            try pool.withDescriptor(a, create: true) { outer throws(FileError) in
                try outer.write([1, 2, 3], at: 0)
                try pool.withDescriptor(b, create: true) { middle throws(FileError) in
                    try pool.withDescriptor(c, create: true) { inner throws(FileError) in
                        // All three leased: over capacity rather than closing one in use.
                        #expect(pool.openCount == 3)
                        try inner.write([7], at: 0)
                        try middle.write([8, 8], at: 0)
                        // Evicting or closing everything leaves leased descriptors alone.
                        pool.evict(a)
                        pool.closeAll()
                        #expect(pool.openCount == 3)
                        #expect(try outer.read(at: 0, count: 3) == [1, 2, 3])
                    }
                    // c released: trimmed back, b and a still leased.
                    #expect(pool.openCount == 2)
                    #expect(try middle.read(at: 0, count: 2) == [8, 8])
                }
                #expect(pool.openCount == 1)
                // A nested lease of the same path shares the descriptor.
                let same = try pool.withDescriptor(a) { $0.raw }
                #expect(same == outer.raw)
                #expect(try outer.read(at: 0, count: 3) == [1, 2, 3])
            }
            #expect(pool.openCount == 1)
            #expect(pool.totalOpened == 3)
            #expect(try pool.withDescriptor(c) { fd throws(FileError) in try fd.read(at: 0, count: 1) } == [7])
            #expect(pool.openCount == 1)
        }
    }

    @Test("concurrent users of a small pool stay correct and within bounds afterwards")
    func concurrentUse() async throws {
        let root = try makeTemporaryDirectory()
        defer { try? Directory.removeTree(root) }
        let pool = DescriptorPool(capacity: 3)
        let paths = (0..<8).map { Path.join(root, "f\($0)") }
        for (i, path) in paths.enumerated() {
            try pool.withDescriptor(path, create: true) { fd throws(FileError) in try fd.write([UInt8(i)], at: 0) }
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<4 {
                group.addTask {
                    for step in 0..<200 {
                        let i = (worker * 3 + step) % paths.count
                        let byte = try pool.withDescriptor(paths[i]) { fd throws(FileError) in try fd.read(at: 0, count: 1) }
                        #expect(byte == [UInt8(i)])
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(pool.openCount <= 3)
        pool.closeAll()
        #expect(pool.openCount == 0)
    }
}
