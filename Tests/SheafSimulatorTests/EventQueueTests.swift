import SheafRandom
import Testing

@testable import SheafSimulator

@Suite struct EventQueueTests {
    /// Pushes and pops interleaved at random (so payload slots are freed and
    /// reused): every pop is the earliest event, ties in push order, with the
    /// payload it was pushed with.
    @Test func popsInTimeThenPushOrder() {
        var rng = SplitMix64(seed: 11)
        var queue = EventQueue<Int>()
        var waiting: [(time: UInt64, order: Int)] = []
        var pushed = 0
        var popped = 0
        for _ in 0..<4_000 {
            if waiting.isEmpty || rng.next() % 2 == 0 {
                // Few distinct times, so many ties.
                let time = rng.next() % 50
                queue.push(pushed, at: time)
                waiting.append((time, pushed))
                pushed += 1
            } else {
                let expected = waiting.min { ($0.time, $0.order) < ($1.time, $1.order) }!
                waiting.removeAll { $0.order == expected.order }
                let entry = queue.pop()
                #expect(entry?.time == expected.time)
                #expect(entry?.payload == expected.order)
                popped += 1
            }
            #expect(queue.count == waiting.count)
            #expect(queue.nextTime == waiting.map(\.time).min())
        }
        #expect(popped > 1_000)
        while let entry = queue.pop() {
            let expected = waiting.min { ($0.time, $0.order) < ($1.time, $1.order) }!
            waiting.removeAll { $0.order == expected.order }
            #expect(entry.payload == expected.order)
        }
        #expect(waiting.isEmpty && queue.isEmpty)
    }
}
