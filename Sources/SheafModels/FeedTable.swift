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
    private let positions: [PublicKey: Int]

    /// No feeds: every key is written out in full.
    public static let empty = FeedTable([])

    /// `keys` must be distinct; a repeated key keeps its first position.
    public init(_ keys: [PublicKey]) {
        var positions: [PublicKey: Int] = [:]
        var unique: [PublicKey] = []
        for key in keys where positions[key] == nil {
            positions[key] = unique.count
            unique.append(key)
        }
        self.keys = unique
        self.positions = positions
    }

    public var count: Int { keys.count }

    public func index(of key: PublicKey) -> Int? { positions[key] }

    public func key(at index: Int) -> PublicKey? { keys.indices.contains(index) ? keys[index] : nil }
}
