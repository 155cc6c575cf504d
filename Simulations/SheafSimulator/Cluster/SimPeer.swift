import Foundation
import Logging
import Synchronization
import SheafCodec
import SheafCrypto
import SheafFeeds
import SheafFiles
import SheafModels
import SheafNode
import SheafProtocol
import SheafReplica

/// One simulated node: the real protocol node and replica (on a temporary
/// directory), wired to the simulator's virtual network.
@MainActor public final class SimPeer: SimHost {
    public let identity: KeyPair
    public let directory: String
    public let space: PublicKey
    /// The space's discovery key (a hash: computed once, read per event).
    public let key: DiscoveryKey
    public let trust: TrustPolicy
    public var contacts: [PeerAddress]
    public var behaviour: Behaviour
    public private(set) var host: NodeHost<ObjectStore>?
    public private(set) var replica: Replica<ObjectStore>?
    /// Writes this node appended and was told were stored: (seq, hash).
    public private(set) var acknowledged: [(seq: UInt64, hash: Hash)] = []
    public private(set) var node: SimNodeID?

    let book: AddressBook
    let monitor: Monitor
    let config: NodeConfig
    let options: ReplicaOptions
    let clock: VirtualClock
    private var timers: [UInt64: NodeTimer] = [:]
    private var nextToken: UInt64 = 1
    /// Entries stored, as last recorded (a cheap summary of `storedFrontier`).
    public private(set) var storedEntries: UInt64 = .max
    var byzantine = ByzantineState()

    public init(identity: KeyPair, directory: String, space: PublicKey, trust: TrustPolicy, contacts: [PeerAddress],
                behaviour: Behaviour = .honest, book: AddressBook, monitor: Monitor, config: NodeConfig, clock: VirtualClock) {
        self.identity = identity
        self.directory = directory
        self.space = space
        key = DiscoveryKey(space: space)
        self.trust = trust
        self.contacts = contacts
        self.behaviour = behaviour
        self.book = book
        self.monitor = monitor
        self.config = config
        self.clock = clock
        let now = clock
        options = ReplicaOptions(durability: .none, snapshotEveryEntries: nil, snapshotsKept: 2, segmentBytes: 4 << 20,
                                 clock: { now.milliseconds })
    }

    public var isUp: Bool { host != nil }

    /// Called once the simulation gave the node its id.
    public func attach(_ node: SimNodeID) {
        self.node = node
        book.register(identity.publicKey, as: node)
    }

    /// Opens the replica outside simulated time (setup before the run).
    public func openReplica() async throws -> Replica<ObjectStore> {
        if let replica { return replica }
        let opened = try await Replica<ObjectStore>.open(directory: directory, space: space, identity: identity, options: options,
                                                         logger: Logger(label: "sheaf.sim", factory: { _ in SwiftLogNoOpLogHandler() }))
        replica = opened
        return opened
    }

    // MARK: SimHost

    public func start(_ io: SimIO) async { await boot(io) }

    public func restarted(_ io: SimIO) async { await boot(io) }

    private func boot(_ io: SimIO) async {
        clock.now = io.now
        do {
            let replica = try await openReplica()
            let host = NodeHost<ObjectStore>(identity: identity, config: config, seed: io.random { $0.next() })
            self.host = host
            host.now = io.now
            host.start()
            try await host.open(replica, trust: trust, contacts: contacts)
        } catch {
            fatalError("simulated node \(identity.publicKey.hex.prefix(8)) could not open its replica: \(error)")
        }
        if behaviour != .honest { io.schedule(after: .milliseconds(500), token: Self.byzantineToken) }
        flush(io)
    }

    public func connected(to peer: SimNodeID, outbound: Bool, _ io: SimIO) async {
        guard let node, let key = book.key(of: peer) else { return }
        let session = outbound ? book.openSession(node, peer) : book.currentSession(node, peer)
        await handle(.connected(node: key, session: session, outbound: outbound), io)
    }

    public func disconnected(from peer: SimNodeID, _ io: SimIO) async {
        guard let key = book.key(of: peer) else { return }
        await handle(.disconnected(node: key), io)
    }

    public func connectFailed(to peer: SimNodeID, _ io: SimIO) async {
        guard let address = book.address(of: peer) else { return }
        await handle(.connectFailed(address), io)
    }

    public func received(_ message: [UInt8], from peer: SimNodeID, _ io: SimIO) async {
        guard let key = book.key(of: peer) else { return }
        if debugTrace, let m = try? WireCodec.decode(message) { print("TRACE", io.now.seconds, node!.index, "<-", peer.index, m.kind, message.count) }
        if behaviour != .honest, await interceptIncoming(message, from: key, io) { return }
        await handle(.received(from: key, frame: message), io)
    }

    public func timerFired(_ token: UInt64, _ io: SimIO) async {
        if token == Self.byzantineToken {
            await misbehave(io)
            io.schedule(after: .milliseconds(500), token: Self.byzantineToken)
            flush(io)
            return
        }
        guard let timer = timers.removeValue(forKey: token) else { return }
        await handle(.timerFired(timer), io)
    }

    public func crashed() async {
        timers = [:]
        // What a daemon keeps in its peers file: it rejoins through them.
        if let known = host?.core.knownPeers(of: key), !known.isEmpty {
            var seen = Set<PeerAddress>()
            contacts = Array((known + contacts).filter { seen.insert($0).inserted }.prefix(16))
        }
        host = nil
        if let replica {
            await replica.close()
            self.replica = nil
            tearTail()
        }
    }

    // MARK: Driving the host

    @inline(__always)  // into each handler: one actor hop fewer per event
    func handle(_ input: NodeInput, _ io: SimIO) async {
        guard let host else { return }
        clock.now = io.now
        host.now = io.now
        await host.handle(input)
        flush(io)
    }

    /// Appends ops to this node's feed; the write is acknowledged on return.
    @discardableResult
    public func write(_ ops: [[UInt8]], _ io: SimIO) async throws -> UInt64 {
        guard let host, let replica else { throw ReplicaError(.closed) }
        clock.now = io.now
        host.now = io.now
        let seq = try await host.append(ops, in: key)
        if let hash = try await replica.entryHash(of: identity.publicKey, at: seq) { acknowledged.append((seq, hash)) }
        flush(io)
        return seq
    }

    public func snapshot(_ io: SimIO) async throws {
        guard let host else { throw ReplicaError(.closed) }
        clock.now = io.now
        host.now = io.now
        _ = try await host.snapshotNow(in: key)
        flush(io)
    }

    /// Carries out the host's network actions on the virtual network.
    func flush(_ io: SimIO) {
        guard let host else { return }
        for output in host.takeOutbox() {
            switch output {
            case .send(let peer, let frame):
                if debugTrace, let m = try? WireCodec.decode(frame) { print("TRACE", io.now.seconds, node!.index, "->", book.node(of: peer)?.index ?? -1, m.kind, frame.count) }
                guard let target = book.node(of: peer) else { continue }
                if behaviour == .honest {
                    _ = io.send(to: target, frame)
                } else {
                    for bytes in outgoing(frame, to: peer) { _ = io.send(to: target, bytes) }
                }
            case .connect(let address):
                if let target = AddressBook.node(fromEndpoint: address.endpoint) ?? book.node(of: address.node) { io.connect(to: target) }
            case .disconnect(let peer, _):
                if let target = book.node(of: peer) { io.disconnect(from: target) }
            case .schedule(let timer, let delay):
                let token = nextToken
                nextToken += 1
                timers[token] = timer
                io.schedule(after: delay, token: token)
            case .event(let event):
                if debugTrace { print("TRACE", io.now.seconds, node!.index, "event", "\(event)".prefix(120)) }
                if let node { monitor.record(event, by: node, at: io.now) }
            default:
                continue
            }
        }
        let stored = host.storedFrontier(of: key)?.entryCount ?? 0
        if stored != storedEntries {
            storedEntries = stored
            if debugTrace { print("TRACE", io.now.seconds, node!.index, "stored", stored) }
            io.record(metric: "entries", value: Double(stored))
        }
    }

    /// Entries this node stores for the space (what anti-entropy compares).
    public var storedFrontier: Frontier { host?.storedFrontier(of: key) ?? Frontier() }

    static let byzantineToken: UInt64 = 1 << 63

    /// Appends a partial record to the node's own feed log, as a write torn
    /// by the crash would leave: recovery must cut it and keep every
    /// acknowledged entry.
    private func tearTail() {
        let feedDirectory = Path.join(Path.join(directory, "feeds"), identity.publicKey.hex)
        guard let segments = try? Directory.list(feedDirectory).filter({ $0.hasSuffix(".seg") }).sorted(),
              let last = segments.last else { return }
        let path = Path.join(feedDirectory, last)
        guard let fd = try? FileDescriptor.open(path, .readWrite) else { return }
        defer { fd.close() }
        guard let size = try? fd.size() else { return }
        _ = try? fd.write([0x5A, 0x00, 0x00, 0x01, 0x7F, 0x13, 0x37], at: size)
    }
}

/// The simulation's clock in the form replicas read it: wall milliseconds
/// since an arbitrary epoch, moved by the simulator.
public final class VirtualClock: Sendable {
    private let lock = Mutex(NodeTime.zero)
    public static let epochMilliseconds: UInt64 = 1_700_000_000_000

    public init() {}

    public var now: NodeTime {
        get { lock.withLock { $0 } }
        set { lock.withLock { $0 = newValue } }
    }

    public var milliseconds: UInt64 { Self.epochMilliseconds + now.nanoseconds / 1_000_000 }
}

let debugTrace = ProcessInfo.processInfo.environment["SHEAF_SIM_TRACE"] != nil
