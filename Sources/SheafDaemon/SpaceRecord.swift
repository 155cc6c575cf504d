import Foundation
import SheafCrypto
import SheafFiles
import SheafProtocol

/// What the daemon remembers about a space besides the replica: how it
/// trusts snapshots, and whom to rejoin through after a restart.
struct SpaceRecord: Codable, Sendable, Equatable {
    struct Peer: Codable, Sendable, Equatable {
        var node: String
        var endpoint: String
    }

    var trust: String
    /// Whether this node created the space (it holds the genesis key).
    var created: Bool
    var peers: [Peer] = []

    static let maxPeers = 32

    /// `read` refuses a record whose policy does not parse, so the fallback
    /// is never taken; were it, it trusts no snapshot rather than too many.
    var trustPolicy: TrustPolicy { TrustPolicy(trust) ?? .replay }

    var contacts: [PeerAddress] {
        peers.compactMap { peer in PublicKey(hex: peer.node).map { PeerAddress(node: $0, endpoint: peer.endpoint) } }
    }

    mutating func remember(_ addresses: [PeerAddress]) {
        var seen = Set<String>()
        let merged = addresses.filter { !$0.endpoint.isEmpty }.map { Peer(node: $0.node.hex, endpoint: $0.endpoint) } + peers
        peers = Array(merged.filter { seen.insert($0.node).inserted }.prefix(Self.maxPeers))
    }

    static func read(_ file: String) throws(DaemonError) -> SpaceRecord {
        let record: SpaceRecord
        do {
            let bytes = try FileDescriptor.readWholeFile(file, limit: 1 << 20)
            record = try JSONDecoder().decode(SpaceRecord.self, from: Data(bytes))
        } catch {
            throw DaemonError("cannot read \(file): \(error)", hint: "the space's settings are damaged; drop and rejoin it")
        }
        guard TrustPolicy(record.trust) != nil else {
            throw DaemonError("\(file) names an unknown trust policy \"\(record.trust)\"", hint: "set \"trust\" to member, quorum:K or replay")
        }
        return record
    }

    func write(_ file: String) throws(DaemonError) {
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try Directory.writeAtomically(Array(try encoder.encode(self)), to: file, durable: true)
        } catch { throw DaemonError("cannot write \(file): \(error)") }
    }
}

extension TrustPolicy {
    /// The spelling the control API uses: "member", "quorum:K", "replay".
    var apiName: String {
        switch self {
        case .member: "member"
        case .quorum(let k): "quorum:\(k)"
        case .replay: "replay"
        }
    }
}
