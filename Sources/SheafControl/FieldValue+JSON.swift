import SheafCrypto
import SheafModels

// The control API's JSON for the store's field values: null, true/false,
// an integer, a floating-point number, a string, or `{"bytes": "<hex>"}`.
//
// JSON has one number type, so the codec draws the line between ints and
// doubles: a whole number that fits Int64 is an int, any other number a
// double. A double that would read back as an int (a whole value in Int64's
// range, or -0) and a non-finite one travel boxed, `{"double": 4}` or
// `{"double": "nan"|"inf"|"-inf"}`, so every value round-trips to the same
// variant. (Foundation's decoder does not show a number's spelling: `4.0`
// sent by another client reads as the int 4; send `{"double": 4}` instead.)
extension FieldValue: Codable {
    private struct BoxKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
        static let bytes = BoxKey(stringValue: "bytes")
        static let double = BoxKey(stringValue: "double")
    }

    private static let boxShape = "a field value is null, a boolean, a number, a string, {\"bytes\": \"<hex>\"} or {\"double\": <number>}"

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
        } else if let box = try? decoder.container(keyedBy: BoxKey.self) {
            self = try Self.unbox(box)
        } else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: Self.boxShape)
        }
    }

    private static func unbox(_ box: KeyedDecodingContainer<BoxKey>) throws -> FieldValue {
        guard box.allKeys.count == 1, let key = box.allKeys.first else {
            throw DecodingError.dataCorrupted(.init(codingPath: box.codingPath, debugDescription: boxShape))
        }
        switch key.stringValue {
        case BoxKey.bytes.stringValue:
            guard let bytes = Hex.decode(try box.decode(String.self, forKey: key)) else {
                throw DecodingError.dataCorruptedError(
                    forKey: key, in: box, debugDescription: "\"bytes\" must be an even number of hex digits")
            }
            return .bytes(bytes)
        case BoxKey.double.stringValue:
            if let number = try? box.decode(Double.self, forKey: key) { return .double(number) }
            switch try box.decode(String.self, forKey: key) {
            case "nan": return .double(.nan)
            case "inf": return .double(.infinity)
            case "-inf": return .double(-.infinity)
            default:
                throw DecodingError.dataCorruptedError(
                    forKey: key, in: box, debugDescription: "\"double\" is a number, \"nan\", \"inf\" or \"-inf\"")
            }
        default:
            throw DecodingError.dataCorrupted(.init(codingPath: box.codingPath + [key], debugDescription: boxShape))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .double(let value) where Self.needsBox(value):
            var box = encoder.container(keyedBy: BoxKey.self)
            if value.isNaN {
                try box.encode("nan", forKey: .double)
            } else if value.isInfinite {
                try box.encode(value < 0 ? "-inf" : "inf", forKey: .double)
            } else {
                try box.encode(value, forKey: .double)
            }
        case .bytes(let value):
            var box = encoder.container(keyedBy: BoxKey.self)
            try box.encode(Hex.encode(value), forKey: .bytes)
        default:
            var container = encoder.singleValueContainer()
            switch self {
            case .null: try container.encodeNil()
            case .bool(let value): try container.encode(value)
            case .int(let value): try container.encode(value)
            case .double(let value): try container.encode(value)
            case .string(let value): try container.encode(value)
            case .bytes: break  // boxed above
            }
        }
    }

    /// Whether a plain JSON number would not read back as this double.
    static func needsBox(_ value: Double) -> Bool {
        !value.isFinite || (value == 0 && value.sign == .minus) || Int64(exactly: value) != nil
    }
}
