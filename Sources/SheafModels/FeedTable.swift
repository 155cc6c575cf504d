import SheafCrypto

/// The feeds a snapshot's records may name, each by a small number instead
/// of its 32-byte key. Records stamped with writers' keys (the object
/// store's last-writer-wins registers) store `index + 1` for a feed in the
/// table and `0 ‖ key` for any other, so a writer's key is written once
/// per snapshot (in its metadata), not once per record.
///
/// The replica builds the table from the space's admissions: the genesis
/// key, then every feed ever admitted in the order the genesis feed first
/// admitted it. That order is part of the state (its metadata is under the
/// state root), so every node numbers feeds alike, and it only grows:
/// a record's encoding never changes when a writer is admitted later.
public struct FeedTable: Hashable, Sendable {
    public let keys: [PublicKey]
    /// An open-addressing index over `keys`: slot `i` holds a key's
    /// position + 1, or 0 when empty. Encoding a snapshot looks up a feed
    /// for every stamp, so this avoids hashing 32 bytes each time: a key's
    /// first eight bytes (uniform, for public keys) pick its slot.
    private let slots: [Int32]

    /// No feeds: every key is written out in full.
    public static let empty = FeedTable([])

    /// `keys` must be distinct; a repeated key keeps its first position.
    public init(_ keys: [PublicKey]) {
        var size = 4
        while size < 2 * keys.count { size *= 2 }
        var slots = [Int32](repeating: 0, count: size)
        var unique: [PublicKey] = []
        for key in keys where Self.find(key, in: slots, keys: unique) == nil {
            var i = Self.start(key, slots: size)
            while slots[i] != 0 { i = (i + 1) & (size - 1) }
            unique.append(key)
            slots[i] = Int32(unique.count)
        }
        self.keys = unique
        self.slots = slots
    }

    public var count: Int { keys.count }

    public func index(of key: PublicKey) -> Int? { Self.find(key, in: slots, keys: keys) }

    public func key(at index: Int) -> PublicKey? { keys.indices.contains(index) ? keys[index] : nil }

    private static func find(_ key: PublicKey, in slots: [Int32], keys: [PublicKey]) -> Int? {
        var i = start(key, slots: slots.count)
        while true {
            let slot = Int(slots[i])
            if slot == 0 { return nil }
            if keys[slot - 1] == key { return slot - 1 }
            i = (i + 1) & (slots.count - 1)
        }
    }

    /// The first slot to probe for `key` in a table of `size` (a power of two) slots.
    private static func start(_ key: PublicKey, slots size: Int) -> Int {
        Int(truncatingIfNeeded: (key.raw.firstWord &* 0x9E37_79B9_7F4A_7C15) >> 32) & (size - 1)
    }
}
