import SheafControl
import SheafCrypto
import SheafModels

/// How `peer put` reads `field=value` and how tables show values, one
/// syntax both ways:
///
/// | written | value |
/// |---|---|
/// | `42`, `-7` | int (Int64) |
/// | `4.2`, `1e6`, `-0.5` | double |
/// | `true`, `false` | bool |
/// | `null` | null |
/// | `0x00ff` | bytes (even number of hex digits) |
/// | `"42"` | the string 42 (quotes force a string) |
/// | anything else | that string, as written |
public enum FieldSyntax {
    /// `name=value`, split at the first "=".
    public static func parseAssignment(_ text: String) throws(ControlError) -> (name: String, value: FieldValue) {
        guard let equals = text.firstIndex(of: "="), equals != text.startIndex else {
            throw ControlError(
                .badRequest, "\"\(text)\" is not field=value", hint: "write fields as name=value, e.g. title=hello count=3")
        }
        return (String(text[..<equals]), try parseValue(String(text[text.index(after: equals)...])))
    }

    public static func parseValue(_ text: String) throws(ControlError) -> FieldValue {
        switch text {
        case "null": return .null
        case "true": return .bool(true)
        case "false": return .bool(false)
        default: break
        }
        if text.count >= 2, text.hasPrefix("\""), text.hasSuffix("\"") { return .string(String(text.dropFirst().dropLast())) }
        if text.hasPrefix("0x") {
            guard let bytes = Hex.decode(String(text.dropFirst(2))) else {
                throw ControlError(.badRequest, "\(text) is not bytes: 0x needs an even number of hex digits", hint: "quote it (\"\(text)\") for a string")
            }
            return .bytes(bytes)
        }
        if isInteger(text) {
            guard let value = Int64(text) else {
                throw ControlError(.badRequest, "\(text) is out of the integer range", hint: "write \(text).0 for a double, or quote it for a string")
            }
            return .int(value)
        }
        if isDecimal(text), let value = Double(text) { return .double(value) }
        return .string(text)
    }

    /// The value as `put` would read it back.
    public static func render(_ value: FieldValue) -> String {
        switch value {
        case .null: return "null"
        case .bool(let flag): return flag ? "true" : "false"
        case .int(let number): return String(number)
        case .double(let number):
            let text = "\(number)"
            return isDecimal(text) ? text : text == "inf" || text == "-inf" || text == "nan" ? text : text + ".0"
        case .bytes(let bytes): return "0x" + Hex.encode(bytes)
        case .string(let text):
            // Quoted when it would read back as something else, or has blanks (one shell word).
            let plain = (try? parseValue(text)).map { $0 == .string(text) } ?? false
            return plain && !text.isEmpty && !text.contains(where: \.isWhitespace) ? text : "\"\(text)\""
        }
    }

    private static func isInteger(_ text: String) -> Bool {
        let digits = text.hasPrefix("-") ? text.dropFirst() : Substring(text)
        return !digits.isEmpty && digits.allSatisfy(\.isASCIIDigit)
    }

    /// `-?digits(.digits)?([eE][+-]?digits)?` with a fraction or an exponent.
    private static func isDecimal(_ text: String) -> Bool {
        var rest = Substring(text)
        if rest.hasPrefix("-") { rest = rest.dropFirst() }
        let whole = rest.prefix { $0.isASCIIDigit }
        guard !whole.isEmpty else { return false }
        rest = rest.dropFirst(whole.count)
        var marked = false
        if rest.hasPrefix(".") {
            let fraction = rest.dropFirst().prefix { $0.isASCIIDigit }
            guard !fraction.isEmpty else { return false }
            rest = rest.dropFirst(1 + fraction.count)
            marked = true
        }
        if rest.hasPrefix("e") || rest.hasPrefix("E") {
            rest = rest.dropFirst()
            if rest.hasPrefix("+") || rest.hasPrefix("-") { rest = rest.dropFirst() }
            let exponent = rest.prefix { $0.isASCIIDigit }
            guard !exponent.isEmpty else { return false }
            rest = rest.dropFirst(exponent.count)
            marked = true
        }
        return marked && rest.isEmpty
    }
}

extension Character {
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
