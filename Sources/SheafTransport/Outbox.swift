import Synchronization

/// The queue of frames waiting for one connection's writer, bounded in bytes.
///
/// `send` must never block the caller, so frames are queued here; a peer
/// that reads too slowly lets the queue grow until `enqueue` reports it.
final class Outbox: Sendable {
    enum Item: Sendable {
        case frame([UInt8])
        case keepalive

        var byteCount: Int {
            switch self {
            case .frame(let bytes): bytes.count
            case .keepalive: 0
            }
        }
    }

    enum EnqueueResult { case queued, overLimit, closed }

    private struct State {
        var items: [Item] = []
        var head = 0
        var queuedBytes = 0
        var waiter: CheckedContinuation<Void, Never>?
        /// No more items are accepted.
        var closed = false
        /// Queued items are dropped rather than drained.
        var discard = false
    }

    private let limit: Int
    private let state = Mutex(State())

    init(limit: Int) { self.limit = limit }

    func enqueue(_ item: Item) -> EnqueueResult {
        let (result, waiter) = state.withLock { s -> (EnqueueResult, CheckedContinuation<Void, Never>?) in
            guard !s.closed else { return (.closed, nil) }
            guard s.queuedBytes + item.byteCount <= limit else { return (.overLimit, nil) }
            s.items.append(item)
            s.queuedBytes += item.byteCount
            defer { s.waiter = nil }
            return (.queued, s.waiter)
        }
        waiter?.resume()
        return result
    }

    /// Stops accepting items; with `drain`, `take` still hands out what is queued.
    func close(drain: Bool) {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            s.closed = true
            if !drain { s.discard = true }
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume()
    }

    /// Closed with `drain: false`: what was queued is dropped.
    var isDiscarding: Bool { state.withLock { $0.discard } }

    /// Nothing waits to be written (keep-alives are queued only then, so they cannot pile up).
    var isEmpty: Bool { state.withLock { $0.head == $0.items.count } }

    /// The next items, about `maxBytes` of them (at least one); nil once the
    /// outbox is closed and nothing is left to drain, or the task is cancelled.
    func take(maxBytes: Int) async -> [Item]? {
        while true {
            if let batch = state.withLock({ Self.takeLocked(&$0, maxBytes: maxBytes) }) {
                return batch.isEmpty ? nil : batch
            }
            if Task.isCancelled { return nil }
            await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    let resumeNow = state.withLock { s -> Bool in
                        if Task.isCancelled || s.closed || s.head < s.items.count { return true }
                        s.waiter = continuation
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            } onCancel: {
                let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
                    defer { s.waiter = nil }
                    return s.waiter
                }
                waiter?.resume()
            }
        }
    }

    /// Nil: nothing to take yet. Empty: closed, nothing more will come.
    private static func takeLocked(_ s: inout State, maxBytes: Int) -> [Item]? {
        if s.discard { return [] }
        guard s.head < s.items.count else { return s.closed ? [] : nil }
        var batch = [Item]()
        var bytes = 0
        while s.head < s.items.count, batch.isEmpty || bytes + s.items[s.head].byteCount <= maxBytes {
            let item = s.items[s.head]
            batch.append(item)
            bytes += item.byteCount
            s.head += 1
        }
        s.queuedBytes -= bytes
        if s.head == s.items.count {
            s.items.removeAll(keepingCapacity: true)
            s.head = 0
        } else if s.head > 1024, s.head * 2 > s.items.count {
            s.items.removeFirst(s.head)
            s.head = 0
        }
        return batch
    }
}
