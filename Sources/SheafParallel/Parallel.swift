import Dispatch

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

    /// `body(range)` for up to `lanes` consecutive ranges that split
    /// `0..<count`, each on its own thread; results in range order. For work
    /// that folds a run of items into one value (a lane's part of a map).
    @inlinable
    public static func mapRanges<T: Sendable>(_ count: Int, lanes: Int, _ body: @Sendable (Range<Int>) -> T) -> [T] {
        guard count > 0 else { return [] }
        let used = max(1, min(lanes, count))
        let per = (count + used - 1) / used
        let ranges = stride(from: 0, to: count, by: per).map { $0..<min(count, $0 + per) }
        if ranges.count == 1 { return [body(ranges[0])] }
        return [T](unsafeUninitializedCapacity: ranges.count) { out, initialized in
            // Each lane initialises its own slot of `out`;
            // concurrentPerform returns only after every lane has finished.
            nonisolated(unsafe) let base = out.baseAddress!
            DispatchQueue.concurrentPerform(iterations: ranges.count) { lane in
                (base + lane).initialize(to: body(ranges[lane]))
            }
            initialized = ranges.count
        }
    }

    /// `body(&state, i)` for every `i` in `0..<count`, on up to `lanes`
    /// threads, results in index order. Each lane makes its own `state` (a
    /// reusable decompressor, say) with `makeState`, so state is never shared.
    @inlinable
    public static func map<State, T: Sendable>(
        _ count: Int, lanes: Int, makeState: @Sendable () -> State, _ body: @Sendable (inout State, Int) -> T
    ) -> [T] {
        let runs = mapRanges(count, lanes: lanes) { range in
            var state = makeState()
            return range.map { body(&state, $0) }
        }
        return runs.count == 1 ? runs[0] : Array(runs.joined())
    }

    /// `map` without per-lane state.
    @inlinable
    public static func map<T: Sendable>(_ count: Int, lanes: Int, _ body: @Sendable (Int) -> T) -> [T] {
        map(count, lanes: lanes, makeState: {}) { _, i in body(i) }
    }
}
