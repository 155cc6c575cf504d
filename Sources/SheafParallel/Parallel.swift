import Dispatch
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// CPU-bound work spread over the machine's cores: hashing a long range,
/// decoding or encoding snapshot chunks. One place owns the unsafe part.
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
    /// threads each take the next range as they finish one, so a thread that
    /// shares its core with other work simply does fewer. Each thread makes
    /// its own `state` (a reusable decompressor, say) with `makeState`, so
    /// state is never shared. For work that folds a run of items into one
    /// value (its part of a map, say).
    @inlinable
    public static func mapRanges<State, T: Sendable>(
        _ count: Int, grain: Int, lanes: Int, makeState: @Sendable () -> State,
        _ body: @Sendable (inout State, Range<Int>) -> T
    ) -> [T] {
        guard count > 0 else { return [] }
        let grain = max(1, grain)
        let pieces = (count + grain - 1) / grain
        let range: @Sendable (Int) -> Range<Int> = { piece in (piece * grain)..<min(count, (piece + 1) * grain) }
        let threads = max(1, min(lanes, pieces))
        if threads == 1 {
            var state = makeState()
            return (0..<pieces).map { body(&state, range($0)) }
        }
        return [T](unsafeUninitializedCapacity: pieces) { out, initialized in
            // Each piece is taken once and initialises its own slot of `out`;
            // concurrentPerform returns only after every thread has finished.
            nonisolated(unsafe) let base = out.baseAddress!
            let next = Atomic<Int>(0)
            DispatchQueue.concurrentPerform(iterations: threads) { _ in
                var state = makeState()
                while case let piece = next.add(1, ordering: .relaxed).oldValue, piece < pieces {
                    (base + piece).initialize(to: body(&state, range(piece)))
                }
            }
            initialized = pieces
        }
    }

    /// `body(i)` for every `i` in `0..<count`, on up to `lanes` threads,
    /// results in index order.
    @inlinable
    public static func map<T: Sendable>(_ count: Int, lanes: Int, _ body: @Sendable (Int) -> T) -> [T] {
        // A few pieces per thread keep the threads busy to the end.
        let grain = (count + 4 * max(1, lanes) - 1) / (4 * max(1, lanes))
        let runs = mapRanges(count, grain: grain, lanes: lanes, makeState: {}) { _, range in range.map(body) }
        return runs.count == 1 ? runs[0] : Array(runs.joined())
    }
}
