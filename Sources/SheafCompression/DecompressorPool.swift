import Synchronization

extension Zstd {
    /// Runs `body` with a decompressor (default window limit) borrowed from
    /// a small shared pool. Creating a context and touching its buffers costs
    /// more than decompressing a 4 KiB chunk, and a joining node checks every
    /// chunk a peer sends as it comes, one call at a time.
    public static func withPooledDecompressor<R, E: Error>(_ body: (Decompressor) throws(E) -> R) throws(E) -> R {
        let lent = DecompressorPool.shared.take()
        defer { DecompressorPool.shared.give(lent) }
        return try body(lent.decompressor)
    }
}

/// Idle decompressors, handed to one thread at a time.
final class DecompressorPool: Sendable {
    static let shared = DecompressorPool()

    /// A decompressor moving between threads: used by one at a time (the
    /// pool's lock orders the hand-over), never shared.
    final class Lent: @unchecked Sendable {
        let decompressor = Zstd.Decompressor()
    }

    /// Enough for every core to check chunks at once; more are freed.
    private static let kept = 16
    private let idle = Mutex<[Lent]>([])

    func take() -> Lent { idle.withLock { $0.popLast() } ?? Lent() }

    func give(_ lent: Lent) {
        idle.withLock { idle in
            if idle.count < Self.kept { idle.append(lent) }
        }
    }
}
