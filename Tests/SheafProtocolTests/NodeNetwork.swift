import SheafCodec
import SheafCrypto
import SheafFeeds
import Testing

@testable import SheafProtocol

/// A few `ProtocolNode`s wired together in memory, on a virtual clock.
///
/// Frames arrive `latency` after they are sent, in order per link. Timers
/// fire at their time. Storage effects are answered minimally: `ingest`
/// keeps the batch, `serveRange` answers with the held batch that continues
/// after the request's `after` (or `notHeld`). Every output is recorded per
/// node, for the tests to inspect.
struct NodeNetwork {
    private struct Event {
        var time: NodeTime
        var order: Int
        var node: Int
        var input: NodeInput
    }

    private(set) var nodes: [ProtocolNode] = []
    private(set) var keys: [PublicKey] = []
    private(set) var now = NodeTime.zero
    /// Every output of each node, in order.
    private(set) var outputs: [[NodeOutput]] = []
    /// Batches each node holds, per feed, in order.
    private(set) var held: [[PublicKey: [VerifiedBatch]]] = []
    /// Frames each node received, decoded, with the sender's index.
    private(set) var received: [[(from: Int, message: WireMessage)]] = []
    var latency: Duration = .milliseconds(10)
    /// Frames for which this returns true are lost.
    var drops: (_ from: Int, _ to: Int, _ message: WireMessage) -> Bool = { _, _, _ in false }
    private var events: [Event] = []
    private var order = 0
    private var links: Set<[Int]> = []
    private var sessionCount: UInt64 = 0

    /// Adds a node and starts it.
    @discardableResult
    mutating func addNode(seed: UInt64, config: NodeConfig = NodeConfig()) -> Int {
        let identity = testKeyPair(seed: seed).publicKey
        var node = ProtocolNode(identity: identity, config: config, seed: seed)
        let started = node.start(now: now)
        nodes.append(node)
        keys.append(identity)
        outputs.append([])
        held.append([:])
        received.append([])
        carryOut(started, of: nodes.count - 1)
        return nodes.count - 1
    }

    func address(_ node: Int) -> PeerAddress { PeerAddress(node: keys[node], endpoint: "node-\(node)") }

    func index(of key: PublicKey) -> Int? { keys.firstIndex(of: key) }

    /// Feeds an input to a node now and carries out what it asks.
    mutating func input(_ input: NodeInput, to node: Int) {
        if case .appended(_, let batch) = input { hold(batch, at: node) }
        let out = nodes[node].handle(input, now: now)
        carryOut(out, of: node)
    }

    /// Opens a space on a node, holding `batches` (of any feeds) already.
    mutating func openSpace(_ space: PublicKey, at node: Int, trust: TrustPolicy = .replay, holding batches: [VerifiedBatch] = [],
                            members: Set<PublicKey> = [], contacts: [Int] = []) {
        for batch in batches { hold(batch, at: node) }
        let local = LocalSpace.test(space, trust: trust, holding: batches, members: members, contacts: contacts.map(address))
        input(.spaceOpened(local), to: node)
    }

    /// Runs events up to `time`.
    mutating func run(until time: NodeTime) {
        while let next = events.first, next.time <= time {
            events.removeFirst()
            now = max(now, next.time)
            if case .received(let from, let frame) = next.input, let sender = index(of: from),
               let message = try? WireCodec.decode(frame) {
                received[next.node].append((sender, message))
            }
            let out = nodes[next.node].handle(next.input, now: now)
            carryOut(out, of: next.node)
        }
        now = max(now, time)
    }

    mutating func run(for duration: Duration) { run(until: now + duration) }

    // MARK: Inspecting

    /// The batches a node was told to ingest, in order.
    func ingested(by node: Int) -> [VerifiedBatch] {
        outputs[node].compactMap { if case .ingest(_, let batch) = $0 { batch } else { nil } }
    }

    func events(of node: Int) -> [NodeEvent] {
        outputs[node].compactMap { if case .event(let event) = $0 { event } else { nil } }
    }

    /// Decoded frames a node sent to `peer`.
    func sent(by node: Int, to peer: PublicKey) -> [WireMessage] {
        outputs[node].compactMap {
            guard case .send(let to, let frame) = $0, to == peer else { return nil }
            return try? WireCodec.decode(frame)
        }
    }

    // MARK: Carrying out outputs

    private mutating func schedule(_ input: NodeInput, to node: Int, after delay: Duration) {
        order += 1
        let event = Event(time: now + delay, order: order, node: node, input: input)
        let position = events.firstIndex { ($0.time, $0.order) > (event.time, event.order) } ?? events.count
        events.insert(event, at: position)
    }

    private mutating func hold(_ batch: VerifiedBatch, at node: Int) {
        let tip = held[node][batch.feed]?.last?.head.seq ?? 0
        guard batch.anchor.seq == tip else { return }
        held[node][batch.feed, default: []].append(batch)
    }

    private mutating func send(_ message: WireMessage, from node: Int, to peer: Int) {
        guard links.contains([node, peer].sorted()), !drops(node, peer, message) else { return }
        schedule(.received(from: keys[node], frame: WireCodec.encode(message)), to: peer, after: latency)
    }

    private mutating func carryOut(_ out: [NodeOutput], of node: Int) {
        outputs[node].append(contentsOf: out)
        for output in out {
            switch output {
            case .send(let to, let frame):
                guard let peer = index(of: to), let message = try? WireCodec.decode(frame) else { continue }
                send(message, from: node, to: peer)
            case .connect(let address):
                guard let peer = index(of: address.node), peer != node else {
                    schedule(.connectFailed(address), to: node, after: latency)
                    continue
                }
                sessionCount += 1
                let session = Hash.of(Array("session \(sessionCount)".utf8), domain: HashDomain("test"))
                links.insert([node, peer].sorted())
                schedule(.connected(node: keys[peer], session: session, outbound: true), to: node, after: latency)
                schedule(.connected(node: keys[node], session: session, outbound: false), to: peer, after: latency)
            case .disconnect(let key, _):
                guard let peer = index(of: key), links.remove([node, peer].sorted()) != nil else { continue }
                schedule(.disconnected(node: keys[node]), to: peer, after: latency)
            case .schedule(let timer, let delay):
                schedule(.timerFired(timer), to: node, after: delay)
            case .ingest(_, let batch):
                hold(batch, at: node)
            case .serveRange(let key, let request, let to, _):
                guard let peer = index(of: to) else { continue }
                let reply: SyncMessage
                if let batch = held[node][request.feed]?.first(where: { $0.anchor.seq == request.after }) {
                    reply = .range(feed: request.feed, after: request.after, range: batch.encodedRange())
                } else {
                    reply = .unavailable(request, reason: .notHeld)
                }
                send(.space(key, .sync(reply)), from: node, to: peer)
            case .serveChunks, .streamSnapshot, .install, .audit, .storeEvidence, .event:
                continue
            }
        }
    }
}

extension LocalSpace {
    /// `space` as a replica holding `batches` (of any feeds) describes it:
    /// their frontier and each feed's last head.
    static func test(_ space: PublicKey, trust: TrustPolicy, holding batches: [VerifiedBatch] = [], members: Set<PublicKey> = [],
                     snapshots: [LocalSnapshot] = [], contacts: [PeerAddress] = []) -> LocalSpace {
        var stored = Frontier()
        var heads: [PublicKey: SignedHead] = [:]
        for batch in batches {
            stored.advance(batch.feed, to: batch.head.anchor)
            heads[batch.feed] = batch.head
        }
        return LocalSpace(space: space, trust: trust, stored: stored, heads: heads.keys.sorted().compactMap { heads[$0] },
                          members: members, snapshots: snapshots, contacts: contacts)
    }
}

/// A started node, its key from `seed`, that opened `local`.
func startedNode(seed: UInt64, config: NodeConfig = NodeConfig(), opening local: LocalSpace) -> (ProtocolNode, [NodeOutput]) {
    var node = ProtocolNode(identity: testKeyPair(seed: seed).publicKey, config: config, seed: 1)
    var out = node.start(now: .zero)
    out += node.handle(.spaceOpened(local), now: .zero)
    return (node, out)
}

/// A peer played by the test: it speaks to one node directly, frame by frame.
struct FakePeer {
    let key: KeyPair
    let session: Hash
    var identity: PublicKey { key.publicKey }

    init(seed: UInt64) {
        key = testKeyPair(seed: seed)
        session = Hash.of(Array("fake session \(seed)".utf8), domain: HashDomain("test"))
    }

    func frame(_ message: WireMessage) -> NodeInput { .received(from: identity, frame: WireCodec.encode(message)) }

    /// The `open` this peer sends for `space` when it knows the space key.
    func open(_ space: PublicKey) -> NodeInput { frame(.open(OpenSpace(space: space, session: session, sender: identity))) }

    func space(_ space: PublicKey, _ message: SpaceMessage) -> NodeInput { frame(.space(DiscoveryKey(space: space), message)) }

    /// Connects to `node` and says hello.
    func connect(to node: inout ProtocolNode, now: NodeTime = .zero) -> [NodeOutput] {
        node.handle(.connected(node: identity, session: session, outbound: true), now: now)
            + node.handle(frame(.hello(Hello(address: PeerAddress(node: identity, endpoint: "fake")))), now: now)
    }
}

extension [NodeOutput] {
    /// Decoded frames sent to `peer`.
    func sent(to peer: PublicKey) -> [WireMessage] {
        compactMap {
            guard case .send(let to, let frame) = $0, to == peer else { return nil }
            return try? WireCodec.decode(frame)
        }
    }

    var events: [NodeEvent] { compactMap { if case .event(let event) = $0 { event } else { nil } } }

    /// The kinds of misbehaviour charged to `peer`.
    func charges(of peer: PublicKey) -> [Misbehaviour] {
        events.compactMap { if case .misbehaviour(peer, let kind, _) = $0 { kind } else { nil } }
    }

    func disconnects(_ peer: PublicKey) -> Bool {
        contains { if case .disconnect(peer, _) = $0 { true } else { false } }
    }

    var ingested: [VerifiedBatch] { compactMap { if case .ingest(_, let batch) = $0 { batch } else { nil } } }
}
