/// A first-in first-out queue with amortised O(1) push and pop: the bounded
/// memories of the broadcast forget their oldest members through it.
struct FIFO<Element> {
    private var items: [Element] = []
    private var head = 0

    var count: Int { items.count - head }
    var isEmpty: Bool { head == items.count }

    /// The queued elements, oldest first.
    var elements: ArraySlice<Element> { items[head...] }

    mutating func push(_ element: Element) { items.append(element) }

    mutating func popFirst() -> Element? {
        guard head < items.count else { return nil }
        let element = items[head]
        head += 1
        if head == items.count {
            items.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 64, head * 2 >= items.count {
            items.removeFirst(head)
            head = 0
        }
        return element
    }

    /// Keeps only the elements for which `keep` holds, in order.
    mutating func retain(where keep: (Element) -> Bool) {
        items = items[head...].filter(keep)
        head = 0
    }
}

extension FIFO: Sendable where Element: Sendable {}
