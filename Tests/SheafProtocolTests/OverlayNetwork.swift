import SheafCrypto
import SheafRandom
import Testing

@testable import SheafProtocol

/// The address of test node `index`: its key is the index, little-endian.
func testPeer(_ index: Int) -> PeerAddress {
    var raw = [UInt8](repeating: 0, count: 32)
    withUnsafeBytes(of: UInt64(index).littleEndian) { raw.replaceSubrange(0..<8, with: $0) }
    raw[31] = 0xA5
    guard let key = Bytes32(raw) else { preconditionFailure("32 bytes make a Bytes32") }
    return PeerAddress(node: PublicKey(raw: key), endpoint: "node-\(index)")
}

/// N overlays wired together in memory. Messages between a pair of nodes
/// arrive in order; `inOrder` delivers all messages in one global FIFO
/// order, `interleaved` picks a random pair each time, so that messages
/// cross. A send to a dead node fails the way a refused connection does,
/// and killing a node fails the connections its peers hold to it.
struct OverlayNetwork {
    enum Delivery { case inOrder, interleaved }

    private(set) var nodes: [Overlay]
    private(set) var alive: [Bool]
    /// What each node's `neighborUp`/`neighborDown` outputs say its neighbours are.
    private(set) var announced: [Set<Int>]
    /// Outputs that broke a rule of the driver contract, described.
    private(set) var violations: [String] = []
    private(set) var delivered = 0
    private let delivery: Delivery
    private var queue: [(from: Int, to: Int, message: OverlayMessage)] = []
    private var rng: SplitMix64

    init(count: Int, config: OverlayConfig = .init(), delivery: Delivery = .inOrder, seed: UInt64) {
        nodes = (0..<count).map { Overlay(me: testPeer($0), config: config) }
        alive = Array(repeating: true, count: count)
        announced = Array(repeating: [], count: count)
        self.delivery = delivery
        rng = SplitMix64(seed: seed)
    }

    static func index(of peer: PeerAddress) -> Int {
        peer.node.raw.bytes.prefix(8).reversed().reduce(0) { $0 << 8 | Int($1) }
    }

    var living: [Int] { nodes.indices.filter { alive[$0] } }
    var inFlight: Int { queue.count }

    /// Node `i` joins through a random earlier node; between joins, up to
    /// `deliveries` messages are delivered (all of them when nil).
    mutating func joinAll(deliveringBetween deliveries: Int? = nil) {
        for i in nodes.indices.dropFirst() {
            let contact = testPeer(rng.below(i))
            apply(nodes[i].join(via: contact, rng: &rng), at: i)
            deliver(deliveries)
        }
    }

    /// Ticks every living node `rounds` times; between rounds, up to
    /// `deliveries` messages are delivered (all of them when nil).
    mutating func tickAll(rounds: Int, deliveringBetween deliveries: Int? = nil) {
        for _ in 0..<rounds {
            for i in living { apply(nodes[i].tick(rng: &rng), at: i) }
            deliver(deliveries)
        }
    }

    /// Kills `victims` at once: their messages in flight are lost, and every
    /// living node that holds one sees its connection fail.
    mutating func kill(_ victims: [Int]) {
        for victim in victims { alive[victim] = false }
        for i in living {
            for victim in victims where nodes[i].holds(testPeer(victim)) {
                apply(nodes[i].peerFailed(testPeer(victim), rng: &rng), at: i)
            }
        }
    }

    mutating func randomSample(_ count: Int, of candidates: [Int]) -> [Int] {
        Array(candidates.shuffled(using: &rng).prefix(count))
    }

    /// Delivers messages until none are left.
    mutating func settle(limit: Int = 1_000_000) {
        deliver(limit)
        if !queue.isEmpty { violations.append("no quiescence after \(limit) messages") }
    }

    private mutating func deliver(_ limit: Int?) {
        var remaining = limit ?? 1_000_000
        while remaining > 0, let (from, to, message) = nextMessage() {
            remaining -= 1
            guard alive[from] else { continue }
            if alive[to] {
                delivered += 1
                apply(nodes[to].receive(message, from: testPeer(from), rng: &rng), at: to)
            } else {
                apply(nodes[from].peerFailed(testPeer(to), rng: &rng), at: from)
            }
        }
    }

    /// The next message to deliver: the oldest, or the oldest on a random
    /// pair's link.
    private mutating func nextMessage() -> (from: Int, to: Int, message: OverlayMessage)? {
        guard !queue.isEmpty else { return nil }
        var index = 0
        if delivery == .interleaved {
            let pick = queue[rng.below(queue.count)]
            index = queue.firstIndex { $0.from == pick.from && $0.to == pick.to } ?? 0
        }
        return queue.remove(at: index)
    }

    private mutating func apply(_ outputs: [OverlayOutput], at i: Int) {
        for output in outputs {
            switch output {
            case .send(let peer, let message):
                queue.append((i, Self.index(of: peer), message))
            case .neighborUp(let peer):
                if announced[i].insert(Self.index(of: peer)).inserted == false {
                    violations.append("\(i): neighborUp(\(Self.index(of: peer))) twice")
                }
            case .neighborDown(let peer):
                if announced[i].remove(Self.index(of: peer)) == nil {
                    violations.append("\(i): neighborDown(\(Self.index(of: peer))) without neighborUp")
                }
            case .release(let peer):
                if nodes[i].holds(peer) { violations.append("\(i): released \(Self.index(of: peer)) it holds") }
            }
        }
    }

    // MARK: Checks

    /// Describes every broken invariant of the living nodes' views.
    func brokenInvariants() -> [String] {
        var problems = violations
        for i in living {
            let node = nodes[i]
            let activeIndices = node.active.map(Self.index(of:))
            if Set(activeIndices) != announced[i] { problems.append("\(i): outputs disagree with the active view") }
            if Set(activeIndices).count != activeIndices.count { problems.append("\(i): duplicate neighbours") }
            if node.active.count > node.config.activeSize { problems.append("\(i): active view too large") }
            if node.passive.count > node.config.passiveSize { problems.append("\(i): passive view too large") }
            if Set(node.passive).count != node.passive.count { problems.append("\(i): duplicate passive peers") }
            if node.active.contains(node.me) || node.passive.contains(node.me) { problems.append("\(i): holds itself") }
            if node.passive.contains(where: node.active.contains) { problems.append("\(i): a neighbour is passive") }
            for j in activeIndices {
                if !alive[j] { problems.append("\(i): dead neighbour \(j)") }
                if !nodes[j].active.contains(node.me) { problems.append("\(i) → \(j) is not symmetric") }
            }
        }
        return problems
    }

    /// Whether the living nodes' active links connect them all.
    var isConnected: Bool {
        guard let start = living.first else { return true }
        var seen: Set<Int> = [start]
        var frontier = [start]
        while let i = frontier.popLast() {
            for j in nodes[i].active.map(Self.index(of:)) where alive[j] && seen.insert(j).inserted {
                frontier.append(j)
            }
        }
        return seen.count == living.count
    }

    var activeSizes: [Int] { living.map { nodes[$0].active.count } }
}
