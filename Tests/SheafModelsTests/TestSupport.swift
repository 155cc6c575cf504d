// `@testable` gives the tests the record types' memberwise initializers
// (ObjectRecord, Register, FieldName(bytes:)) and FieldValue's encoder, so
// they can build arbitrary records, including ones no op sequence produces.
import SheafCodec
import SheafCollections
import SheafCrypto
@testable import SheafModels
import Testing
@_exported import SheafRandom

enum Writers {
    /// The public key of the key pair seeded with 32 bytes drawn from `seed`.
    static func key(_ seed: UInt64) -> PublicKey {
        var rng = SplitMix64(seed: seed)
        return KeyPair(seed: rng.bytes(32))!.publicKey
    }

    /// Five writers, in no particular key order.
    static let all: [PublicKey] = (1...5).map { key($0) }
    static let alice = all[0]
    static let bob = all[1]
    static let carol = all[2]
}

func context(_ feed: PublicKey, seq: UInt64 = 1, lamport: UInt64) -> EntryContext {
    EntryContext(feed: feed, seq: seq, lamport: lamport)
}

/// The stamp order written out independently of `Stamp.<`: Lamport time,
/// then the feed key's bytes as unsigned, lexicographically.
func referenceStampLess(_ a: Stamp, _ b: Stamp) -> Bool {
    if a.lamport != b.lamport { return a.lamport < b.lamport }
    return a.feed.raw.bytes.lexicographicallyPrecedes(b.feed.raw.bytes)
}

extension ApplyOutcome {
    var isIgnored: Bool {
        if case .ignored = self { return true }
        return false
    }

    var changedKeys: [RecordKey]? {
        if case .applied(let changed) = self { return changed }
        return nil
    }
}

/// The canonical bytes of one record.
func encoded<M: SnapshotModel>(_ record: M.Record, as model: M.Type) -> [UInt8] {
    var writer = ByteWriter()
    M.encode(record, into: &writer)
    return writer.bytes
}

/// The whole state as (key, canonical record bytes), in key order: what a
/// snapshot would hash.
func canonicalState<M: SnapshotModel>(_ model: M) -> [(key: RecordKey, bytes: [UInt8])] {
    var out = [(key: RecordKey, bytes: [UInt8])]()
    model.records.forEach { key, record in
        out.append((key, encoded(record, as: M.self)))
        return true
    }
    return out
}

/// Whether two states are byte-identical, record by record.
func sameCanonicalState<M: SnapshotModel>(_ a: M, _ b: M) -> Bool {
    let x = canonicalState(a)
    let y = canonicalState(b)
    return x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.bytes == $1.bytes }
}

extension FieldValue {
    var encodedBytes: [UInt8] {
        var writer = ByteWriter()
        encode(into: &writer)
        return writer.bytes
    }
}

/// Runs `body` and returns the `DecodingError` it throws, or nil if it succeeds.
func decodingError<R>(_ body: () throws(DecodingError) -> R) -> DecodingError? {
    do {
        _ = try body()
        return nil
    } catch {
        return error
    }
}

extension SplitMix64 {
    /// Any FieldValue, every case, with edge values often.
    mutating func fieldValue() -> FieldValue {
        switch below(6) {
        case 0: return .null
        case 1: return .bool(below(2) == 0)
        case 2:
            let edges: [Int64] = [0, 1, -1, 63, -64, 64, Int64.max, Int64.min, Int64.max - 1, Int64.min + 1]
            return .int(below(2) == 0 ? edges[below(edges.count)] : Int64(bitPattern: next()))
        case 3:
            let edges: [Double] = [0, -0.0, 1, -1.5, .infinity, -.infinity, .nan, .leastNonzeroMagnitude,
                                   .greatestFiniteMagnitude, Double(bitPattern: 0x7ff8_dead_beef_0001)]
            return .double(below(2) == 0 ? edges[below(edges.count)] : Double(bitPattern: next()))
        case 4: return .string(string(maxScalars: 12))
        default: return .bytes(bytes(below(3) == 0 ? below(300) : below(8)))
        }
    }

    /// A string mixing ASCII, NUL, two- three- and four-byte scalars, and
    /// combining marks (so canonically equivalent forms occur).
    mutating func string(maxScalars: Int) -> String {
        let pieces = ["a", "b", "z", "A", "\u{0}", "\u{E9}", "e\u{301}", "\u{301}", "\u{4E2D}", "\u{1F600}", " ", "~"]
        return (0..<below(maxScalars + 1)).map { _ in pieces[below(pieces.count)] }.joined()
    }
}
