import SheafCrypto
import SheafProtocol

/// The simulated transport's knowledge: which key each node proves in its
/// handshake, the endpoint it listens at (`n<index>`), and a session id both
/// ends of a connection agree on (a real transport derives it from the
/// Noise handshake hash).
@MainActor public final class AddressBook {
    private var keys: [PublicKey: SimNodeID] = [:]
    /// By node index (asked on every delivery).
    private var nodes: [PublicKey?] = []
    private var sessions: [PairKey: UInt64] = [:]

    private struct PairKey: Hashable {
        var low: SimNodeID
        var high: SimNodeID
        init(_ a: SimNodeID, _ b: SimNodeID) { (low, high) = a < b ? (a, b) : (b, a) }
    }

    public init() {}

    public func register(_ key: PublicKey, as node: SimNodeID) {
        keys[key] = node
        if nodes.count <= node.index { nodes.append(contentsOf: repeatElement(nil, count: node.index + 1 - nodes.count)) }
        nodes[node.index] = key
    }

    public func node(of key: PublicKey) -> SimNodeID? { keys[key] }
    public func key(of node: SimNodeID) -> PublicKey? { nodes.indices.contains(node.index) ? nodes[node.index] : nil }

    public func address(of node: SimNodeID) -> PeerAddress? {
        key(of: node).map { PeerAddress(node: $0, endpoint: Self.endpoint(node)) }
    }

    public static func endpoint(_ node: SimNodeID) -> String { "n\(node.index)" }

    public static func node(fromEndpoint endpoint: String) -> SimNodeID? {
        guard endpoint.first == "n", let index = Int(endpoint.dropFirst()), index >= 0 else { return nil }
        return SimNodeID(index)
    }

    /// A new connection between `a` (who dialled) and `b`: its session id.
    public func openSession(_ a: SimNodeID, _ b: SimNodeID) -> Hash {
        let pair = PairKey(a, b)
        sessions[pair, default: 0] += 1
        return session(pair)
    }

    /// The session id of the newest connection between `a` and `b`.
    public func currentSession(_ a: SimNodeID, _ b: SimNodeID) -> Hash { session(PairKey(a, b)) }

    private func session(_ pair: PairKey) -> Hash {
        var bytes = [UInt8]()
        for value in [UInt64(pair.low.index), UInt64(pair.high.index), sessions[pair] ?? 0] {
            withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
        }
        return Hash.of(bytes, domain: ProtocolDomains.trace)
    }
}
