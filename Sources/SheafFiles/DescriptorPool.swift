import Synchronization

/// A bounded cache of open file descriptors, so a node can hold thousands of
/// feeds open while using at most `capacity` descriptors for them.
///
/// Descriptors are leased for the duration of one call; a leased descriptor
/// is never closed under its user. When all are leased the pool goes over
/// capacity briefly rather than block, and trims back on release.
public final class DescriptorPool: Sendable {
    public let capacity: Int

    private struct Slot {
        var fd: FileDescriptor
        var leases: Int
        var lastUse: UInt64
    }

    private struct State {
        var slots: [String: Slot] = [:]
        var clock: UInt64 = 0
        var opened: Int = 0
    }

    private let state = Mutex(State())

    public init(capacity: Int) {
        precondition(capacity >= 1, "descriptor pool needs at least one slot")
        self.capacity = capacity
    }

    deinit {
        state.withLock { state in
            for slot in state.slots.values { slot.fd.close() }
            state.slots = [:]
        }
    }

    /// Runs `body` with a read-write descriptor for `path`, creating the file
    /// if `create` is set.
    public func withDescriptor<R>(
        _ path: String, create: Bool = false, _ body: (FileDescriptor) throws(FileError) -> R
    ) throws(FileError) -> R {
        let fd = try lease(path, create: create)
        defer { release(path) }
        return try body(fd)
    }

    /// Closes and forgets the descriptor for `path` (before removing or
    /// renaming the file). Safe if none is open.
    public func evict(_ path: String) {
        state.withLock { state in
            if let slot = state.slots[path], slot.leases == 0 {
                slot.fd.close()
                state.slots[path] = nil
            }
        }
    }

    /// Closes every descriptor not in use.
    public func closeAll() {
        state.withLock { state in
            for (path, slot) in state.slots where slot.leases == 0 {
                slot.fd.close()
                state.slots[path] = nil
            }
        }
    }

    /// Descriptors currently open, and how many were ever opened (for tests
    /// and metrics).
    public var openCount: Int { state.withLock { $0.slots.count } }
    public var totalOpened: Int { state.withLock { $0.opened } }

    private func lease(_ path: String, create: Bool) throws(FileError) -> FileDescriptor {
        let cached: FileDescriptor? = state.withLock { state in
            state.clock += 1
            guard var slot = state.slots[path] else { return nil }
            slot.leases += 1
            slot.lastUse = state.clock
            state.slots[path] = slot
            return slot.fd
        }
        if let cached { return cached }

        // Open outside the lock: it is a system call.
        let fd = try FileDescriptor.open(path, create ? .readWriteCreate : .readWrite)
        return state.withLock { state in
            state.clock += 1
            if var existing = state.slots[path] {
                // Another thread opened it meanwhile; use theirs.
                fd.close()
                existing.leases += 1
                existing.lastUse = state.clock
                state.slots[path] = existing
                return existing.fd
            }
            state.opened += 1
            state.slots[path] = Slot(fd: fd, leases: 1, lastUse: state.clock)
            trim(&state)
            return fd
        }
    }

    private func release(_ path: String) {
        state.withLock { state in
            guard var slot = state.slots[path] else { return }
            slot.leases -= 1
            state.slots[path] = slot
            trim(&state)
        }
    }

    /// Closes least-recently-used idle descriptors until within capacity.
    private func trim(_ state: inout State) {
        guard state.slots.count > capacity else { return }
        let idle = state.slots.filter { $0.value.leases == 0 }.sorted { $0.value.lastUse < $1.value.lastUse }
        var excess = state.slots.count - capacity
        for (path, slot) in idle where excess > 0 {
            slot.fd.close()
            state.slots[path] = nil
            excess -= 1
        }
    }
}
