/// SplitMix64: a small, fast, seeded generator. Every seeded thing in Sheaf
/// (workloads, benchmarks, fuzz and simulation runs) draws from it, so one
/// seed reproduces a run exactly on any machine.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// `count` uniformly random bytes.
    public mutating func bytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var i = 0
        while i < count {
            var word = next()
            for _ in 0..<8 where i < count {
                out[i] = UInt8(truncatingIfNeeded: word)
                word >>= 8
                i += 1
            }
        }
        return out
    }

    private static let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789".utf8)

    /// `count` lower-case letters and digits.
    public mutating func alphanumeric(_ count: Int) -> [UInt8] {
        (0..<count).map { _ in Self.alphabet[Int(next() % 36)] }
    }

    /// A uniform integer in `0..<bound` (bound > 0).
    public mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }

    /// A generator for a sub-stream, independent of this one's later draws.
    public mutating func split() -> SplitMix64 { SplitMix64(seed: next()) }
}
