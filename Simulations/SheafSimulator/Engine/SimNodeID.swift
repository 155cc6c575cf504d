/// A simulated node, numbered in the order it was added. Dense numbers let
/// the engine keep per-node state in arrays and make traces independent of
/// anything but the order of `addNode` calls.
public struct SimNodeID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let index: Int

    public init(_ index: Int) { self.index = index }

    public static func < (a: SimNodeID, b: SimNodeID) -> Bool { a.index < b.index }
    public var description: String { "n\(index)" }
}
