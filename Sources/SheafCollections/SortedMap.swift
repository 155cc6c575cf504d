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

        // The searches read keys through one buffer pointer: indexing the
        // array property itself costs an access check and a retain per probe.

        /// Index of the child whose range holds `key` (internal nodes).
        @inlinable func childIndex(for key: RecordKey) -> Int {
            keys.withUnsafeBufferPointer { keys in
                var lo = 0
                var hi = keys.count - 1
                while lo < hi {
                    let mid = (lo + hi + 1) / 2
                    if keys[mid] <= key { lo = mid } else { hi = mid - 1 }
                }
                return lo
            }
        }

        /// Position of `key` in a leaf, or where it would go.
        @inlinable func leafSearch(_ key: RecordKey) -> (index: Int, found: Bool) {
            keys.withUnsafeBufferPointer { keys in
                var lo = 0
                var hi = keys.count
                while lo < hi {
                    let mid = (lo + hi) / 2
                    if keys[mid] < key { lo = mid + 1 } else { hi = mid }
                }
                return (lo, lo < keys.count && keys[lo] == key)
            }
        }

        /// Whether both nodes hold the very same keys buffer (a copy whose
        /// keys were never changed), so their keys are equal at a glance.
        func hasSameKeys(as other: Node) -> Bool {
            keys.withUnsafeBufferPointer { a in
                other.keys.withUnsafeBufferPointer { b in a.baseAddress == b.baseAddress && a.count == b.count }
            }
        }

        /// Swaps two values by moving them (no copies, no reference counting).
        @inlinable func swapValues(_ i: Int, _ j: Int) {
            values.withUnsafeMutableBufferPointer { $0.swapAt(i, j) }
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
    static func visit(_ node: Node, from start: RecordKey?, _ body: (RecordKey, Value) throws -> Bool) rethrows -> Bool {
        if node.isLeaf {
            let begin = start.map { node.leafSearch($0).index } ?? 0
            // Lent from the leaf's buffers: subscripting the arrays would copy
            // (and retain the storage of) each key and record.
            return try node.keys.withUnsafeBufferPointer { keys in
                try node.values.withUnsafeBufferPointer { values in
                    for i in begin..<keys.count where try !body(keys[i], values[i]) { return false }
                    return true
                }
            }
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
    static func insert(_ key: RecordKey, _ value: Value, into node: Node) -> (Value?, Node?) {
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
        if root != nil {
            if !isKnownUniquelyReferenced(&root!) { root = root!.copy() }
            if let outcome = Self.modify(key, in: root!, body) {
                if outcome.removed { collapseRoot() }
                return outcome.result
            }
        }
        var value: Value? = nil
        let result = body(&value)
        if let value { set(key, value) }
        return result
    }

    /// Runs `body` on the record at `key` in the subtree of `node` (uniquely
    /// referenced), copying shared nodes on the way down; nil if the key is
    /// absent. Fixes counts and first keys on the way up if it was removed.
    @inlinable
    static func modify<R>(_ key: RecordKey, in node: Node,
                                            _ body: (inout Value?) -> R) -> (result: R, removed: Bool)? {
        if node.isLeaf {
            let (i, found) = node.leafSearch(key)
            guard found else { return nil }
            // Move the value out in O(1): swap it to the end and pop it, so
            // the leaf no longer holds a reference to its storage.
            let last = node.values.count - 1
            node.swapValues(i, last)
            var value: Value? = node.values.removeLast()
            let result = body(&value)
            if let value {
                node.values.append(value)
                node.swapValues(i, last)
                return (result, false)
            }
            // Removed: the former last value sits at i; put it back at the end.
            if i < last { node.values.append(node.values.remove(at: i)) }
            node.keys.remove(at: i)
            node.count -= 1
            return (result, true)
        }
        let i = node.childIndex(for: key)
        if !isKnownUniquelyReferenced(&node.children[i]) { node.children[i] = node.children[i].copy() }
        let child = node.children[i]
        guard let outcome = modify(key, in: child, body) else { return nil }
        if outcome.removed {
            node.count -= 1
            if child.count == 0 {
                node.children.remove(at: i)
                node.keys.remove(at: i)
            } else {
                node.keys[i] = child.keys[0]
            }
        }
        return outcome
    }

    /// After a removal: drops an emptied root, and a root with one child.
    @inlinable
    mutating func collapseRoot() {
        guard let node = root else { return }
        if node.count == 0 {
            root = nil
        } else if !node.isLeaf && node.children.count == 1 {
            root = node.children[0]
        }
    }

    /// Removes `key`, returning its value.
    @discardableResult
    @inlinable
    public mutating func remove(_ key: RecordKey) -> Value? {
        // Looked up first, so removing an absent key copies no shared node.
        guard contains(key) else { return nil }
        return update(key) { value in
            defer { value = nil }
            return value
        }
    }

    // MARK: Bulk loading

    /// Builds a map from records already in strictly ascending key order, in
    /// O(n). Returns nil if the keys are not strictly ascending.
    public init?(sortedRecords records: [(RecordKey, Value)]) {
        var builder = Builder()
        for (key, value) in records {
            guard builder.append(key, value) else { return nil }
        }
        self = builder.build()
    }

    /// Builds a map in O(n) from records appended in strictly ascending key
    /// order, straight into leaves (no intermediate array of records).
    /// Builders of consecutive key ranges, filled on different threads, join
    /// with `append(contentsOf:)`.
    public struct Builder: Sendable {
        @usableFromInline var leaves: [Node] = []
        @usableFromInline var keys: [RecordKey] = []
        @usableFromInline var values: [Value] = []

        /// Records per leaf: room left for later inserts before a split.
        @usableFromInline static var fill: Int { SortedMap.leafCapacity * 3 / 4 }

        public init() {}

        /// Records appended so far.
        public var count: Int { leaves.reduce(keys.count) { $0 + $1.count } }

        @usableFromInline var lastKey: RecordKey? { keys.last ?? leaves.last?.keys.last }

        /// Appends a record; returns false (and appends nothing) unless its
        /// key is above every key appended so far.
        @inlinable
        public mutating func append(_ key: RecordKey, _ value: Value) -> Bool {
            if let last = lastKey, !(last < key) { return false }
            if keys.isEmpty {
                keys.reserveCapacity(Self.fill)
                values.reserveCapacity(Self.fill)
            }
            keys.append(key)
            values.append(value)
            if keys.count == Self.fill { closeLeaf() }
            return true
        }

        /// Appends every record of `other`, whose keys must all be above
        /// this builder's; returns false (and appends nothing) otherwise.
        /// The leaf this builder was filling is closed as it is.
        public mutating func append(contentsOf other: Builder) -> Bool {
            if let last = lastKey, let first = other.leaves.first?.keys.first ?? other.keys.first, !(last < first) {
                return false
            }
            closeLeaf()
            leaves.append(contentsOf: other.leaves)
            keys = other.keys
            values = other.values
            return true
        }

        @usableFromInline mutating func closeLeaf() {
            guard !keys.isEmpty else { return }
            leaves.append(Node(keys: keys, values: values, children: [], count: keys.count))
            keys = []
            values = []
        }

        /// The map of every record appended.
        public consuming func build() -> SortedMap {
            closeLeaf()
            var level = leaves
            let fill = SortedMap.branchCapacity * 3 / 4
            while level.count > 1 {
                level = stride(from: 0, to: level.count, by: fill).map { start in
                    let group = Array(level[start..<min(level.count, start + fill)])
                    return Node(keys: group.map { $0.keys[0] }, values: [], children: group,
                                count: group.reduce(0) { $0 + $1.count })
                }
            }
            var map = SortedMap()
            map.root = level.first
            return map
        }
    }

    // MARK: Differences

    /// Keys whose records differ between `old` and `new` (added, removed, or
    /// changed per `isEqual`), in key order. Leaves shared by both versions
    /// are skipped without looking inside, so the cost follows the size of the
    /// change, plus one step per leaf.
    public static func changedKeys(from old: SortedMap, to new: SortedMap,
                                   isEqual: (Value, Value) -> Bool) -> [RecordKey] {
        var changed = [RecordKey]()
        diff(from: old, to: new, isEqual: isEqual) { key, _ in changed.append(key) }
        return changed
    }

    /// The keys `changedKeys` finds, split by whether the key is in both
    /// versions (only its value changed) or in one of them.
    public static func changes(from old: SortedMap, to new: SortedMap, isEqual: (Value, Value) -> Bool) -> KeyChanges {
        var changes = KeyChanges()
        diff(from: old, to: new, isEqual: isEqual) { key, inBoth in
            if inBoth { changes.modified.append(key) } else { changes.addedOrRemoved.append(key) }
        }
        return changes
    }

    /// The changes from a version of which only the keys are known
    /// (`oldKeys`, ascending): keys in one side only are added or removed,
    /// and every key in both counts as modified, since its value cannot be
    /// compared. O(n) key comparisons, most of them on shared key storage.
    public static func changes(fromKeys oldKeys: [RecordKey], to new: SortedMap) -> KeyChanges {
        var changes = KeyChanges()
        changes.modified.reserveCapacity(min(oldKeys.count, new.count))
        var i = 0
        new.forEach { key, _ in
            while i < oldKeys.count, oldKeys[i] < key {
                changes.addedOrRemoved.append(oldKeys[i])
                i += 1
            }
            if i < oldKeys.count, oldKeys[i] == key {
                changes.modified.append(key)
                i += 1
            } else {
                changes.addedOrRemoved.append(key)
            }
            return true
        }
        changes.addedOrRemoved.append(contentsOf: oldKeys[i...])
        return changes
    }

    /// Calls `body(key, inBoth)` for each key whose record differs, in key order.
    private static func diff(from old: SortedMap, to new: SortedMap, isEqual: (Value, Value) -> Bool,
                             _ body: (RecordKey, _ inBoth: Bool) -> Void) {
        if old.root === new.root { return }
        var a = LeafCursor(old.root)
        var b = LeafCursor(new.root)
        while true {
            // Whole leaves at once while both cursors sit at a leaf's start:
            // a leaf both versions share is skipped, and a copied leaf whose
            // keys were left alone (values changed in place) needs no key
            // comparisons.
            while let la = a.leaf, let lb = b.leaf, a.index == 0, b.index == 0, la === lb || la.hasSameKeys(as: lb) {
                if la !== lb {
                    la.values.withUnsafeBufferPointer { old in
                        lb.values.withUnsafeBufferPointer { new in
                            for i in old.indices where !isEqual(old[i], new[i]) { body(lb.keys[i], true) }
                        }
                    }
                }
                a.nextLeaf()
                b.nextLeaf()
            }
            switch (a.key, b.key) {
            case (nil, nil):
                return
            case (let x?, nil):
                body(x, false); a.advance()
            case (nil, let y?):
                body(y, false); b.advance()
            case (let x?, let y?):
                if x < y {
                    body(x, false); a.advance()
                } else if y < x {
                    body(y, false); b.advance()
                } else {
                    if !a.valueEquals(b, isEqual) { body(x, true) }
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

        var key: RecordKey? {
            guard let leaf, index < leaf.keys.count else { return nil }
            return leaf.keys[index]
        }

        /// Whether the values under both cursors are equal, compared where
        /// they lie (copying them out would count references of each part).
        func valueEquals(_ other: LeafCursor, _ isEqual: (Value, Value) -> Bool) -> Bool {
            guard let leaf, let otherLeaf = other.leaf else { return false }
            return leaf.values.withUnsafeBufferPointer { a in
                otherLeaf.values.withUnsafeBufferPointer { b in isEqual(a[index], b[other.index]) }
            }
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

/// How two versions of a map differ, by key, each list ascending.
public struct KeyChanges: Hashable, Sendable {
    /// Keys in both versions whose values differ.
    public var modified: [RecordKey]
    /// Keys in only one of the versions.
    public var addedOrRemoved: [RecordKey]

    public init(modified: [RecordKey] = [], addedOrRemoved: [RecordKey] = []) {
        self.modified = modified
        self.addedOrRemoved = addedOrRemoved
    }
}
