/// A min-heap of events ordered by (time, insertion sequence): events at
/// the same virtual time run in the order they were scheduled, which is
/// what makes a run a function of its seed.
///
/// The heap orders small plain keys; the payloads (which hold references)
/// wait in slots on the side, so sifting moves no reference counts.
struct EventQueue<Payload> {
    struct Entry {
        var time: UInt64
        var sequence: UInt64
        var payload: Payload
    }

    private struct Key {
        var time: UInt64
        var sequence: UInt64
        var slot: Int

        @inline(__always)
        func precedes(_ other: Key) -> Bool {
            time != other.time ? time < other.time : sequence < other.sequence
        }
    }

    private var heap: ContiguousArray<Key> = []
    private var slots: ContiguousArray<Payload?> = []
    private var freeSlots: [Int] = []
    private var nextSequence: UInt64 = 0

    var count: Int { heap.count }
    var isEmpty: Bool { heap.isEmpty }
    /// The time of the earliest event.
    var nextTime: UInt64? { heap.first?.time }

    mutating func push(_ payload: Payload, at time: UInt64) {
        let slot: Int
        if let free = freeSlots.popLast() {
            slot = free
            slots[slot] = payload
        } else {
            slot = slots.count
            slots.append(payload)
        }
        heap.append(Key(time: time, sequence: nextSequence, slot: slot))
        nextSequence += 1
        siftUp(heap.count - 1)
    }

    mutating func pop() -> Entry? {
        guard let last = heap.popLast() else { return nil }
        var first = last
        if !heap.isEmpty {
            first = heap[0]
            heap[0] = last
            siftDown(0)
        }
        // Every slot in the heap holds its payload until popped.
        guard let payload = slots[first.slot].take() else { preconditionFailure("a queued event without its payload") }
        freeSlots.append(first.slot)
        return Entry(time: first.time, sequence: first.sequence, payload: payload)
    }

    private mutating func siftUp(_ start: Int) {
        heap.withUnsafeMutableBufferPointer { heap in
            var child = start
            let item = heap[child]
            while child > 0 {
                let parent = (child - 1) / 2
                guard item.precedes(heap[parent]) else { break }
                heap[child] = heap[parent]
                child = parent
            }
            heap[child] = item
        }
    }

    private mutating func siftDown(_ start: Int) {
        heap.withUnsafeMutableBufferPointer { heap in
            var parent = start
            let item = heap[parent]
            let count = heap.count
            while true {
                var child = 2 * parent + 1
                guard child < count else { break }
                if child + 1 < count, heap[child + 1].precedes(heap[child]) { child += 1 }
                guard heap[child].precedes(item) else { break }
                heap[parent] = heap[child]
                parent = child
            }
            heap[parent] = item
        }
    }
}
