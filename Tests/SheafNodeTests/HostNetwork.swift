import Logging
import SheafCrypto
import SheafFeeds
import SheafModels
import SheafNode
import SheafProtocol
import SheafReplica
import SheafRandom
@_exported import SheafTestSupport

let quietLogger = Logger(label: "sheaf.node.tests", factory: { _ in SwiftLogNoOpLogHandler() })

func testKeyPair(seed: UInt64) -> KeyPair {
    var rng = SplitMix64(seed: seed)
    guard let pair = KeyPair(seed: rng.bytes(32)) else { preconditionFailure("32 bytes make a seed") }
    return pair
}

/// Fast replica options: no fsync, snapshots only when asked.
func testOptions(compact: Bool = false) -> ReplicaOptions {
    ReplicaOptions(durability: .none, snapshotEveryEntries: nil, snapshotsKept: 1, compactCoveredEntries: compact, segmentBytes: 4096)
}

func openReplica(_ directory: String, space: PublicKey, identity: KeyPair, compact: Bool = false) async throws -> Replica<ObjectStore> {
    try await Replica<ObjectStore>.open(directory: directory, space: space, identity: identity, options: testOptions(compact: compact),
                                        logger: quietLogger)
}

func put(_ id: String, _ value: String) -> [UInt8] { ObjectStore.Op.put(id: id, fields: ["v": .string(value)]).encoded }

/// Node hosts wired together in memory on a virtual clock: frames arrive
/// `latency` after they are sent, timers fire at their time. Used from one
/// test function only (hosts are not thread-safe).
final class HostNetwork {
    private struct Event {
        var time: NodeTime
        var order: Int
        var host: Int
        var input: NodeInput
    }

    private(set) var hosts: [NodeHost<ObjectStore>] = []
    private(set) var now = NodeTime.zero
    private(set) var events: [[NodeEvent]] = []
    let latency: Duration = .milliseconds(5)
    private var queue: [Event] = []
    private var order = 0
    private var sessions: UInt64 = 0

    func addHost(_ identity: KeyPair, config: NodeConfig = NodeConfig(), seed: UInt64) -> Int {
        let host = NodeHost<ObjectStore>(identity: identity, config: config, seed: seed)
        host.now = now
        host.start()
        hosts.append(host)
        events.append([])
        drain(hosts.count - 1)
        return hosts.count - 1
    }

    func address(_ host: Int) -> PeerAddress { PeerAddress(node: hosts[host].identity.publicKey, endpoint: "host-\(host)") }

    func open(_ replica: Replica<ObjectStore>, at host: Int, trust: TrustPolicy, contacts: [Int] = []) async throws {
        hosts[host].now = now
        try await hosts[host].open(replica, trust: trust, contacts: contacts.map(address))
        drain(host)
    }

    /// Runs `body` on a host at the current time and carries out what it asked.
    func act<R>(on host: Int, _ body: (NodeHost<ObjectStore>) async throws -> R) async rethrows -> R {
        hosts[host].now = now
        let result = try await body(hosts[host])
        drain(host)
        return result
    }

    /// Runs events until `time`, or until `done` holds (checked after each event).
    func run(until time: NodeTime, done: () async -> Bool = { false }) async {
        while let next = queue.first, next.time <= time {
            queue.removeFirst()
            now = max(now, next.time)
            hosts[next.host].now = now
            await hosts[next.host].handle(next.input)
            drain(next.host)
            if await done() { return }
        }
        now = max(now, time)
    }

    private func index(of key: PublicKey) -> Int? { hosts.firstIndex { $0.identity.publicKey == key } }

    private func schedule(_ input: NodeInput, to host: Int, after delay: Duration) {
        order += 1
        let event = Event(time: now + delay, order: order, host: host, input: input)
        let position = queue.firstIndex { ($0.time, $0.order) > (event.time, event.order) } ?? queue.count
        queue.insert(event, at: position)
    }

    private func drain(_ host: Int) {
        let me = hosts[host].identity.publicKey
        for output in hosts[host].takeOutbox() {
            switch output {
            case .send(let to, let frame):
                if let peer = index(of: to) { schedule(.received(from: me, frame: frame), to: peer, after: latency) }
            case .connect(let address):
                guard let peer = index(of: address.node) else {
                    schedule(.connectFailed(address), to: host, after: latency)
                    continue
                }
                sessions += 1
                let session = Hash.of(Array("host session \(sessions)".utf8), domain: HashDomain("test"))
                schedule(.connected(node: address.node, session: session, outbound: true), to: host, after: latency)
                schedule(.connected(node: me, session: session, outbound: false), to: peer, after: latency)
            case .disconnect(let key, _):
                if let peer = index(of: key) { schedule(.disconnected(node: me), to: peer, after: latency) }
            case .schedule(let timer, let delay):
                schedule(.timerFired(timer), to: host, after: delay)
            case .event(let event):
                events[host].append(event)
            case .ingest, .serveRange, .serveChunks, .streamSnapshot, .install, .audit, .storeEvidence:
                continue  // the host carries these out itself
            }
        }
    }
}
