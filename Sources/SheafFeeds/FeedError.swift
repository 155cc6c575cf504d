import SheafCodec
import SheafCrypto

/// Why entries, a range or a head were rejected. Each way a range can be
/// wrong has its own code, so a peer's misbehaviour can be told apart from
/// a gap in what we asked for.
public struct FeedError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: Hashable, Sendable {
        /// Bytes that do not decode as an entry, head or range.
        case malformed(DecodingError)
        /// An entry or head belongs to another feed than the one expected.
        case wrongFeed(expected: PublicKey, found: PublicKey)
        /// A seq is missing: `found` follows where `expected` should be.
        case gap(expected: UInt64, found: UInt64)
        /// Entries are present but not in seq order.
        case outOfOrder(expected: UInt64, found: UInt64)
        /// A seq appears twice, or an entry we already hold is sent again.
        case duplicate(seq: UInt64)
        /// An entry's previous hash is not the hash of the entry before it.
        case wrongPrevious(seq: UInt64)
        /// An entry's Lamport time does not exceed its predecessor's.
        case lamportRegression(seq: UInt64)
        /// The head's signature does not verify under the feed key.
        case badSignature
        /// The head's signature is malleated (S ≥ L).
        case nonCanonicalSignature
        /// The range does not end at the signed head (other seq or hash).
        case headMismatch(seq: UInt64)
        /// A range with no entries.
        case emptyRange
        /// A local append breaks a limit.
        case payloadTooLarge(size: Int, limit: Int)
        case tooManyDependencies(count: Int, limit: Int)
        /// Two heads that do not prove a fork (same hash, other feed or seq).
        case notAFork(String)
    }

    public let code: Code
    public init(_ code: Code) { self.code = code }

    public var description: String {
        switch code {
        case .malformed(let e): "malformed: \(e)"
        case .wrongFeed(let expected, let found): "wrong feed: expected \(expected), found \(found)"
        case .gap(let expected, let found): "gap: expected seq \(expected), found \(found)"
        case .outOfOrder(let expected, let found): "out of order: expected seq \(expected), found \(found)"
        case .duplicate(let seq): "duplicate entry at seq \(seq)"
        case .wrongPrevious(let seq): "entry \(seq) does not chain to its predecessor"
        case .lamportRegression(let seq): "entry \(seq) has a Lamport time not above its predecessor's"
        case .badSignature: "signed head does not verify"
        case .nonCanonicalSignature: "signed head has a non-canonical signature"
        case .headMismatch(let seq): "range does not end at the signed head (seq \(seq))"
        case .emptyRange: "empty range"
        case .payloadTooLarge(let size, let limit): "payload of \(size) bytes exceeds \(limit)"
        case .tooManyDependencies(let count, let limit): "\(count) dependencies exceed \(limit)"
        case .notAFork(let why): "not a fork: \(why)"
        }
    }
}
