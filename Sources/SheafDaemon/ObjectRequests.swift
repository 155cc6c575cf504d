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

    /// The fields, once their count, names and sizes are within the limits.
    static func fields(_ fields: [String: FieldValue]) throws(ControlError) -> [String: FieldValue] {
        guard fields.count <= ObjectStore.maxFieldsPerOp else {
            throw ControlError(.badRequest, "at most \(ObjectStore.maxFieldsPerOp) fields per put, this one \(fields.count)")
        }
        for (name, value) in fields {
            guard !name.isEmpty, name.utf8.count <= ObjectStore.maxFieldNameBytes else {
                throw ControlError(.badRequest, "field names are 1...\(ObjectStore.maxFieldNameBytes) bytes, \"\(name.prefix(80))\" is not")
            }
            guard value.byteCount <= FieldValue.maxBytes else {
                throw ControlError(.badRequest, "field \"\(name)\" holds \(value.byteCount) bytes; the most is \(FieldValue.maxBytes)")
            }
        }
        return fields
    }

    static func info(_ object: StoredObject) -> ObjectInfo {
        ObjectInfo(id: object.id, parent: object.parent, fields: object.fields)
    }
}

extension FieldValue {
    var byteCount: Int {
        switch self {
        case .string(let s): s.utf8.count
        case .bytes(let b): b.count
        default: 8
        }
    }
}
