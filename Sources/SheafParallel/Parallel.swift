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

    /// `body(&state, i)` for every `i` in `0..<count`, on up to `lanes`
    /// threads, results in index order. Each lane makes its own `state` (a
    /// reusable decompressor, say) with `makeState`, so state is never shared.
    @inlinable
    public static func map<State, T: Sendable>(
        _ count: Int, lanes: Int, makeState: @Sendable () -> State, _ body: @Sendable (inout State, Int) -> T
    ) -> [T] {
        guard count > 0 else { return [] }
        let used = max(1, min(lanes, count))
        if used == 1 {
            var state = makeState()
            return (0..<count).map { body(&state, $0) }
        }
        return [T](unsafeUninitializedCapacity: count) { out, initialized in
            // Each lane initialises a disjoint slice of `out`;
            // concurrentPerform returns only after every lane has finished.
            nonisolated(unsafe) let base = out.baseAddress!
            let per = (count + used - 1) / used
            DispatchQueue.concurrentPerform(iterations: used) { lane in
                var state = makeState()
                for i in (lane * per)..<min(count, (lane + 1) * per) { (base + i).initialize(to: body(&state, i)) }
            }
            initialized = count
        }
    }

    /// `map` without per-lane state.
    @inlinable
    public static func map<T: Sendable>(_ count: Int, lanes: Int, _ body: @Sendable (Int) -> T) -> [T] {
        map(count, lanes: lanes, makeState: {}) { _, i in body(i) }
    }
}
