import SheafCrypto

extension JSONFieldValue {
    private struct BytesBox: Codable {
        var bytes: String
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .int(value)
        } else if let value = try? container.decode(Double.self) {
            self = .double(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let box = try? container.decode(BytesBox.self) {
            guard let bytes = Hex.decode(box.bytes) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "\"bytes\" must be an even number of hex digits")
            }
            self = .bytes(bytes)
        } else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "a field value is null, a boolean, a number, a string or {\"bytes\": \"<hex>\"}")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .int(let value): try container.encode(value)
        case .double(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .bytes(let value): try container.encode(BytesBox(bytes: Hex.encode(value)))
        }
    }
}
