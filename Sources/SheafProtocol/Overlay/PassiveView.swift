/// The bounded list of known peers that are not neighbours: candidates to
/// replace a failed neighbour. The overlay keeps its own address and its
/// active neighbours out of it.
struct PassiveView: Sendable {
    let capacity: Int
    private(set) var peers: [PeerAddress] = []

    init(capacity: Int) { self.capacity = capacity }

    func contains(_ peer: PeerAddress) -> Bool { peers.contains(peer) }

    mutating func remove(_ peer: PeerAddress) {
        peers.removeAll { $0 == peer }
    }

    /// Adds `peer` (if new), evicting when full: a random member of
    /// `preferredVictims` if any is here, else a random member.
    mutating func insert(
        _ peer: PeerAddress, preferredVictims: [PeerAddress] = [], rng: inout some RandomNumberGenerator
    ) {
        guard capacity > 0, !contains(peer) else { return }
        if peers.count >= capacity {
            let preferred = peers.indices.filter { preferredVictims.contains(peers[$0]) }
            let victim = preferred.randomElement(using: &rng) ?? Int.random(in: peers.indices, using: &rng)
            peers.remove(at: victim)
        }
        peers.append(peer)
    }
}
