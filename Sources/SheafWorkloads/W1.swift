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
        var genesisWriter = FeedWriter(keyPair: genesis)
        let admissions = writerKeys.map { EntryDraft(payload: SpacePayload.admit($0.publicKey).encoded) }
        let admitted = try genesisWriter.append(admissions, timestamp: 1_700_000_000_000)
        guard try body(admitted) else { return }

        var writersState = writerKeys.map { FeedWriter(keyPair: $0) }
        var rng = SplitMix64(seed: seed)
        var produced = 0
        var turn = 0
        let genesisDependency = Dependency(feed: space, seq: admitted.head.seq)
        while produced < entries {
            let w = turn % writers
            let n = min(batchSize, entries - produced)
            var drafts = [EntryDraft]()
            drafts.reserveCapacity(n)
            for i in 0..<n {
                let op = ObjectStore.Op.put(
                    id: "obj-\(rng.below(objects))",
                    fields: ["f\(rng.below(fields))": .string(String(decoding: rng.alphanumeric(valueLength), as: UTF8.self))])
                let deps = writersState[w].tip.seq == 0 && i == 0 ? [genesisDependency] : []
                // Lamport times follow generation order, as if each writer had
                // seen every earlier entry: realistic last-writer-wins races.
                drafts.append(EntryDraft(payload: SpacePayload.model(op.encoded).encoded, dependencies: deps,
                                         observedLamport: UInt64(produced + i) + admitted.head.seq))
            }
            let batch = try writersState[w].append(drafts, timestamp: 1_700_000_000_000 + UInt64(produced))
            produced += n
            turn += 1
            guard try body(batch) else { return }
        }
    }
}
