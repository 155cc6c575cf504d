import Foundation

/// The API's JSON: camelCase keys as the Swift types name them (field names
/// inside objects are user data and pass verbatim), sorted keys so output is
/// stable, and decoding failures turned into a 400 that says where.
public enum ControlJSON {
    public static func encode<T: Encodable>(_ value: T) throws(ControlError) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        do {
            return try encoder.encode(value)
        } catch {
            throw ControlError(.internal, "cannot encode \(T.self) as JSON: \(error)")
        }
    }

    /// Decodes a request or reply body; `what` names it in the error.
    public static func decode<T: Decodable>(_ type: T.Type, from data: Data, what: String) throws(ControlError) -> T {
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch let error as DecodingError {
            throw ControlError(.badRequest, "\(what) is not valid: \(describe(error))", hint: "see docs/API.md for the body's fields")
        } catch {
            throw ControlError(.badRequest, "\(what) is not valid JSON: \(error)")
        }
    }

    /// "at fields.size: expected a number" style, from Foundation's error.
    static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            let text = keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
            return text.isEmpty ? "the top level" : String(text.drop { $0 == "." })
        }
        switch error {
        case .keyNotFound(let key, let context):
            let parent = context.codingPath.isEmpty ? "" : " in \(path(context.codingPath))"
            return "missing field \"\(key.stringValue)\"\(parent)"
        case .typeMismatch(let type, let context):
            return "at \(path(context.codingPath)): expected \(typeName(type))"
        case .valueNotFound(let type, let context):
            return "at \(path(context.codingPath)): expected \(typeName(type)), found null"
        case .dataCorrupted(let context):
            let underlying = (context.underlyingError as? NSError)?.userInfo[NSDebugDescriptionErrorKey] as? String
            let detail = context.debugDescription.isEmpty ? (underlying ?? "malformed") : context.debugDescription
            return context.codingPath.isEmpty ? detail : "at \(path(context.codingPath)): \(detail)"
        @unknown default:
            return "\(error)"
        }
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "a boolean"
        case is Int.Type, is Int64.Type, is UInt64.Type, is Int32.Type, is UInt32.Type: "an integer"
        case is Double.Type, is Float.Type: "a number"
        case is [Any].Type: "an array"
        default: type == [String: Any].self ? "an object" : "\(type)"
        }
    }
}
