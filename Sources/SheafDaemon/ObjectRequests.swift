import SheafControl
import SheafModels

/// Checks and converts object requests before anything is written, so a
/// bad request is refused whole with a clear reason.
enum ObjectRequests {
    static let maxBatch = 65_536

    static func check(id: String) throws(ControlError) {
        let bytes = id.utf8.count
        guard bytes > 0, bytes <= ObjectStore.maxIDBytes else {
            throw ControlError(.badRequest, "object ids are 1...\(ObjectStore.maxIDBytes) bytes of UTF-8, this one \(bytes)")
        }
    }

    static func fields(_ fields: [String: JSONFieldValue]) throws(ControlError) -> [String: FieldValue] {
        guard fields.count <= ObjectStore.maxFieldsPerOp else {
            throw ControlError(.badRequest, "at most \(ObjectStore.maxFieldsPerOp) fields per put, this one \(fields.count)")
        }
        var out: [String: FieldValue] = [:]
        for (name, value) in fields {
            guard !name.isEmpty, name.utf8.count <= ObjectStore.maxFieldNameBytes else {
                throw ControlError(.badRequest, "field names are 1...\(ObjectStore.maxFieldNameBytes) bytes, \"\(name.prefix(80))\" is not")
            }
            let converted = FieldValue(value)
            guard converted.byteCount <= FieldValue.maxBytes else {
                throw ControlError(.badRequest, "field \"\(name)\" holds \(converted.byteCount) bytes; the most is \(FieldValue.maxBytes)")
            }
            out[name] = converted
        }
        return out
    }

    static func info(_ object: StoredObject) -> ObjectInfo {
        ObjectInfo(id: object.id, parent: object.parent, fields: object.fields.mapValues(JSONFieldValue.init))
    }
}

extension FieldValue {
    init(_ value: JSONFieldValue) {
        switch value {
        case .null: self = .null
        case .bool(let b): self = .bool(b)
        case .int(let i): self = .int(i)
        case .double(let d): self = .double(d)
        case .string(let s): self = .string(s)
        case .bytes(let b): self = .bytes(b)
        }
    }

    var byteCount: Int {
        switch self {
        case .string(let s): s.utf8.count
        case .bytes(let b): b.count
        default: 8
        }
    }
}

extension JSONFieldValue {
    init(_ value: FieldValue) {
        switch value {
        case .null: self = .null
        case .bool(let b): self = .bool(b)
        case .int(let i): self = .int(i)
        case .double(let d): self = .double(d)
        case .string(let s): self = .string(s)
        case .bytes(let b): self = .bytes(b)
        }
    }
}
