/// Neighbour requests awaiting a reply, and the peers that turned one down
/// since the last tick. Refusers are not asked again until the next tick, so
/// a node whose candidates are all busy cannot loop on requests.
struct NeighborRequests: Sendable {
    private struct Request: Sendable {
        var peer: PeerAddress
        var ticks = 0
    }

    /// At most this many requests are outstanding at once.
    let capacity: Int
    /// At most this many refusers are remembered (the oldest go first).
    let refuserCapacity: Int
    private var requests: [Request] = []
    private var refusers: [PeerAddress] = []

    init(capacity: Int, refuserCapacity: Int) {
        self.capacity = capacity
        self.refuserCapacity = refuserCapacity
    }

    var count: Int { requests.count }
    var isEmpty: Bool { requests.isEmpty }
    var isFull: Bool { requests.count >= capacity }
    var peers: [PeerAddress] { requests.map(\.peer) }

    func contains(_ peer: PeerAddress) -> Bool { requests.contains { $0.peer == peer } }
    func refused(_ peer: PeerAddress) -> Bool { refusers.contains(peer) }

    mutating func add(_ peer: PeerAddress) {
        guard !isFull, !contains(peer) else { return }
        requests.append(Request(peer: peer))
    }

    /// Forgets the request to `peer`; says whether there was one.
    @discardableResult
    mutating func remove(_ peer: PeerAddress) -> Bool {
        guard let index = requests.firstIndex(where: { $0.peer == peer }) else { return false }
        requests.remove(at: index)
        return true
    }

    /// Forgets the request to `peer` and skips it until the next tick.
    mutating func refuse(_ peer: PeerAddress) {
        remove(peer)
        guard refuserCapacity > 0, !refusers.contains(peer) else { return }
        if refusers.count >= refuserCapacity { refusers.removeFirst() }
        refusers.append(peer)
    }

    /// Starts a new tick: forgets old refusals, then refuses the requests
    /// unanswered for `timeout` ticks and returns them.
    mutating func tick(timeout: Int) -> [PeerAddress] {
        refusers.removeAll()
        for index in requests.indices { requests[index].ticks += 1 }
        let expired = requests.filter { $0.ticks >= timeout }.map(\.peer)
        for peer in expired { refuse(peer) }
        return expired
    }

    /// Forgets every request and refusal; returns the peers that were asked.
    mutating func removeAll() -> [PeerAddress] {
        defer {
            requests.removeAll()
            refusers.removeAll()
        }
        return peers
    }
}
