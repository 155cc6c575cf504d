import SheafCrypto
import SheafFeeds
import SheafModels
import SheafRandom
import SheafReplica

/// W1, the standard workload: entries from 16 writer feeds into one
/// object-store space; each entry sets one of 8 fields (`f0`…`f7`) of one of
/// 10,000 objects (`obj-0`…`obj-9999`, uniform from a seeded generator) to a
/// 64-character value of lower-case letters and digits. Same seed, same data.
///
/// The genesis feed admits the writers first; each writer's first entry
/// depends on the last admission, so every entry applies.
public struct W1: Sendable {
    public var entries: Int
    public var writers: Int
    public var objects: Int
    public var fields: Int
    public var valueLength: Int
    public var seed: UInt64
    /// Entries per signed batch (each batch is one writer's).
    public var batchSize: Int

    public init(entries: Int = 1_000_000, writers: Int = 16, objects: Int = 10_000, fields: Int = 8,
                valueLength: Int = 64, seed: UInt64 = 1, batchSize: Int = 1000) {
        self.entries = entries
        self.writers = writers
        self.objects = objects
        self.fields = fields
        self.valueLength = valueLength
        self.seed = seed
        self.batchSize = max(1, batchSize)
    }

    /// The space's genesis key pair (derived from the seed).
    public var genesis: KeyPair { Self.keyPair(seed: seed, index: 0) }
    public var space: PublicKey { genesis.publicKey }
    public var writerKeys: [KeyPair] { (1...writers).map { Self.keyPair(seed: seed, index: UInt64($0)) } }

    static func keyPair(seed: UInt64, index: UInt64) -> KeyPair {
        var rng = SplitMix64(seed: seed &* 0x100_0000_01B3 &+ index)
        // A 32-byte seed always yields a key pair.
        return KeyPair(seed: rng.bytes(32))!
    }

    /// Calls `body` with every batch, in an order that respects causality:
    /// the genesis admissions, then writers' batches round-robin. Model
    /// entries number `entries` in all; `body` may stop early by returning false.
    public func forEachBatch(_ body: (VerifiedBatch) throws -> Bool) throws {
        var batches = try self.batches()
        while let batch = try batches.next() {
            guard try body(batch) else { return }
        }
    }

    /// The batches one at a time (for callers that must await between them).
    public func batches() throws -> Batches { try Batches(self) }

    /// Produces W1's batches in order: the genesis admissions first.
    public struct Batches {
        let workload: W1
        var admissions: VerifiedBatch?
        var writers: [FeedWriter]
        var rng: SplitMix64
        var produced = 0
        var turn = 0
        /// The last admission, which each writer's first entry depends on.
        let genesisDependency: Dependency

        init(_ workload: W1) throws {
            self.workload = workload
            var genesisWriter = FeedWriter(keyPair: workload.genesis)
            let drafts = workload.writerKeys.map { EntryDraft(payload: SpacePayload.admit($0.publicKey).encoded) }
            let admitted = try genesisWriter.append(drafts, timestamp: 1_700_000_000_000)
            admissions = admitted
            genesisDependency = Dependency(feed: workload.space, seq: admitted.head.seq)
            writers = workload.writerKeys.map { FeedWriter(keyPair: $0) }
            rng = SplitMix64(seed: workload.seed)
        }

        public mutating func next() throws -> VerifiedBatch? {
            if let first = admissions {
                admissions = nil
                return first
            }
            guard produced < workload.entries else { return nil }
            let w = turn % workload.writers
            let n = min(workload.batchSize, workload.entries - produced)
            var drafts = [EntryDraft]()
            drafts.reserveCapacity(n)
            for i in 0..<n {
                let op = ObjectStore.Op.put(
                    id: "obj-\(rng.below(workload.objects))",
                    fields: ["f\(rng.below(workload.fields))": .string(String(decoding: rng.alphanumeric(workload.valueLength), as: UTF8.self))])
                let deps = writers[w].tip.seq == 0 && i == 0 ? [genesisDependency] : []
                // Lamport times follow generation order, as if each writer had
                // seen every earlier entry: realistic last-writer-wins races.
                drafts.append(EntryDraft(payload: SpacePayload.model(op.encoded).encoded, dependencies: deps,
                                         observedLamport: UInt64(produced + i) + genesisDependency.seq))
            }
            let batch = try writers[w].append(drafts, timestamp: 1_700_000_000_000 + UInt64(produced))
            produced += n
            turn += 1
            return batch
        }
    }
}
