import SheafCodec
import SheafCrypto

/// The payload of every entry in a space: a control op (admission) or an op
/// for the space's model.
///
/// Layout: `u8 kind` then, for kind 0 (control), `u8 op ‖ feed key (32)`
/// with op 1 = admit, 2 = remove; for kind 1 (model), the model's op bytes.
public enum SpacePayload: Hashable, Sendable {
    case admit(PublicKey)
    case remove(PublicKey)
    case model([UInt8])

    public var encoded: [UInt8] {
        var writer = ByteWriter()
        switch self {
        case .admit(let feed):
            writer.writeUInt8(0); writer.writeUInt8(1); feed.encode(into: &writer)
        case .remove(let feed):
            writer.writeUInt8(0); writer.writeUInt8(2); feed.encode(into: &writer)
        case .model(let op):
            writer.writeUInt8(1); writer.writeRaw(op)
        }
        return writer.bytes
    }

    public static func decode(_ bytes: [UInt8]) throws(DecodingError) -> SpacePayload {
        var reader = ByteReader(bytes)
        switch try reader.readUInt8("payload.kind") {
        case 0:
            let op = try reader.readUInt8("payload.control")
            let feed = try PublicKey(from: &reader)
            try reader.expectEnd("payload.control")
            switch op {
            case 1: return .admit(feed)
            case 2: return .remove(feed)
            default: throw DecodingError(.invalidValue, at: 1, field: "payload.control")
            }
        case 1:
            return .model(Array(bytes.dropFirst()))
        default:
            throw DecodingError(.invalidValue, at: 0, field: "payload.kind")
        }
    }
}
