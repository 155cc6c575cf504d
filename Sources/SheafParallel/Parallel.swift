import Dispatch
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// CPU-bound work spread over the machine's cores: hashing a long range,
/// decoding or encoding snapshot chunks. One place owns the unsafe part.
///
/// The calling thread always works; helper lanes run on a few private serial
/// queues, which libdispatch serves with threads of their own. Neither
/// `concurrentPerform` nor the global queues are used: called from a task on
/// Swift's cooperative pool, they share that pool's threads (one per core),
/// so a pool that is busy or has a blocked thread left the caller doing every
/// piece alone. A helper that has not started by the time the caller runs out
/// of pieces is not waited for.
public enum Parallel {
    /// Cores online.
    public static let processorCount: Int = {
        #if canImport(Glibc)
        return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        #else
        return 1
        #endif
    }()

    /// `body(&state, range)` for consecutive ranges of at most `grain`
    /// indices that cover `0..<count`, results in range order. Up to `lanes`
    /// threads (at most one per core) each take the next range as they
    /// finish one, so a thread that shares its core with other work simply
    /// does fewer. Each thread makes its own `state` (a reusable
    /// decompressor, say) with `makeState`, so state is never shared. For
    /// work that folds a run of items into one value (its part of a map, say).
    @inlinable
    public static func mapRanges<State, T: Sendable>(
        _ count: Int, grain: Int, lanes: Int, makeState: @escaping @Sendable () -> State,
        _ body: @escaping @Sendable (inout State, Range<Int>) -> T
    ) -> [T] {
        guard count > 0 else { return [] }
        let grain = max(1, grain)
        let pieces = (count + grain - 1) / grain
        let range: @Sendable (Int) -> Range<Int> = { piece in (piece * grain)..<min(count, (piece + 1) * grain) }
        let threads = max(1, min(lanes, pieces, helperCount + 1))
        if threads == 1 {
            var state = makeState()
            return (0..<pieces).map { body(&state, range($0)) }
        }
        return [T](unsafeUninitializedCapacity: pieces) { out, initialized in
            // Each piece is taken once and initialises its own slot of `out`;
            // `runLanes` returns only after every lane that took one has finished.
            nonisolated(unsafe) let base = out.baseAddress!
            let next = PieceCounter(pieces)
            runLanes(helpers: threads - 1) {
                var state = makeState()
                while let piece = next.take() {
                    (base + piece).initialize(to: body(&state, range(piece)))
                }
            }
            initialized = pieces
        }
    }

    /// `body(i)` for every `i` in `0..<count`, on up to `lanes` threads,
    /// results in index order.
    @inlinable
    public static func map<T: Sendable>(_ count: Int, lanes: Int, _ body: @escaping @Sendable (Int) -> T) -> [T] {
        // A few pieces per thread keep the threads busy to the end.
        let grain = (count + 4 * max(1, lanes) - 1) / (4 * max(1, lanes))
        let runs = mapRanges(count, grain: grain, lanes: lanes, makeState: {}) { _, range in range.map(body) }
        return runs.count == 1 ? runs[0] : Array(runs.joined())
    }

    /// Starts `work` on a thread of its own and returns at once, so the
    /// caller can do something independent meanwhile (apply a batch while it
    /// is being written, say); `join()` returns its result or throws its
    /// error. For work that mostly writes and syncs files: it runs on one of
    /// the waiting queues, not on a lane `mapRanges` computes on, so the
    /// caller may use those meanwhile. If `work` has not started by the time
    /// of `join()`, it never does there: the caller runs it itself.
    public static func fork<T: Sendable, E: Error>(_ work: @escaping @Sendable () throws(E) -> T) -> Forked<T, E> {
        let forked = Forked(work)
        if processorCount > 1 { waitingQueues[0].async { forked.runIfUnclaimed() } }
        return forked
    }

    /// `body(i)` for every `i` in `0..<count`, each on a thread of its own
    /// (up to 16 at once), results in index order; throws the first error
    /// by index once every step has ended. For a handful of steps that
    /// mostly wait on the disk, such as syncing new files: syncs issued side
    /// by side share the file system's journal commits, where one after
    /// another each waits for its own.
    ///
    /// May be called from a forked job: the waiting queue that runs it (a
    /// serial one) is left out, else a step put there would wait for the
    /// very call waiting for it.
    public static func mapWaiting<T: Sendable, E: Error>(_ count: Int, _ body: @escaping @Sendable (Int) throws(E) -> T) throws(E) -> [T] {
        guard count > 1 else { return count == 1 ? [try body(0)] : [] }
        let results = Mutex<[Result<T, E>?]>(Array(repeating: nil, count: count))
        let group = DispatchGroup()
        let current = DispatchQueue.getSpecific(key: waitingQueueIndex)
        let queues = waitingQueues.indices.filter { $0 != current }.map { waitingQueues[$0] }
        for i in 0..<count {
            queues[i % queues.count].async(group: group) {
                let result = Result { () throws(E) -> T in try body(i) }
                results.withLock { $0[i] = result }
            }
        }
        group.wait()
        return try results.withLock { $0.compactMap { $0 } }.map { (result) throws(E) -> T in try result.get() }
    }

    /// Serial queues, each served by a thread of its own while it blocks,
    /// each marked with its index.
    private static let waitingQueues: [DispatchQueue] = (0..<16).map { index in
        let queue = DispatchQueue(label: "sheaf.parallel.waiting.\(index)")
        queue.setSpecific(key: waitingQueueIndex, value: index)
        return queue
    }
    private static let waitingQueueIndex = DispatchSpecificKey<Int>()

    /// Helper lanes beside the calling thread: one per other core.
    @usableFromInline static var helperCount: Int { helperQueues.count }

    private static let helperQueues: [DispatchQueue] = (0..<(processorCount - 1)).map {
        DispatchQueue(label: "sheaf.parallel.\($0)")
    }

    /// Runs `lane` on the calling thread and on up to `helpers` helper
    /// queues; returns when the caller's lane is done and every helper lane
    /// that started has finished. Helpers that had not started by then never
    /// run `lane`.
    @usableFromInline
    static func runLanes(helpers: Int, _ lane: @escaping @Sendable () -> Void) {
        let gate = LaneGate()
        for queue in helperQueues.prefix(helpers) {
            queue.async {
                guard gate.enter() else { return }
                lane()
                gate.leave()
            }
        }
        lane()
        gate.closeAndWait()
    }
}

/// Hands out piece numbers `0..<pieces`, each once, to any thread.
@usableFromInline
final class PieceCounter: Sendable {
    @usableFromInline let pieces: Int
    @usableFromInline let next = Atomic<Int>(0)

    @usableFromInline init(_ pieces: Int) { self.pieces = pieces }

    @inlinable func take() -> Int? {
        let piece = next.wrappingAdd(1, ordering: .relaxed).oldValue
        return piece < pieces ? piece : nil
    }
}

/// Lets helper lanes in until the caller closes it, then makes the caller
/// wait for exactly the lanes that got in.
final class LaneGate: Sendable {
    /// Lanes that entered, plus `closedFlag` once closed.
    private let state = Atomic<Int>(0)
    private let finished = DispatchSemaphore(value: 0)
    private static let closedFlag = 1 << 40

    /// Whether a helper lane may run: false once the caller closed the gate.
    func enter() -> Bool {
        var current = state.load(ordering: .acquiring)
        while current & Self.closedFlag == 0 {
            let (exchanged, original) = state.compareExchange(expected: current, desired: current + 1,
                                                              ordering: .acquiringAndReleasing)
            if exchanged { return true }
            current = original
        }
        return false
    }

    func leave() { finished.signal() }

    /// Closes the gate and waits for every lane that entered.
    func closeAndWait() {
        let entered = state.bitwiseOr(Self.closedFlag, ordering: .acquiringAndReleasing).oldValue
        for _ in 0..<entered { finished.wait() }
    }
}

/// Work started by `Parallel.fork`, run exactly once by whichever of the
/// helper and the joining caller claims it first.
public final class Forked<T: Sendable, E: Error>: @unchecked Sendable {
    // `result` is written once, by the helper, before it signals `finished`;
    // the caller reads it only after waiting for that signal.
    private let work: @Sendable () throws(E) -> T
    private let claimed = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    private var result: Result<T, E>?

    init(_ work: @escaping @Sendable () throws(E) -> T) { self.work = work }

    private func claim() -> Bool {
        claimed.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
    }

    func runIfUnclaimed() {
        guard claim() else { return }
        result = Result { () throws(E) -> T in try work() }
        finished.signal()
    }

    /// The work's result: runs it here if no helper took it, else waits for
    /// the helper to finish. Call once.
    public func join() throws(E) -> T {
        if claim() { return try work() }
        finished.wait()
        guard let result else { preconditionFailure("a forked job signalled without a result") }
        return try result.get()
    }
}
