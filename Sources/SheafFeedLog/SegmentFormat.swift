import SheafCodec
import SheafCrypto

/// The fixed header at the start of every segment file.
///
/// ```
/// 8   magic "sheafseg"
/// u32 version (1)
/// u32 reserved (0)
/// 32  feed key
/// u64 base seq (the first entry's seq)
/// u32 CRC-32C of the 56 bytes above
/// u32 reserved (0)
/// ```
struct SegmentHeader: Equatable {
    static let size = 64
    static let magic = Array("sheafseg".utf8)
    static let version: UInt32 = 1

    var feed: PublicKey
    var baseSeq: UInt64

    func encode(into writer: inout ByteWriter) {
        let start = writer.count
        writer.writeRaw(Self.magic)
        writer.writeUInt32(Self.version)
        writer.writeUInt32(0)
        feed.encode(into: &writer)
        writer.writeUInt64(baseSeq)
        let crc = writer.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[start..<(start + 56)])) }
        writer.writeUInt32(crc)
        writer.writeUInt32(0)
    }

    static func decode(_ bytes: [UInt8]) throws(DecodingError) -> SegmentHeader {
        // The fields end at byte 60, but a header is only whole at 64 bytes:
        // a segment cut to 60...63 must not pass as one (records start at 64).
        guard bytes.count >= size else { throw DecodingError(.truncated, at: bytes.count, field: "segment.header") }
        var reader = ByteReader(bytes)
        let magic = try reader.readRaw("segment.magic", count: 8)
        guard Array(magic) == Self.magic else { throw DecodingError(.invalidValue, at: 0, field: "segment.magic") }
        let version = try reader.readUInt32("segment.version")
        guard version == Self.version else {
            throw DecodingError(.invalidValue, at: 8, field: "segment.version", detail: "unsupported version \(version)")
        }
        _ = try reader.readUInt32("segment.reserved")
        let feed = try PublicKey(from: &reader)
        let base = try reader.readUInt64("segment.base")
        let stored = try reader.readUInt32("segment.crc")
        let crc = bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[0..<56])) }
        guard crc == stored else { throw DecodingError(.invalidValue, at: 56, field: "segment.crc", detail: "checksum mismatch") }
        return SegmentHeader(feed: feed, baseSeq: base)
    }
}

/// A checkpoint of a segment's in-memory index, so opening a log does not
/// rescan what it had already indexed. Only a cache: if it is missing,
/// damaged or disagrees with the segment, the segment is scanned instead.
///
/// ```
/// 8   magic "sheafidx"
/// u32 version (1)
/// u64 base seq
/// u64 covered bytes (the prefix of the segment this index describes)
/// u32 entry count E, then E × u32 frame offsets
/// u32 head count H, then H × (u64 seq, u32 frame offset)
/// u64 Lamport time of the last covered entry
/// u32 CRC-32C of everything above
/// ```
struct SegmentIndex: Equatable {
    static let magic = Array("sheafidx".utf8)
    static let version: UInt32 = 1

    var baseSeq: UInt64
    var coveredBytes: UInt64
    var entryOffsets: [UInt32]
    var heads: [HeadLocation]
    var lastLamport: UInt64

    func encoded() -> [UInt8] {
        var writer = ByteWriter(capacity: 48 + entryOffsets.count * 4 + heads.count * 12)
        writer.writeRaw(Self.magic)
        writer.writeUInt32(Self.version)
        writer.writeUInt64(baseSeq)
        writer.writeUInt64(coveredBytes)
        writer.writeUInt32(UInt32(entryOffsets.count))
        for offset in entryOffsets { writer.writeUInt32(offset) }
        writer.writeUInt32(UInt32(heads.count))
        for head in heads {
            writer.writeUInt64(head.seq)
            writer.writeUInt32(head.offset)
        }
        writer.writeUInt64(lastLamport)
        let crc = writer.withUnsafeBytes { CRC32C.checksum($0) }
        writer.writeUInt32(crc)
        return writer.bytes
    }

    /// Decodes and sanity-checks an index against the segment it claims to describe.
    static func decode(_ bytes: [UInt8], baseSeq: UInt64, segmentSize: UInt64) throws(DecodingError) -> SegmentIndex {
        guard bytes.count >= 4 else { throw DecodingError(.truncated, at: 0, field: "index") }
        let stored = bytes.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: bytes.count - 4, as: UInt32.self)) }
        let crc = bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[0..<(bytes.count - 4)])) }
        guard crc == stored else { throw DecodingError(.invalidValue, at: bytes.count - 4, field: "index.crc") }
        var reader = ByteReader(bytes, range: 0..<(bytes.count - 4))
        guard Array(try reader.readRaw("index.magic", count: 8)) == Self.magic,
              try reader.readUInt32("index.version") == Self.version
        else { throw DecodingError(.invalidValue, at: 0, field: "index.header") }
        let base = try reader.readUInt64("index.base")
        let covered = try reader.readUInt64("index.covered")
        guard base == baseSeq, covered <= segmentSize, covered >= UInt64(SegmentHeader.size) else {
            throw DecodingError(.invalidValue, at: 12, field: "index.covered", detail: "does not match segment")
        }
        let entryCount = Int(try reader.readUInt32("index.entries"))
        guard entryCount <= reader.remaining / 4 else { throw DecodingError(.truncated, at: reader.offset, field: "index.entries") }
        let offsetBytes = try reader.readRange("index.offsets", count: entryCount * 4)
        let offsets = littleEndianWords(bytes, offsetBytes)
        if let bad = firstMisplaced(offsets, covered: covered) {
            throw DecodingError(.invalidValue, at: offsetBytes.lowerBound + 4 * bad, field: "index.offset")
        }
        let headCount = Int(try reader.readUInt32("index.heads"))
        guard headCount <= reader.remaining / 12 else { throw DecodingError(.truncated, at: reader.offset, field: "index.heads") }
        var heads = [HeadLocation]()
        heads.reserveCapacity(headCount)
        for _ in 0..<headCount {
            let seq = try reader.readUInt64("index.head.seq")
            let offset = try reader.readUInt32("index.head.offset")
            guard seq >= baseSeq, seq < baseSeq + UInt64(entryCount), UInt64(offset) < covered else {
                throw DecodingError(.invalidValue, at: reader.offset - 12, field: "index.head")
            }
            heads.append(HeadLocation(seq: seq, offset: offset))
        }
        let lamport = try reader.readUInt64("index.lamport")
        try reader.expectEnd("index")
        return SegmentIndex(baseSeq: base, coveredBytes: covered, entryOffsets: offsets, heads: heads, lastLamport: lamport)
    }

    /// `bytes[range]` as little-endian u32s, read in one pass (an index
    /// holds one per entry: a million for a large feed).
    private static func littleEndianWords(_ bytes: [UInt8], _ range: Range<Int>) -> [UInt32] {
        let count = range.count / 4
        return [UInt32](unsafeUninitializedCapacity: count) { out, initialized in
            bytes.withUnsafeBytes { raw in
                for i in 0..<count {
                    out[i] = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: range.lowerBound + 4 * i, as: UInt32.self))
                }
            }
            initialized = count
        }
    }

    /// The first frame offset that is not after the header, inside the
    /// covered prefix and above the one before it; nil if all are.
    private static func firstMisplaced(_ offsets: [UInt32], covered: UInt64) -> Int? {
        offsets.withUnsafeBufferPointer { offsets in
            var floor = UInt64(SegmentHeader.size)
            for (i, offset) in offsets.enumerated() {
                guard UInt64(offset) >= floor, UInt64(offset) < covered else { return i }
                floor = UInt64(offset) + 1
            }
            return nil
        }
    }
}

/// Where a signed head is stored inside its segment.
struct HeadLocation: Equatable {
    var seq: UInt64
    var offset: UInt32
}
