import SheafCodec
import SheafCollections
import SheafCrypto

/// A last-writer-wins register.
public struct Register<Value: Hashable & Sendable>: Hashable, Sendable {
    public var value: Value
    public var stamp: Stamp

    /// Keeps the write with the larger stamp; returns whether `candidate` won.
    mutating func merge(_ candidate: Register) -> Bool {
        guard stamp < candidate.stamp else { return false }
        self = candidate
        return true
    }
}

/// A field name. Ordered and compared by UTF-8 bytes, never by Unicode
/// canonical equivalence, so the encoding of a record is one byte string.
///
/// Held as a `String`, which keeps a name of up to 15 bytes inline: decoding
/// one allocates nothing, and comparing one follows no pointer.
public struct FieldName: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let string: String
    public init(_ name: String) { string = name }
    /// `bytes` must be valid UTF-8 (decoders check it first).
    init(bytes: [UInt8]) { string = String(decoding: bytes, as: UTF8.self) }
    public var bytes: [UInt8] { Array(string.utf8) }
    public var description: String { string }
    public static func == (a: FieldName, b: FieldName) -> Bool { UTF8Bytes.compare(a.string, b.string) == 0 }
    public static func < (a: FieldName, b: FieldName) -> Bool { UTF8Bytes.compare(a.string, b.string) < 0 }
    public func hash(into hasher: inout Swift.Hasher) { UTF8Bytes.hash(string, into: &hasher) }
}

/// One object of the object store, with the metadata that makes it converge.
public struct ObjectRecord: Hashable, Sendable {
    /// Exists (true) or deleted (false): a put and a delete race by stamp.
    public var alive: Register<Bool>
    /// Parent object id (UTF-8 bytes), for hierarchy.
    public var parent: Register<[UInt8]?>?
    /// Fields in name (byte) order; each its own register, so concurrent
    /// writes to different fields both survive. (Equal records that share
    /// this buffer, as versions of a state do, compare equal at a glance.)
    public var fields: [Field]

    /// One named field.
    public struct Field: Hashable, Sendable {
        public var name: FieldName
        public var register: Register<FieldValue>

        public init(name: FieldName, register: Register<FieldValue>) {
            self.name = name
            self.register = register
        }
    }

    /// The state before any op: not alive, older than every real write, so
    /// any op merged into it gives the same record whatever the order.
    static let absent = ObjectRecord(alive: Register(value: false, stamp: .zero), parent: nil, fields: [])

    /// Position of the field named `name`, if present.
    func index(of name: FieldName) -> Int? {
        let (index, found) = search(name)
        return found ? index : nil
    }

    /// Where the field named `name` is, or would go.
    private func search(_ name: FieldName) -> (index: Int, found: Bool) {
        var lo = 0
        var hi = fields.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if fields[mid].name < name { lo = mid + 1 } else { hi = mid }
        }
        return (lo, lo < fields.count && fields[lo].name == name)
    }

    /// Merges a write into the named field; returns whether it changed anything.
    mutating func merge(_ name: FieldName, _ candidate: Register<FieldValue>) -> Bool {
        let (index, found) = search(name)
        if found { return fields[index].register.merge(candidate) }
        fields.insert(Field(name: name, register: candidate), at: index)
        return true
    }
}

/// An object as queries return it.
public struct StoredObject: Hashable, Sendable {
    public var id: String
    public var parent: String?
    public var fields: [String: FieldValue]
}

/// An object store in the spirit of DXOS ECHO: objects by id with typed
/// fields, last-writer-wins per field by (Lamport, feed key), deletion by
/// tombstone, a parent link, and listings in key order.
///
/// Records: key `"o" ‖ id` → `ObjectRecord`. A derived index
/// `varint len ‖ parent ‖ child` answers "children of" without a scan; it is
/// rebuilt on load, never stored.
public struct ObjectStore: SnapshotModel {
    public static let descriptor = ModelDescriptor(name: "sheaf.objects", version: 2)
    public static let recordsPerChunk = 8
    public static let maxIDBytes = 256
    public static let maxFieldNameBytes = 64
    public static let maxFieldsPerOp = 64
    /// Most fields an object may keep. Past it, the object keeps the fields
    /// with the smallest names (by bytes) and drops the rest: a rule that
    /// does not depend on the order ops arrive in, so it converges (refusing
    /// the put that crosses the limit would keep whichever put came first).
    public static let maxFieldsPerObject = 1024

    public private(set) var records = SortedMap<ObjectRecord>()
    private var childIndex = SortedMap<Bool>()

    public init() {}

    public init(records: SortedMap<ObjectRecord>) throws(ModelError) {
        self.records = records
        var failure: ModelError?
        records.forEach { key, record in
            guard key.bytes.first == UInt8(ascii: "o") else {
                failure = ModelError("unexpected record key \(key)")
                return false
            }
            if let parent = record.parent?.value {
                childIndex.set(Self.childKey(parent: parent, child: Array(key.bytes.dropFirst())), true)
            }
            return true
        }
        if let failure { throw failure }
    }

    // MARK: Ops

    /// The ops, as entry payloads.
    public enum Op: Hashable, Sendable {
        /// Sets fields (and revives a deleted object if newer than the delete).
        case put(id: String, fields: [String: FieldValue])
        case delete(id: String)
        case setParent(id: String, parent: String?)

        public var encoded: [UInt8] {
            var writer = ByteWriter()
            switch self {
            case .put(let id, let fields):
                writer.writeUInt8(1)
                writer.writeLengthPrefixed(Array(id.utf8))
                writer.writeVarint(UInt64(fields.count))
                for (name, value) in fields.map({ (FieldName($0.key), $0.value) }).sorted(by: { $0.0 < $1.0 }) {
                    writer.writeLengthPrefixed(name.string.utf8)
                    value.encode(into: &writer)
                }
            case .delete(let id):
                writer.writeUInt8(2)
                writer.writeLengthPrefixed(Array(id.utf8))
            case .setParent(let id, let parent):
                writer.writeUInt8(3)
                writer.writeLengthPrefixed(Array(id.utf8))
                if let parent {
                    writer.writeUInt8(1)
                    writer.writeLengthPrefixed(Array(parent.utf8))
                } else {
                    writer.writeUInt8(0)
                }
            }
            return writer.bytes
        }
    }

    /// A decoded op, kept in bytes (ids, names) as the record encoding needs.
    enum DecodedOp {
        case put(id: [UInt8], fields: [(FieldName, FieldValue)])
        case delete(id: [UInt8])
        case setParent(id: [UInt8], parent: [UInt8]?)

        static func decode(_ bytes: [UInt8]) throws(DecodingError) -> DecodedOp {
            var reader = ByteReader(bytes)
            let op: DecodedOp
            switch try reader.readUInt8("op.tag") {
            case 1:
                let id = try readUTF8(&reader, "op.id", limit: maxIDBytes)
                let count = try reader.readCount("op.fields", limit: maxFieldsPerOp, minElementSize: 2)
                var fields = [(FieldName, FieldValue)]()
                fields.reserveCapacity(count)
                for _ in 0..<count {
                    let offset = reader.offset
                    let name = FieldName(try readString(&reader, "op.field.name", limit: maxFieldNameBytes))
                    if let last = fields.last?.0, !(last < name) {
                        throw DecodingError(.notCanonical, at: offset, field: "op.field.name", detail: "names must ascend")
                    }
                    fields.append((name, try FieldValue.decode(&reader)))
                }
                op = .put(id: id, fields: fields)
            case 2:
                op = .delete(id: try readUTF8(&reader, "op.id", limit: maxIDBytes))
            case 3:
                let id = try readUTF8(&reader, "op.id", limit: maxIDBytes)
                let offset = reader.offset
                switch try reader.readUInt8("op.parent.present") {
                case 0: op = .setParent(id: id, parent: nil)
                case 1: op = .setParent(id: id, parent: try readUTF8(&reader, "op.parent", limit: maxIDBytes))
                default: throw DecodingError(.invalidValue, at: offset, field: "op.parent.present")
                }
            default:
                throw DecodingError(.invalidValue, at: 0, field: "op.tag")
            }
            try reader.expectEnd("op")
            return op
        }
    }

    public mutating func apply(_ payload: [UInt8], context: EntryContext) -> ApplyOutcome {
        let op: DecodedOp
        do { op = try DecodedOp.decode(payload) } catch { return .ignored(reason: "\(error)") }
        let stamp = context.stamp
        switch op {
        case .put(let id, let fields):
            guard !id.isEmpty else { return .ignored(reason: "empty object id") }
            let key = Self.key(id)
            let changed = records.update(key) { slot -> Bool in
                // Take the record out of the slot so it is uniquely referenced.
                var changed = slot == nil
                var record = slot.take() ?? .absent
                if record.alive.merge(Register(value: true, stamp: stamp)) { changed = true }
                // Names are kept only when the object may overflow and drop some again.
                let mayOverflow = record.fields.count + fields.count > Self.maxFieldsPerObject
                var mergedAny = false
                var merged = [FieldName]()
                for (name, value) in fields where record.merge(name, Register(value: value, stamp: stamp)) {
                    mergedAny = true
                    if mayOverflow { merged.append(name) }
                }
                if record.fields.count > Self.maxFieldsPerObject {
                    record.fields.removeLast(record.fields.count - Self.maxFieldsPerObject)
                }
                // A merged field that was dropped again changed nothing; one
                // that stayed changed the record (and any field it pushed out).
                if mayOverflow ? merged.contains(where: { record.index(of: $0) != nil }) : mergedAny { changed = true }
                slot = record
                return changed
            }
            return .applied(changed: changed ? [key] : [])
        case .delete(let id):
            guard !id.isEmpty else { return .ignored(reason: "empty object id") }
            let key = Self.key(id)
            let changed = records.update(key) { slot -> Bool in
                let existed = slot != nil
                var record = slot.take() ?? .absent
                let changed = record.alive.merge(Register(value: false, stamp: stamp)) || !existed
                slot = record
                return changed
            }
            return .applied(changed: changed ? [key] : [])
        case .setParent(let id, let parent):
            guard !id.isEmpty, parent?.isEmpty != true else { return .ignored(reason: "empty object id") }
            guard parent != id else { return .ignored(reason: "object cannot be its own parent") }
            let key = Self.key(id)
            let old: [UInt8]?? = records.update(key) { slot -> [UInt8]?? in
                var record = slot.take() ?? .absent
                let candidate = Register<[UInt8]?>(value: parent, stamp: stamp)
                let previous = record.parent?.value
                if var existing = record.parent {
                    guard existing.merge(candidate) else {
                        slot = record
                        return .none
                    }
                    record.parent = existing
                } else {
                    record.parent = candidate
                }
                slot = record
                return .some(previous)
            }
            guard case .some(let previous) = old else { return .applied(changed: []) }
            if let previous { childIndex.remove(Self.childKey(parent: previous, child: id)) }
            if let parent { childIndex.set(Self.childKey(parent: parent, child: id), true) }
            return .applied(changed: [key])
        }
    }

    // MARK: Queries

    public func object(_ id: String) -> StoredObject? {
        guard let record = records[Self.key(Array(id.utf8))], record.alive.value else { return nil }
        return Self.view(id: Array(id.utf8), record)
    }

    /// Live objects in id (byte) order, starting after `after`.
    public func list(after: String? = nil, limit: Int = .max) -> [StoredObject] {
        var out = [StoredObject]()
        let start = after.map { RecordKey(Self.key(Array($0.utf8)).bytes + [0]) } ?? RecordKey([UInt8(ascii: "o")])
        records.forEach(from: start) { key, record in
            guard out.count < limit else { return false }
            guard key.bytes.first == UInt8(ascii: "o") else { return false }
            if record.alive.value { out.append(Self.view(id: Array(key.bytes.dropFirst()), record)) }
            return true
        }
        return out
    }

    /// Live children of `parent`, in id order.
    public func children(of parent: String) -> [StoredObject] {
        var out = [StoredObject]()
        var prefix = ByteWriter()
        prefix.writeLengthPrefixed(Array(parent.utf8))
        let parentLength = prefix.count
        childIndex.forEach(prefix: RecordKey(prefix.bytes)) { key, _ in
            let child = Array(key.bytes[parentLength...])
            if let record = records[Self.key(child)], record.alive.value, record.parent?.value == Array(parent.utf8) {
                out.append(Self.view(id: child, record))
            }
            return true
        }
        return out
    }

    /// Live objects.
    public var liveCount: Int {
        var n = 0
        records.forEach { _, record in
            if record.alive.value { n += 1 }
            return true
        }
        return n
    }

    static func key(_ id: [UInt8]) -> RecordKey {
        var bytes = [UInt8]()
        bytes.reserveCapacity(id.count + 1)
        bytes.append(UInt8(ascii: "o"))
        bytes.append(contentsOf: id)
        return RecordKey(bytes)
    }

    static func childKey(parent: [UInt8], child: [UInt8]) -> RecordKey {
        var writer = ByteWriter()
        writer.writeLengthPrefixed(parent)
        writer.writeRaw(child)
        return RecordKey(writer.bytes)
    }

    static func view(id: [UInt8], _ record: ObjectRecord) -> StoredObject {
        var fields: [String: FieldValue] = [:]
        for field in record.fields { fields[field.name.string] = field.register.value }
        return StoredObject(id: String(decoding: id, as: UTF8.self),
                            parent: record.parent?.value.map { String(decoding: $0, as: UTF8.self) }, fields: fields)
    }

    // MARK: Record encoding

    /// Version 1 wrote every stamp's feed key in full; version 2 names the
    /// feeds of the snapshot's `FeedTable` by number. Both load.
    public static let loadableVersions: ClosedRange<UInt32> = 1...2

    /// `u8 alive ‖ stamp ‖ parent (u8 0 none | 1 cleared ‖ stamp | 2 ‖ id ‖ stamp)`
    /// `‖ varint n ‖ n × (name ‖ value ‖ stamp)`, names strictly ascending by bytes;
    /// a stamp is `varint lamport ‖ varint feed ref` (`Stamp.encode(into:feeds:)`).
    public static func encode(_ record: ObjectRecord, into writer: inout ByteWriter, feeds: FeedTable) {
        writer.writeUInt8(record.alive.value ? 1 : 0)
        record.alive.stamp.encode(into: &writer, feeds: feeds)
        if let parent = record.parent {
            if let id = parent.value {
                writer.writeUInt8(2)
                writer.writeLengthPrefixed(id)
            } else {
                writer.writeUInt8(1)
            }
            parent.stamp.encode(into: &writer, feeds: feeds)
        } else {
            writer.writeUInt8(0)
        }
        writer.writeVarint(UInt64(record.fields.count))
        // Read in place: iterating the array would copy (and retain) each field.
        record.fields.withUnsafeBufferPointer { fields in
            for i in fields.indices {
                writer.writeLengthPrefixed(fields[i].name.string.utf8)
                fields[i].register.value.encode(into: &writer)
                fields[i].register.stamp.encode(into: &writer, feeds: feeds)
            }
        }
    }

    /// The current encoding with no feed table: every key written out.
    public static func encode(_ record: ObjectRecord, into writer: inout ByteWriter) {
        encode(record, into: &writer, feeds: .empty)
    }

    public static func decode(_ reader: inout ByteReader, version: UInt32) throws(DecodingError) -> ObjectRecord {
        try decode(&reader, version: version, feeds: .empty)
    }

    public static func decode(_ reader: inout ByteReader, version: UInt32, feeds: FeedTable) throws(DecodingError) -> ObjectRecord {
        // Version 1 stamps carry the key itself (33 bytes or more).
        let legacy = version < 2
        func stamp(_ reader: inout ByteReader) throws(DecodingError) -> Stamp {
            legacy ? try Stamp.decode(&reader) : try Stamp.decode(&reader, feeds: feeds)
        }
        let aliveOffset = reader.offset
        let aliveByte = try reader.readUInt8("object.alive")
        guard aliveByte <= 1 else { throw DecodingError(.invalidValue, at: aliveOffset, field: "object.alive") }
        let alive = Register(value: aliveByte == 1, stamp: try stamp(&reader))
        let parentOffset = reader.offset
        var parent: Register<[UInt8]?>?
        switch try reader.readUInt8("object.parent") {
        case 0: parent = nil
        case 1: parent = Register(value: nil, stamp: try stamp(&reader))
        case 2:
            let id = try readUTF8(&reader, "object.parent.id", limit: maxIDBytes)
            parent = Register(value: id, stamp: try stamp(&reader))
        default: throw DecodingError(.invalidValue, at: parentOffset, field: "object.parent")
        }
        let count = try reader.readCount("object.fields", limit: maxFieldsPerObject, minElementSize: legacy ? 35 : 4)
        var fields = [ObjectRecord.Field]()
        fields.reserveCapacity(count)
        for _ in 0..<count {
            let offset = reader.offset
            let name = FieldName(try readString(&reader, "object.field.name", limit: maxFieldNameBytes))
            if let last = fields.last?.name, !(last < name) {
                throw DecodingError(.notCanonical, at: offset, field: "object.field.name", detail: "names must ascend")
            }
            let value = try FieldValue.decode(&reader)
            fields.append(ObjectRecord.Field(name: name, register: Register(value: value, stamp: try stamp(&reader))))
        }
        return ObjectRecord(alive: alive, parent: parent, fields: fields)
    }
}

/// Length-prefixed bytes that must be valid UTF-8.
func readUTF8(_ reader: inout ByteReader, _ field: String, limit: Int) throws(DecodingError) -> [UInt8] {
    let offset = reader.offset
    let range = try reader.readRange(field, count: try reader.readCount(field, limit: limit))
    guard UTF8Bytes.string(reader.buffer, range) != nil else {
        throw DecodingError(.invalidValue, at: offset, field: field, detail: "not UTF-8")
    }
    return Array(reader.buffer[range])
}

/// A length-prefixed UTF-8 string, straight from the buffer.
func readString(_ reader: inout ByteReader, _ field: String, limit: Int) throws(DecodingError) -> String {
    let offset = reader.offset
    let range = try reader.readRange(field, count: try reader.readCount(field, limit: limit))
    guard let string = UTF8Bytes.string(reader.buffer, range) else {
        throw DecodingError(.invalidValue, at: offset, field: field, detail: "not UTF-8")
    }
    return string
}
