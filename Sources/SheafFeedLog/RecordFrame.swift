import SheafCodec
import SheafCrypto
import SheafFeeds

/// The on-disk framing of one log record.
///
/// ```
/// u32 LE  length L of kind ‖ payload
/// u32 LE  CRC-32C of (the 4 length bytes ‖ kind ‖ payload)
/// u8      kind: 1 entry body, 2 signed head
/// ...     payload (L - 1 bytes)
/// ```
/// The checksum covers the length, so a damaged length is caught too.
enum RecordFrame {
    static let headerSize = 8
    static let maxLength = 1 + FeedLimits.maxEntryBodyBytes

    enum Kind: UInt8 {
        case entry = 1
        case head = 2
    }

    /// Appends one frame holding `payload`.
    static func append(kind: Kind, payload: UnsafeRawBufferPointer, to writer: inout ByteWriter) {
        let start = writer.count
        writer.writeUInt32(UInt32(1 + payload.count))
        writer.writeUInt32(0)
        writer.writeUInt8(kind.rawValue)
        writer.writeRaw(payload)
        let crc = writer.withUnsafeBytes { raw in
            let length = UnsafeRawBufferPointer(rebasing: raw[start..<(start + 4)])
            let body = UnsafeRawBufferPointer(rebasing: raw[(start + 8)..<writer.count])
            return CRC32C.checksum(body, continuing: CRC32C.checksum(length))
        }
        writer.patchUInt32(crc, at: start + 4)
    }

    /// The payload of a stored head: seq ‖ hash ‖ signature (the feed is the log's).
    static func headPayload(_ head: SignedHead) -> [UInt8] {
        var writer = ByteWriter(capacity: 106)
        writer.writeVarint(head.seq)
        head.hash.encode(into: &writer)
        head.signature.encode(into: &writer)
        return writer.bytes
    }

    static func decodeHead(_ buffer: [UInt8], _ range: Range<Int>, feed: PublicKey) throws(DecodingError) -> SignedHead {
        var reader = ByteReader(buffer, range: range)
        let seq = try reader.readVarint("head.seq", in: 1...UInt64.max)
        let hash = try Hash(from: &reader)
        let signature = try Signature(from: &reader)
        try reader.expectEnd("head")
        return SignedHead(feed: feed, seq: seq, hash: hash, signature: signature)
    }

    enum Parse {
        /// A frame with a valid checksum: its kind, payload range and the offset after it.
        case valid(kind: Kind, payload: Range<Int>, next: Int)
        /// The buffer ends inside the frame.
        case incomplete
        /// The frame is damaged.
        case invalid(String)
    }

    /// Parses the frame at `offset` of `buffer[..<end]`.
    static func parse(_ buffer: [UInt8], at offset: Int, end: Int) -> Parse {
        guard end - offset >= headerSize else { return .incomplete }
        return buffer.withUnsafeBytes { raw in
            let length = Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
            let stored = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self))
            guard length >= 1, length <= maxLength else { return .invalid("frame length \(length) out of bounds") }
            guard end - offset - headerSize >= length else { return .incomplete }
            let crc = CRC32C.checksum(
                UnsafeRawBufferPointer(rebasing: raw[(offset + 8)..<(offset + 8 + length)]),
                continuing: CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + 4)])))
            guard crc == stored else { return .invalid("checksum mismatch") }
            guard let kind = Kind(rawValue: raw[offset + 8]) else { return .invalid("unknown record kind \(raw[offset + 8])") }
            return .valid(kind: kind, payload: (offset + 9)..<(offset + 8 + length), next: offset + 8 + length)
        }
    }
}
