import SheafCrypto
@testable import SheafSnapshots
import Testing

/// The cache behind `SnapshotReader.precheck` stays within its byte budget.
@Suite struct PrecheckedChunksTests {
    static func id(_ n: Int) -> Hash { Hash.of([UInt8(n & 0xFF), UInt8(n >> 8)], domain: HashDomain("precheck-test")) }

    @Test func theOldestGoFirstAndNothingOverTheBudgetIsHeld() {
        let cache = PrecheckedChunks(budget: 10_000)
        for n in 0..<10 { cache.put(Self.id(n), compressed: [UInt8](repeating: UInt8(n), count: 1_000), raw: [UInt8](repeating: 1, count: 1_500)) }
        #expect(cache.heldBytes <= 10_000)
        #expect(cache.heldBytes == 4 * 2_500)
        // The first six went; the last four are there: found as often as
        // asked for, then taken once.
        #expect(cache.take(Self.id(0), compressed: [UInt8](repeating: 0, count: 1_000)) == nil)
        #expect(cache.find(Self.id(9), compressed: [UInt8](repeating: 9, count: 1_000))?.count == 1_500)
        #expect(cache.find(Self.id(9), compressed: [UInt8](repeating: 9, count: 1_000))?.count == 1_500)
        #expect(cache.heldBytes == 4 * 2_500)
        #expect(cache.find(Self.id(9), compressed: [UInt8](repeating: 8, count: 1_000)) == nil)
        #expect(cache.take(Self.id(9), compressed: [UInt8](repeating: 9, count: 1_000))?.count == 1_500)
        #expect(cache.take(Self.id(9), compressed: [UInt8](repeating: 9, count: 1_000)) == nil)
        #expect(cache.heldBytes == 3 * 2_500)
        // Other bytes under a held id take nothing and leave it there.
        #expect(cache.take(Self.id(8), compressed: [UInt8](repeating: 7, count: 1_000)) == nil)
        #expect(cache.heldBytes == 3 * 2_500)
        // A chunk larger than the whole budget is not held at all.
        cache.put(Self.id(100), compressed: [UInt8](repeating: 1, count: 6_000), raw: [UInt8](repeating: 1, count: 6_000))
        #expect(cache.take(Self.id(100), compressed: [UInt8](repeating: 1, count: 6_000)) == nil)
        #expect(cache.heldBytes == 3 * 2_500)
    }
}
