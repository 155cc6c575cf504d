import SheafCodec
import SheafCrypto
import SheafModels

/// Which feeds may write to a space, decided deterministically.
///
/// The genesis feed (the space key's) is always admitted and is the only
/// feed whose control ops count. An entry of another feed W is applied only
/// if W is admitted in the genesis prefix that W's own chain has
/// acknowledged: the highest genesis seq any entry of W up to this one named
/// as a dependency (its *anchor*). Both inputs are part of the entry's causal
/// past, so every replica decides the same way whatever the delivery order.
///
/// A writer learns of its admission by seeing the genesis entry that admits
/// it, and names it as a dependency in its next entry (the replica's writer
/// does this). A removal takes effect for W's entries that acknowledge it;
/// entries concurrent with it still apply — the protocol layer stops
/// accepting new entries of a feed whose removal it has seen.
struct Admission: Hashable, Sendable {
    let genesis: PublicKey
    /// Control events per feed: (genesis seq, admitted?), ascending.
    private(set) var events: [PublicKey: [Event]] = [:]
    /// Highest genesis seq each feed's chain has named, as of its last delivered entry.
    private(set) var anchors: [PublicKey: UInt64] = [:]

    struct Event: Hashable, Sendable {
        var seq: UInt64
        var admitted: Bool
    }

    init(genesis: PublicKey) { self.genesis = genesis }

    /// Records a control op carried by genesis entry `seq`.
    mutating func record(_ feed: PublicKey, admitted: Bool, at seq: UInt64) {
        guard feed != genesis else { return }
        events[feed, default: []].append(Event(seq: seq, admitted: admitted))
    }

    /// Advances `feed`'s anchor with the genesis dependency of its next entry
    /// and says whether that entry may be applied.
    mutating func admits(_ feed: PublicKey, genesisDependency: UInt64?) -> Bool {
        if feed == genesis { return true }
        var anchor = anchors[feed] ?? 0
        if let dep = genesisDependency, dep > anchor {
            anchor = dep
            anchors[feed] = dep
        }
        return isAdmitted(feed, asOf: anchor)
    }

    /// Whether `feed` is admitted in the genesis prefix up to `seq`.
    func isAdmitted(_ feed: PublicKey, asOf seq: UInt64) -> Bool {
        if feed == genesis { return true }
        guard let list = events[feed] else { return false }
        return list.last(where: { $0.seq <= seq })?.admitted ?? false
    }

    /// Admitted as of everything the genesis feed has said.
    var currentlyAdmitted: [PublicKey] {
        [genesis] + events.compactMap { feed, list in list.last?.admitted == true ? feed : nil }.sorted()
    }

    func anchor(of feed: PublicKey) -> UInt64 { anchors[feed] ?? 0 }

    /// How snapshots number the feeds their records name: the genesis key,
    /// then every feed ever admitted, by the genesis seq that first admitted
    /// it. A function of the admission state (under the state root), and
    /// it only grows, so a record's encoding never changes.
    var feedTable: FeedTable {
        let admitted = events.compactMap { feed, list in list.first(where: \.admitted).map { (seq: $0.seq, feed: feed) } }
            .sorted { $0.seq != $1.seq ? $0.seq < $1.seq : $0.feed < $1.feed }
        return FeedTable([genesis] + admitted.map(\.feed))
    }

    // MARK: Canonical encoding (part of every snapshot, under its state root)

    /// `varint n ‖ n × (feed ‖ varint m ‖ m × (varint seq ‖ u8 admitted))`
    /// `‖ varint k ‖ k × (feed ‖ varint anchor)`, feeds ascending.
    func encode(into writer: inout ByteWriter) {
        writer.writeVarint(UInt64(events.count))
        for feed in events.keys.sorted() {
            let list = events[feed] ?? []
            feed.encode(into: &writer)
            writer.writeVarint(UInt64(list.count))
            for event in list {
                writer.writeVarint(event.seq)
                writer.writeUInt8(event.admitted ? 1 : 0)
            }
        }
        writer.writeVarint(UInt64(anchors.count))
        for feed in anchors.keys.sorted() {
            feed.encode(into: &writer)
            writer.writeVarint(anchors[feed] ?? 0)
        }
    }

    init(genesis: PublicKey, decoding reader: inout ByteReader) throws(DecodingError) {
        self.genesis = genesis
        let n = try reader.readCount("admission.feeds", limit: 1 << 20, minElementSize: 34)
        var last: PublicKey?
        for _ in 0..<n {
            let offset = reader.offset
            let feed = try PublicKey(from: &reader)
            if let last, !(last < feed) { throw DecodingError(.notCanonical, at: offset, field: "admission.feed") }
            last = feed
            let m = try reader.readCount("admission.events", limit: 1 << 20, minElementSize: 2)
            var list = [Event]()
            var previous: UInt64 = 0
            for _ in 0..<m {
                let seqOffset = reader.offset
                let seq = try reader.readVarint("admission.seq", in: 1...UInt64.max)
                guard seq > previous else { throw DecodingError(.notCanonical, at: seqOffset, field: "admission.seq") }
                previous = seq
                let flag = try reader.readUInt8("admission.admitted")
                guard flag <= 1 else { throw DecodingError(.invalidValue, at: reader.offset - 1, field: "admission.admitted") }
                list.append(Event(seq: seq, admitted: flag == 1))
            }
            events[feed] = list
        }
        let k = try reader.readCount("admission.anchors", limit: 1 << 20, minElementSize: 33)
        last = nil
        for _ in 0..<k {
            let offset = reader.offset
            let feed = try PublicKey(from: &reader)
            if let last, !(last < feed) { throw DecodingError(.notCanonical, at: offset, field: "admission.anchor.feed") }
            last = feed
            anchors[feed] = try reader.readVarint("admission.anchor")
        }
    }
}
