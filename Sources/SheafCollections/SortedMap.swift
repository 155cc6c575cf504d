/// A persistent sorted map from `RecordKey` to `Value`: a B+tree whose nodes
/// are shared between copies.
///
/// Copying a map is O(1); mutating a copy copies only the O(log n) nodes on
/// the path to the change. That is what lets a replica hand an immutable view
/// of its whole state to a snapshot writer while appends go on, and lets the
/// writer find what changed since the previous snapshot by skipping the
/// subtrees both versions share (`changedKeys`).
public struct SortedMap<Value: Sendable>: Sendable {
    @usableFromInline var root: Node?

    @inlinable
    public init() { root = nil }

    @inlinable
    public var count: Int { root?.count ?? 0 }
    @inlinable
    public var isEmpty: Bool { root == nil }

    // MARK: Nodes

    /// Leaves hold up to `leafCapacity` records; internal nodes up to
    /// `branchCapacity` children. Underfull nodes after removals are allowed
    /// (removals are rare: CRDT models keep tombstones).
    @usableFromInline static var leafCapacity: Int { 64 }
    @usableFromInline static var branchCapacity: Int { 64 }

    // Nodes are mutated only while uniquely referenced (checked with
    // isKnownUniquelyReferenced), so a node reachable from two maps is never
    // written: sharing across threads is safe.
    @usableFromInline
    final class Node: @unchecked Sendable {
        /// Leaf: the records' keys. Internal: the first key of each child.
        @usableFromInline var keys: [RecordKey]
        @usableFromInline var values: [Value]
        @usableFromInline var children: [Node]
        @usableFromInline var count: Int
        @inlinable var isLeaf: Bool { children.isEmpty }

        @inlinable
        init(keys: [RecordKey], values: [Value], children: [Node], count: Int) {
            self.keys = keys
            self.values = values
            self.children = children
            self.count = count
        }

        @inlinable func copy() -> Node { Node(keys: keys, values: values, children: children, count: count) }

        /// Index of the child whose range holds `key` (internal nodes).
        @inlinable func childIndex(for key: RecordKey) -> Int {
            var lo = 0
            var hi = keys.count - 1
            while lo < hi {
                let mid = (lo + hi + 1) / 2
                if keys[mid] <= key { lo = mid } else { hi = mid - 1 }
            }
            return lo
        }

        /// Position of `key` in a leaf, or where it would go.
        @inlinable func leafSearch(_ key: RecordKey) -> (index: Int, found: Bool) {
            var lo = 0
            var hi = keys.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if keys[mid] < key { lo = mid + 1 } else { hi = mid }
            }
            return (lo, lo < keys.count && keys[lo] == key)
        }
    }

    // MARK: Reading

    @inlinable
    public subscript(key: RecordKey) -> Value? {
        guard var node = root else { return nil }
        while !node.isLeaf { node = node.children[node.childIndex(for: key)] }
        let (i, found) = node.leafSearch(key)
        return found ? node.values[i] : nil
    }

    @inlinable
    public func contains(_ key: RecordKey) -> Bool { self[key] != nil }

    public var first: (key: RecordKey, value: Value)? {
        guard var node = root else { return nil }
        while !node.isLeaf { node = node.children[0] }
        return node.keys.isEmpty ? nil : (node.keys[0], node.values[0])
    }

    /// Visits records with key ≥ `start` (all if nil) in key order until
    /// `body` returns false.
    @inlinable
    public func forEach(from start: RecordKey? = nil, _ body: (RecordKey, Value) throws -> Bool) rethrows {
        guard let root else { return }
        _ = try Self.visit(root, from: start, body)
    }

    @inlinable
    @usableFromInline static func visit(_ node: Node, from start: RecordKey?, _ body: (RecordKey, Value) throws -> Bool) rethrows -> Bool {
        if node.isLeaf {
            let begin = start.map { node.leafSearch($0).index } ?? 0
            for i in begin..<node.keys.count where try !body(node.keys[i], node.values[i]) { return false }
            return true
        }
        let begin = start.map { node.childIndex(for: $0) } ?? 0
        for i in begin..<node.children.count {
            // Only the first visited child can hold keys below `start`.
            guard try visit(node.children[i], from: i == begin ? start : nil, body) else { return false }
        }
        return true
    }

    /// Records whose keys start with `prefix`, in key order.
    public func forEach(prefix: RecordKey, _ body: (RecordKey, Value) throws -> Bool) rethrows {
        try forEach(from: prefix) { key, value in
            guard key.hasPrefix(prefix) else { return false }
            return try body(key, value)
        }
    }

    public var keys: [RecordKey] {
        var out = [RecordKey]()
        out.reserveCapacity(count)
        forEach { key, _ in out.append(key); return true }
        return out
    }

    // MARK: Writing

    /// Sets `key` to `value`, returning the previous value.
    @discardableResult
    @inlinable
    public mutating func set(_ key: RecordKey, _ value: Value) -> Value? {
        guard root != nil else {
            root = Node(keys: [key], values: [value], children: [], count: 1)
            return nil
        }
        if !isKnownUniquelyReferenced(&root!) { root = root!.copy() }
        let (previous, split) = Self.insert(key, value, into: root!)
        if let split {
            let left = root!
            root = Node(keys: [left.keys[0], split.keys[0]], values: [], children: [left, split],
                        count: left.count + split.count)
        }
        return previous
    }

    /// Inserts into a uniquely referenced node; returns the old value and the
    /// new right sibling if the node split.
    @inlinable
    @usableFromInline static func insert(_ key: RecordKey, _ value: Value, into node: Node) -> (Value?, Node?) {
        if node.isLeaf {
            let (i, found) = node.leafSearch(key)
            if found {
                let old = node.values[i]
                node.values[i] = value
                return (old, nil)
            }
            node.keys.insert(key, at: i)
            node.values.insert(value, at: i)
            node.count += 1
            guard node.keys.count > leafCapacity else { return (nil, nil) }
            let half = node.keys.count / 2
            let right = Node(keys: Array(node.keys[half...]), values: Array(node.values[half...]), children: [],
                             count: node.keys.count - half)
            node.keys.removeSubrange(half...)
            node.values.removeSubrange(half...)
            node.count = half
            return (nil, right)
        }
        let i = node.childIndex(for: key)
        if !isKnownUniquelyReferenced(&node.children[i]) { node.children[i] = node.children[i].copy() }
        let child = node.children[i]
        let (old, split) = insert(key, value, into: child)
        node.keys[i] = child.keys[0]
        if old == nil { node.count += 1 }
        if let split {
            node.children.insert(split, at: i + 1)
            node.keys.insert(split.keys[0], at: i + 1)
        }
        guard node.children.count > branchCapacity else { return (old, nil) }
        let half = node.children.count / 2
        let moved = Array(node.children[half...])
        let right = Node(keys: Array(node.keys[half...]), values: [], children: moved,
                         count: moved.reduce(0) { $0 + $1.count })
        node.children.removeSubrange(half...)
        node.keys.removeSubrange(half...)
        node.count -= right.count
        return (old, right)
    }

    /// Gives `body` in-place access to the value at `key` (nil if absent);
    /// setting it to nil removes the record. Unlike read-modify-`set`, a value
    /// with its own storage (a dictionary, an array) is not copied when only
    /// this map holds it: the value is moved out of its leaf for the call.
    @discardableResult
    @inlinable
    public mutating func update<R>(_ key: RecordKey, _ body: (inout Value?) -> R) -> R {
        guard root != nil, contains(key) else {
            var value: Value? = nil
            let result = body(&value)
            if let value { set(key, value) }
            return result
        }
        if !isKnownUniquelyReferenced(&root!) { root = root!.copy() }
        var path: [(Node, Int)] = []
        var node = root!
        while !node.isLeaf {
            let i = node.childIndex(for: key)
            if !isKnownUniquelyReferenced(&node.children[i]) { node.children[i] = node.children[i].copy() }
            path.append((node, i))
            node = node.children[i]
        }
        let (i, _) = node.leafSearch(key)
        var value: Value? = node.values.remove(at: i)
        let result = body(&value)
        if let value {
            node.values.insert(value, at: i)
            return result
        }
        // Removed: drop the key and fix counts and first keys up the path.
        node.keys.remove(at: i)
        node.count -= 1
        var child = node
        for (parent, j) in path.reversed() {
            parent.count -= 1
            if child.count == 0 {
                parent.children.remove(at: j)
                parent.keys.remove(at: j)
            } else {
                parent.keys[j] = child.keys[0]
            }
            child = parent
        }
        if root!.count == 0 {
            root = nil
        } else if !root!.isLeaf && root!.children.count == 1 {
            root = root!.children[0]
        }
        return result
    }

    /// Removes `key`, returning its value.
    @discardableResult
    @inlinable
    public mutating func remove(_ key: RecordKey) -> Value? {
        guard root != nil, self[key] != nil else { return nil }
        if !isKnownUniquelyReferenced(&root!) { root = root!.copy() }
        let old = Self.remove(key, from: root!)
        if root!.count == 0 {
            root = nil
        } else if !root!.isLeaf && root!.children.count == 1 {
            root = root!.children[0]
        }
        return old
    }

    @inlinable
    @usableFromInline static func remove(_ key: RecordKey, from node: Node) -> Value? {
        if node.isLeaf {
            let (i, found) = node.leafSearch(key)
            guard found else { return nil }
            node.keys.remove(at: i)
            node.count -= 1
            return node.values.remove(at: i)
        }
        let i = node.childIndex(for: key)
        if !isKnownUniquelyReferenced(&node.children[i]) { node.children[i] = node.children[i].copy() }
        let child = node.children[i]
        guard let old = remove(key, from: child) else { return nil }
        node.count -= 1
        if child.count == 0 {
            node.children.remove(at: i)
            node.keys.remove(at: i)
        } else {
            node.keys[i] = child.keys[0]
        }
        return old
    }

    // MARK: Bulk loading

    /// Builds a map from records already in strictly ascending key order, in
    /// O(n). Returns nil if the keys are not strictly ascending.
    public init?(sortedRecords records: [(RecordKey, Value)]) {
        guard !records.isEmpty else { root = nil; return }
        for i in 1..<records.count where !(records[i - 1].0 < records[i].0) { return nil }
        let fill = Self.leafCapacity * 3 / 4
        var level: [Node] = stride(from: 0, to: records.count, by: fill).map { start in
            let slice = records[start..<min(records.count, start + fill)]
            return Node(keys: slice.map(\.0), values: slice.map(\.1), children: [], count: slice.count)
        }
        let branchFill = Self.branchCapacity * 3 / 4
        while level.count > 1 {
            level = stride(from: 0, to: level.count, by: branchFill).map { start in
                let group = Array(level[start..<min(level.count, start + branchFill)])
                return Node(keys: group.map { $0.keys[0] }, values: [], children: group,
                            count: group.reduce(0) { $0 + $1.count })
            }
        }
        root = level[0]
    }

    // MARK: Differences

    /// Keys whose records differ between `old` and `new` (added, removed, or
    /// changed per `isEqual`), in key order. Leaves shared by both versions
    /// are skipped without looking inside, so the cost follows the size of the
    /// change, plus one step per leaf.
    public static func changedKeys(from old: SortedMap, to new: SortedMap,
                                   isEqual: (Value, Value) -> Bool) -> [RecordKey] {
        if old.root === new.root { return [] }
        var a = LeafCursor(old.root)
        var b = LeafCursor(new.root)
        var changed = [RecordKey]()
        while true {
            // Skip leaves the two versions share, when both cursors sit at their start.
            while let la = a.leaf, let lb = b.leaf, la === lb, a.index == 0, b.index == 0 {
                a.nextLeaf()
                b.nextLeaf()
            }
            switch (a.current, b.current) {
            case (nil, nil):
                return changed
            case (let x?, nil):
                changed.append(x.0); a.advance()
            case (nil, let y?):
                changed.append(y.0); b.advance()
            case (let x?, let y?):
                if x.0 < y.0 {
                    changed.append(x.0); a.advance()
                } else if y.0 < x.0 {
                    changed.append(y.0); b.advance()
                } else {
                    if !isEqual(x.1, y.1) { changed.append(x.0) }
                    a.advance(); b.advance()
                }
            }
        }
    }

    /// Walks leaves left to right.
    struct LeafCursor {
        private var stack: [(Node, Int)] = []
        private(set) var leaf: Node?
        private(set) var index = 0

        init(_ root: Node?) {
            guard let root else { return }
            descend(from: root)
        }

        private mutating func descend(from node: Node) {
            var node = node
            while !node.isLeaf {
                stack.append((node, 0))
                node = node.children[0]
            }
            leaf = node
            index = 0
            if node.keys.isEmpty { nextLeaf() }
        }

        var current: (RecordKey, Value)? {
            guard let leaf, index < leaf.keys.count else { return nil }
            return (leaf.keys[index], leaf.values[index])
        }

        mutating func advance() {
            index += 1
            if let leaf, index >= leaf.keys.count { nextLeaf() }
        }

        mutating func nextLeaf() {
            while let (node, i) = stack.popLast() {
                if i + 1 < node.children.count {
                    stack.append((node, i + 1))
                    descend(from: node.children[i + 1])
                    return
                }
            }
            leaf = nil
            index = 0
        }
    }
}

extension SortedMap: Equatable where Value: Equatable {
    public static func == (a: SortedMap, b: SortedMap) -> Bool {
        if a.root === b.root { return true }
        guard a.count == b.count else { return false }
        return changedKeys(from: a, to: b, isEqual: ==).isEmpty
    }
}
