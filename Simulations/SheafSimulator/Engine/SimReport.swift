/// A flat JSON object that keeps its keys in insertion order, rendered on
/// one line: the machine-readable summary of a simulation run.
public struct SimReport: Sendable, CustomStringConvertible {
    public enum Value: Hashable, Sendable {
        case string(String)
        case int(Int)
        /// Non-finite values render as `null`: JSON has no NaN or infinity.
        case double(Double)
        case bool(Bool)
    }

    public private(set) var fields: [(key: String, value: Value)] = []

    public init() {}

    public init(_ pairs: KeyValuePairs<String, Value>) {
        for (key, value) in pairs { self[key] = value }
    }

    /// Setting an existing key replaces its value in place.
    public subscript(key: String) -> Value? {
        get { fields.first { $0.key == key }?.value }
        set {
            let position = fields.firstIndex { $0.key == key }
            switch (position, newValue) {
            case (let position?, let value?): fields[position].value = value
            case (let position?, nil): fields.remove(at: position)
            case (nil, let value?): fields.append((key, value))
            case (nil, nil): break
            }
        }
    }

    /// The object as one line of JSON.
    public var json: String {
        var out = "{"
        for (position, field) in fields.enumerated() {
            if position > 0 { out += "," }
            Self.quote(field.key, into: &out)
            out += ":"
            switch field.value {
            case .string(let text): Self.quote(text, into: &out)
            case .int(let number): out += String(number)
            case .double(let number): out += number.isFinite ? "\(number)" : "null"
            case .bool(let flag): out += flag ? "true" : "false"
            }
        }
        return out + "}"
    }

    public var description: String { json }

    private static func quote(_ text: String, into out: inout String) {
        out += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}

extension SimReport.Value: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByBooleanLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}
