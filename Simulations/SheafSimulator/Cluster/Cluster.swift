import Foundation
import SheafCrypto
import SheafFeeds
import SheafFiles
import SheafModels
import SheafProtocol
import SheafRandom
import SheafReplica
import SheafWorkloads

/// A simulated deployment: the simulation, its peers on temporary
/// directories, and the space they share (a W1-shaped object store).
@MainActor public final class Cluster {
    public let sim: Simulation
    public let book = AddressBook()
    public let monitor = Monitor()
    public let clock = VirtualClock()
    public let workdir: String
    public let workload: W1
    public var config: NodeConfig
    public private(set) var peers: [SimPeer] = []

    public init(seed: UInt64, link: LinkProfile, bandwidth: Int, entries: Int, config: NodeConfig = NodeConfig()) throws {
        sim = Simulation(Simulation.Configuration(seed: seed, link: link, bandwidth: bandwidth))
        workload = W1(entries: entries, seed: seed | 1)
        var config = config
        config.listenEndpoint = ""
        self.config = config
        let base = ProcessInfo.processInfo.environment["SHEAF_SIM_DIR"] ?? Self.defaultBase
        workdir = Path.join(base, "sheaf-sim-\(getpid())-\(seed)-\(UInt64.random(in: 0...UInt64.max) % 1_000_000)")
        try Directory.create(workdir, durable: false)
    }

    /// Where runs keep their nodes' directories unless `SHEAF_SIM_DIR`
    /// says otherwise: a memory-backed file system when there is one. The
    /// replicas run their real storage code either way; on a disk file
    /// system creating, closing and removing thousands of small files costs
    /// more than the whole simulation.
    static let defaultBase: String = {
        let memory = "/dev/shm"
        return Directory.isDirectory(memory) && access(memory, W_OK) == 0 ? memory : NSTemporaryDirectory()
    }()

    public var space: PublicKey { workload.space }
    public var key: DiscoveryKey { DiscoveryKey(space: space) }

    /// Removes every directory the run created.
    public func cleanUp() { try? Directory.removeTree(workdir) }

    /// Adds a node; it starts at `startAt` (default: now).
    @discardableResult
    public func addPeer(identity: KeyPair, trust: TrustPolicy = .member, contacts: [SimPeer] = [], behaviour: Behaviour = .honest,
                        startAt: NodeTime? = nil) -> SimPeer {
        var nodeConfig = config
        nodeConfig.listenEndpoint = AddressBook.endpoint(SimNodeID(peers.count))
        let peer = SimPeer(identity: identity, directory: Path.join(workdir, "node-\(peers.count)"), space: space, trust: trust,
                           contacts: contacts.compactMap(\.address), behaviour: behaviour, book: book, monitor: monitor,
                           config: nodeConfig, clock: clock)
        let id = sim.addNode(peer, startAt: startAt)
        peer.attach(id)
        if behaviour != .honest { monitor.byzantine.insert(id) }
        peers.append(peer)
        return peer
    }

    /// A fresh key pair for node `index`, from the run's seed.
    public func keyPair(_ index: Int) -> KeyPair {
        var rng = SplitMix64(seed: workload.seed &* 0x9E37_79B9 &+ UInt64(index) &+ 0xABCD)
        return KeyPair(seed: rng.bytes(32)) ?? workload.genesis
    }

    /// Writes the W1 history into the replicas of `peers` before the run
    /// (outside simulated time), snapshotting each after `snapshotAfter`
    /// entries. Returns the frontier they end at.
    public func seedHistory(into targets: [SimPeer], entries: Int? = nil, snapshotAfter: Int? = nil) async throws -> Frontier {
        var replicas: [Replica<ObjectStore>] = []
        for target in targets { replicas.append(try await target.openReplica()) }
        var produced = 0
        var snapshotted = false
        var generator = workload
        if let entries { generator.entries = entries }
        var batches = try generator.batches()
        while let batch = try batches.next() {
            for replica in replicas { try await replica.ingest(batch) }
            if batch.feed != self.space { produced += batch.count }
            if !snapshotted, let after = snapshotAfter, produced >= after {
                for replica in replicas { _ = try await replica.snapshotNow() }
                snapshotted = true
            }
        }
        if !snapshotted { for replica in replicas { _ = try await replica.snapshotNow() } }
        return try await replicas.first?.storedFrontier() ?? Frontier()
    }

    /// Admits the writers' feeds through the genesis peer's replica, and
    /// copies the admissions to every other replica (setup).
    public func admit(_ writers: [SimPeer], genesis: SimPeer, everyone: [SimPeer]) async throws {
        let replica = try await genesis.openReplica()
        for writer in writers where writer !== genesis { try await replica.admit(writer.identity.publicKey) }
        let tip = try await replica.storedTip(of: space)
        guard tip.seq > 0, let batch = try await replica.servableRange(of: space, after: 0, through: tip.seq, maxEntries: Int(tip.seq)) else { return }
        for peer in everyone where peer !== genesis { try await peer.openReplica().ingest(batch) }
    }

    /// Opens every peer's replica before the run (set-up, outside the event
    /// loop: a daemon opens its spaces before it serves them).
    public func openReplicas() async throws {
        for peer in peers { _ = try await peer.openReplica() }
    }

    /// Whether every listed peer is up and stores the same, non-empty frontier.
    public func storedConverged(_ group: [SimPeer], excluding feeds: Set<PublicKey> = []) -> Bool {
        guard let first = group.first, first.isUp else { return false }
        // Checked before every event: reject cheaply while the counts differ.
        if feeds.isEmpty && group.contains(where: { $0.storedEntries != first.storedEntries }) { return false }
        let reference = first.storedFrontier.heads.filter { !feeds.contains($0.key) }
        guard !reference.isEmpty else { return false }
        return group.allSatisfy { $0.isUp && $0.storedFrontier.heads.filter { !feeds.contains($0.key) } == reference }
    }

    public func reaches(_ peer: SimPeer, _ target: Frontier) -> Bool {
        guard peer.isUp else { return false }
        let stored = peer.storedFrontier
        return target.heads.allSatisfy { stored.seq(of: $0.key) >= $0.value.seq }
    }

    /// Distinct state roots across the group (1 when they agree).
    public func stateRoots(_ group: [SimPeer]) async -> [Hash] {
        var roots: Set<Hash> = []
        for peer in group { if let root = try? await peer.replica?.stateRoot() { roots.insert(root) } }
        return roots.sorted()
    }

    /// The invariants every scenario checks at the end; each violation is a sentence.
    public func checkInvariants(honest: [SimPeer]) async -> [String] {
        var violations: [String] = []
        // Honest nodes that applied the same entries hold the same state.
        var rootsByFrontier: [Frontier: Set<Hash>] = [:]
        for peer in honest {
            guard let replica = peer.replica, let frontier = try? await replica.frontier(), let root = try? await replica.stateRoot() else { continue }
            rootsByFrontier[frontier, default: []].insert(root)
        }
        for (frontier, roots) in rootsByFrontier where roots.count > 1 {
            violations.append("\(roots.count) different state roots at one frontier of \(frontier.entryCount) entries")
        }
        // No forged entry was ever stored.
        for stored in await forgedEntriesStored(by: honest) { violations.append("stored a forged entry: \(stored)") }
        // No acknowledged write was lost, across crashes too.
        for peer in honest { violations.append(contentsOf: await lostWrites(peer).map { "acknowledged write lost: \($0)" }) }
        return violations
    }

    /// Forged entries (recorded by the forger) that a peer of `group` stores,
    /// as `node: feed#seq`. Must stay empty: nothing unverified is stored.
    public func forgedEntriesStored(by group: [SimPeer]) async -> [String] {
        var found: [String] = []
        for forged in monitor.forged {
            for peer in group {
                if let hash = try? await peer.replica?.entryHash(of: forged.feed, at: forged.seq), hash == forged.hash {
                    found.append("\(peer.node.map(String.init(describing:)) ?? "?"): \(forged.feed.hex.prefix(8))#\(forged.seq)")
                }
            }
        }
        return found
    }

    /// Acknowledged writes of `peer` its own log no longer holds.
    public func lostWrites(_ peer: SimPeer) async -> [String] {
        guard let replica = peer.replica else { return [] }
        var lost: [String] = []
        for write in peer.acknowledged {
            let hash = try? await replica.entryHash(of: peer.identity.publicKey, at: write.seq)
            if hash != write.hash { lost.append("\(peer.identity.publicKey.hex.prefix(8))#\(write.seq)") }
        }
        return lost
    }
}

extension SimPeer {
    public var address: PeerAddress? { node.flatMap { book.address(of: $0) } }
}

extension Cluster {
    /// With `SHEAF_SIM_DEBUG` set: every peer's stored frontier and neighbours.
    public func debugDump(_ group: [SimPeer]) {
        guard ProcessInfo.processInfo.environment["SHEAF_SIM_DEBUG"] != nil else { return }
        for peer in group {
            let heads = peer.storedFrontier.heads.map { "\($0.key.hex.prefix(6)):\($0.value.seq)" }.sorted()
            let neighbours = peer.host?.core.neighbours(of: key).compactMap { book.node(of: $0.node) } ?? []
            let passive = (peer.host?.core.knownPeers(of: key).count ?? 0) - neighbours.count
            print(peer.node.map(String.init(describing:)) ?? "?", peer.isUp, heads, "passive:", passive, "neighbours:", neighbours)
            print("   key", peer.identity.publicKey.hex.prefix(6), peer.host?.core.syncSummary(of: key) ?? "down")
        }
    }

    /// With `SHEAF_SIM_DEBUG` set: how many of each report honest nodes made.
    public func debugReports() {
        guard ProcessInfo.processInfo.environment["SHEAF_SIM_DEBUG"] != nil else { return }
        var counts: [String: Int] = [:]
        for report in monitor.reports {
            let name: String
            switch report.event {
            case .misbehaviour(_, let kind, _): name = "misbehaviour.\(kind.rawValue)"
            default: name = "\(report.event)".prefix { $0 != "(" }.description
            }
            counts[name, default: 0] += 1
        }
        for (name, count) in counts.sorted(by: { $0.key < $1.key }) { print(name, count) }
    }
}
