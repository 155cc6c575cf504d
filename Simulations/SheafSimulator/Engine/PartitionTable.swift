/// The directed node pairs that currently cannot reach each other.
struct PartitionTable {
    private var rules: [(from: Set<Int>, to: Set<Int>)] = []
    private var isolated: Set<Int> = []

    var isEmpty: Bool { rules.isEmpty && isolated.isEmpty }

    mutating func block(from: Set<Int>, to: Set<Int>) {
        rules.append((from, to))
    }

    mutating func isolate(_ node: Int) { isolated.insert(node) }

    mutating func heal() {
        rules.removeAll()
        isolated.removeAll()
    }

    @inline(__always)
    func blocks(from: Int, to: Int) -> Bool {
        if isEmpty { return false }
        if isolated.contains(from) || isolated.contains(to) { return from != to }
        return rules.contains { $0.from.contains(from) && $0.to.contains(to) }
    }
}
