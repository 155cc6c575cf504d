// White-box access (`root`, `Node`, capacities) is used only to check the
// B+tree's structural invariants and node sharing; every behavioural check
// goes through the public API.
@testable import SheafCollections
import Testing
@_exported import SheafRandom

// MARK: Reference model

/// The byte order a `RecordKey` must follow, written independently of
/// `RecordKey.<` (which uses memcmp): plain lexicographic comparison of
/// unsigned bytes, a proper prefix first.
func referenceLess(_ a: RecordKey, _ b: RecordKey) -> Bool {
    a.bytes.lexicographicallyPrecedes(b.bytes)
}

/// A dictionary plus the operations `SortedMap` must agree with.
struct ReferenceMap<Value: Equatable> {
    var storage: [RecordKey: Value] = [:]

    var count: Int { storage.count }
    var sortedKeys: [RecordKey] { storage.keys.sorted(by: referenceLess) }
    var sortedRecords: [(RecordKey, Value)] { sortedKeys.map { ($0, storage[$0]!) } }

    subscript(key: RecordKey) -> Value? {
        get { storage[key] }
        set { storage[key] = newValue }
    }

    /// Keys ≥ `start` (all if nil), in order; `sorted` is `sortedKeys`,
    /// passed in when the caller asks many times.
    func keys(from start: RecordKey?, sorted: [RecordKey]? = nil) -> [RecordKey] {
        let all = sorted ?? sortedKeys
        guard let start else { return all }
        return all.filter { !referenceLess($0, start) }
    }

    func keys(withPrefix prefix: RecordKey, sorted: [RecordKey]? = nil) -> [RecordKey] {
        (sorted ?? sortedKeys).filter {
            $0.bytes.count >= prefix.bytes.count && $0.bytes[0..<prefix.bytes.count].elementsEqual(prefix.bytes)
        }
    }
}

// MARK: Random keys

/// Bytes chosen so that keys share prefixes often and straddle 0x7f/0x80
/// (a signed-char comparison would misorder them).
let keyAlphabet: [UInt8] = [0x00, 0x01, 0x41, 0x61, 0x62, 0x7f, 0x80, 0x81, 0xc3, 0xfe, 0xff]

extension SplitMix64 {
    /// A short key over `keyAlphabet` (the empty key included): many
    /// collisions and prefix relations.
    mutating func shortKey(maxLength: Int = 3) -> RecordKey {
        let length = below(maxLength + 1)
        return RecordKey((0..<length).map { _ in keyAlphabet[below(keyAlphabet.count)] })
    }

    /// A key from a space of several thousand: a 1-2 byte "bucket" prefix
    /// then 1-3 more bytes, so prefixes select contiguous runs of records.
    mutating func wideKey() -> RecordKey {
        var bytes = [keyAlphabet[below(keyAlphabet.count)]]
        if below(2) == 0 { bytes.append(keyAlphabet[below(keyAlphabet.count)]) }
        for _ in 0..<(1 + below(3)) { bytes.append(UInt8(truncatingIfNeeded: next())) }
        return RecordKey(bytes)
    }

    /// A 4-byte big-endian key for `i`: distinct keys in ascending order.
    static func orderedKey(_ i: Int) -> RecordKey {
        RecordKey([UInt8(truncatingIfNeeded: i >> 24), UInt8(truncatingIfNeeded: i >> 16),
                   UInt8(truncatingIfNeeded: i >> 8), UInt8(truncatingIfNeeded: i)])
    }
}

// MARK: Collecting from the map

extension SortedMap {
    /// The records `forEach(from:)` visits, stopping after `limit`.
    func records(from start: RecordKey?, limit: Int = .max) -> [(RecordKey, Value)] {
        var out = [(RecordKey, Value)]()
        guard limit > 0 else { return out }
        forEach(from: start) { key, value in
            out.append((key, value))
            return out.count < limit
        }
        return out
    }

    func records(prefix: RecordKey, limit: Int = .max) -> [(RecordKey, Value)] {
        var out = [(RecordKey, Value)]()
        guard limit > 0 else { return out }
        forEach(prefix: prefix) { key, value in
            out.append((key, value))
            return out.count < limit
        }
        return out
    }

    /// Incremental construction, in the given order.
    init(inserting records: [(RecordKey, Value)]) {
        self.init()
        for (key, value) in records { set(key, value) }
    }
}

// MARK: Structure (white box)

extension SortedMap {
    /// Levels from the root to the leaves (0 for an empty map).
    var height: Int {
        guard var node = root else { return 0 }
        var levels = 1
        while !node.isLeaf { node = node.children[0]; levels += 1 }
        return levels
    }

    /// The leaf nodes, left to right.
    var leafNodes: [Node] {
        var out = [Node]()
        func walk(_ node: Node) {
            if node.isLeaf { out.append(node) } else { node.children.forEach(walk) }
        }
        if let root { walk(root) }
        return out
    }

    /// Every node, for counting how many two maps share.
    var allNodes: [Node] {
        var out = [Node]()
        func walk(_ node: Node) {
            out.append(node)
            node.children.forEach(walk)
        }
        if let root { walk(root) }
        return out
    }

    /// Checks what lookups rely on: no empty node, every leaf at the same
    /// depth, capacities respected, leaf keys strictly ascending, each
    /// separator equal to the first key of its subtree, counts exact.
    func checkStructure(sourceLocation: SourceLocation = #_sourceLocation) {
        guard let root else { return }
        var problems = [String]()
        var leafDepths = Set<Int>()
        var previousKey: RecordKey?
        func walk(_ node: Node, depth: Int) -> (first: RecordKey?, count: Int) {
            if node.isLeaf {
                leafDepths.insert(depth)
                if node.keys.isEmpty { problems.append("empty leaf at depth \(depth)") }
                if node.keys.count != node.values.count { problems.append("leaf keys/values mismatch") }
                if node.keys.count > Self.leafCapacity { problems.append("leaf over capacity: \(node.keys.count)") }
                if node.count != node.keys.count { problems.append("leaf count \(node.count) ≠ \(node.keys.count)") }
                for key in node.keys {
                    if let previousKey, !referenceLess(previousKey, key) {
                        problems.append("keys out of order: \(previousKey) then \(key)")
                    }
                    previousKey = key
                }
                return (node.keys.first, node.keys.count)
            }
            if node.children.count > Self.branchCapacity { problems.append("branch over capacity") }
            if node.keys.count != node.children.count { problems.append("separators/children mismatch") }
            if !node.values.isEmpty { problems.append("internal node with values") }
            var total = 0
            for (i, child) in node.children.enumerated() {
                let (first, count) = walk(child, depth: depth + 1)
                if i < node.keys.count, node.keys[i] != first {
                    problems.append("stale separator \(node.keys[i]), subtree starts at \(String(describing: first))")
                }
                if count == 0 { problems.append("empty subtree") }
                total += count
            }
            if node.children.isEmpty { problems.append("internal node without children") }
            if node.count != total { problems.append("subtree count \(node.count) ≠ \(total)") }
            return (node.keys.first, total)
        }
        _ = walk(root, depth: 0)
        if leafDepths.count != 1 { problems.append("leaves at depths \(leafDepths.sorted())") }
        #expect(problems.isEmpty, "\(problems.count) structural problems, first: \(problems.prefix(5))",
                sourceLocation: sourceLocation)
    }
}

/// Full comparison of a map against a reference through the public API.
func expectMatches<V: Equatable>(_ map: SortedMap<V>, _ reference: ReferenceMap<V>,
                                 sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(map.count == reference.count, sourceLocation: sourceLocation)
    #expect(map.isEmpty == (reference.count == 0), sourceLocation: sourceLocation)
    let expected = reference.sortedRecords
    #expect(map.keys == expected.map(\.0), sourceLocation: sourceLocation)
    let visited = map.records(from: nil)
    #expect(visited.map(\.0) == expected.map(\.0), sourceLocation: sourceLocation)
    #expect(visited.map(\.1) == expected.map(\.1), sourceLocation: sourceLocation)
    let wrong = expected.filter { map[$0.0] != $0.1 }.map(\.0)
    #expect(wrong.isEmpty, "\(wrong.count) keys read wrong, first: \(wrong.prefix(5))", sourceLocation: sourceLocation)
    #expect(map.first?.key == expected.first?.0, sourceLocation: sourceLocation)
    #expect(map.first?.value == expected.first?.1, sourceLocation: sourceLocation)
}
