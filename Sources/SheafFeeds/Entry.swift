import SheafCodec
import SheafCrypto

/// A causal dependency on another feed: "this entry was written after
/// (feed, seq) was seen".
public struct Dependency: Hashable, Sendable, Comparable {
    public var feed: PublicKey
    public var seq: UInt64

    public init(feed: PublicKey, seq: UInt64) {
        self.feed = feed
        self.seq = seq
    }

    public static func < (a: Dependency, b: Dependency) -> Bool {
        a.feed != b.feed ? a.feed < b.feed : a.seq < b.seq
    }
}

/// One delta in a single writer's feed.
///
/// An entry's identity is the hash of its body (everything but the feed key).
/// The feed key is bound through the chain instead: the first entry's
/// `previous` is `Entry.root(of: feed)`, and each later one names its
/// predecessor's hash, so an entry cannot move to another feed or seq.
/// Leaving the 32-byte key out of every body keeps a 64-byte-payload entry
/// inside a single 128-byte BLAKE2b block.
public struct Entry: Hashable, Sendable {
    public var feed: PublicKey
    /// Position in the feed, from 1.
    public var seq: UInt64
    /// Hash of entry `seq - 1`, or the feed root for seq 1.
    public var previous: Hash
    /// Lamport time: above the predecessor's and above every dependency's.
    public var lamport: UInt64
    /// Other feeds' entries this one causally follows; sorted, one per feed,
    /// never the entry's own feed (its predecessor is implied).
    public var dependencies: [Dependency]
    /// Writer's wall clock, milliseconds since the Unix epoch. Informational:
    /// ordering uses `lamport`, never this.
    public var timestamp: UInt64
    public var payload: [UInt8]

    public init(feed: PublicKey, seq: UInt64, previous: Hash, lamport: UInt64,
                dependencies: [Dependency] = [], timestamp: UInt64, payload: [UInt8]) {
        self.feed = feed
        self.seq = seq
        self.previous = previous
        self.lamport = lamport
        self.dependencies = dependencies
        self.timestamp = timestamp
        self.payload = payload
    }

    /// The `previous` of a feed's first entry.
    public static func root(of feed: PublicKey) -> Hash {
        feed.raw.withUnsafeBytes { Hash.of($0, domain: FeedDomains.feedRoot) }
    }

    /// The body: the bytes that are hashed, stored in logs and sent in ranges.
    public func encodeBody(into writer: inout ByteWriter) {
        writer.writeVarint(seq)
        previous.encode(into: &writer)
        writer.writeVarint(lamport)
        writer.writeVarint(timestamp)
        writer.writeVarint(UInt64(dependencies.count))
        for dep in dependencies {
            dep.feed.encode(into: &writer)
            writer.writeVarint(dep.seq)
        }
        writer.writeLengthPrefixed(payload)
    }

    public var body: [UInt8] {
        var writer = ByteWriter(capacity: 48 + payload.count + dependencies.count * 40)
        encodeBody(into: &writer)
        return writer.bytes
    }

    /// BLAKE2b-256 of the body in the entry domain.
    public var hash: Hash { Hash.of(body, domain: FeedDomains.entry) }

    /// Decodes a body that fills `reader` to its end, for `feed`.
    public init(feed: PublicKey, body reader: inout ByteReader) throws(DecodingError) {
        let header = try EntryHeader.scan(&reader)
        self.feed = feed
        seq = header.seq
        previous = header.previous
        lamport = header.lamport
        timestamp = header.timestamp
        dependencies = header.dependencies(in: reader.buffer)
        payload = Array(reader.buffer[header.payload])
    }

    public init(feed: PublicKey, body: [UInt8]) throws(DecodingError) {
        var reader = ByteReader(body)
        try self.init(feed: feed, body: &reader)
    }
}

/// A standalone entry (outside a feed's log or range) carries its feed key
/// first, then its body, which fills the rest of the bytes.
extension Entry: CanonicalCodable {
    public func encode(into writer: inout ByteWriter) {
        feed.encode(into: &writer)
        encodeBody(into: &writer)
    }

    public init(from reader: inout ByteReader) throws(DecodingError) {
        let feed = try PublicKey(from: &reader)
        try self.init(feed: feed, body: &reader)
    }
}

/// The fixed fields of an entry body, read and checked without copying the
/// payload. Range verification scans headers and hashes bodies in place.
package struct EntryHeader {
    package var seq: UInt64
    package var previous: Hash
    package var lamport: UInt64
    package var timestamp: UInt64
    /// Where the dependency list starts, and how many there are.
    var dependencyStart: Int
    var dependencyCount: Int
    var payload: Range<Int>

    /// Reads and validates a whole body, which must end where `reader` ends.
    package static func scan(_ reader: inout ByteReader) throws(DecodingError) -> EntryHeader {
        let seq = try reader.readVarint("entry.seq", in: 1...UInt64.max)
        let previous = try Hash(from: &reader)
        let lamport = try reader.readVarint("entry.lamport", in: 1...UInt64.max)
        let timestamp = try reader.readVarint("entry.timestamp")
        let depCount = try reader.readCount("entry.dependencies", limit: FeedLimits.maxDependencies, minElementSize: 33)
        let depStart = reader.offset
        var last: Bytes32?
        for _ in 0..<depCount {
            let keyOffset = reader.offset
            let feed = try Bytes32(from: &reader)
            if let last, !(last < feed) {
                throw DecodingError(.notCanonical, at: keyOffset, field: "entry.dependencies",
                                    detail: "feeds must be strictly ascending")
            }
            last = feed
            _ = try reader.readVarint("entry.dependency.seq", in: 1...UInt64.max)
        }
        let payloadCount = try reader.readCount("entry.payload", limit: FeedLimits.maxPayloadBytes)
        let payload = try reader.readRange("entry.payload", count: payloadCount)
        try reader.expectEnd("entry")
        return EntryHeader(seq: seq, previous: previous, lamport: lamport, timestamp: timestamp,
                           dependencyStart: depStart, dependencyCount: depCount, payload: payload)
    }

    /// Decodes the dependency list validated by `scan`.
    func dependencies(in buffer: [UInt8]) -> [Dependency] {
        guard dependencyCount > 0 else { return [] }
        var reader = ByteReader(buffer, range: dependencyStart..<payload.lowerBound)
        var result = [Dependency]()
        result.reserveCapacity(dependencyCount)
        for _ in 0..<dependencyCount {
            // `scan` has checked these bytes; a failure here is impossible.
            guard let feed = try? PublicKey(from: &reader), let seq = try? reader.readVarint("dep") else { break }
            result.append(Dependency(feed: feed, seq: seq))
        }
        return result
    }
}
