/// Why a byte sequence was rejected by a canonical decoder, and where.
///
/// Every decoder in Sheaf throws this one type, so a caller (a log recovering
/// from disk, a session reading a frame) can report the field and offset of
/// the first bad byte without knowing which decoder ran.
public struct DecodingError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of failure.
    public enum Code: Hashable, Sendable, CustomStringConvertible {
        /// The input ended before the field was complete.
        case truncated
        /// A length or count is larger than the limit the caller allows.
        case overLimit
        /// A varint used more bytes than its value needs.
        case nonCanonicalVarint
        /// A varint does not fit in 64 bits.
        case varintOverflow
        /// Bytes are left over after a complete value.
        case trailingBytes
        /// A field holds a value its type does not allow (unknown tag, zero seq, ...).
        case invalidValue
        /// The value is valid but not in its single canonical form (unsorted keys, duplicates, ...).
        case notCanonical

        public var description: String {
            switch self {
            case .truncated: "truncated"
            case .overLimit: "over limit"
            case .nonCanonicalVarint: "non-canonical varint"
            case .varintOverflow: "varint overflow"
            case .trailingBytes: "trailing bytes"
            case .invalidValue: "invalid value"
            case .notCanonical: "not canonical"
            }
        }
    }

    public let code: Code
    /// Byte offset, from the start of the decoded buffer, where the bad field starts.
    public let offset: Int
    /// The field being read, e.g. `"entry.payload"`.
    public let field: String
    /// Extra detail such as the limit that was exceeded.
    public let detail: String

    public init(_ code: Code, at offset: Int, field: String, detail: String = "") {
        self.code = code
        self.offset = offset
        self.field = field
        self.detail = detail
    }

    public var description: String {
        let suffix = detail.isEmpty ? "" : " (\(detail))"
        return "\(code) in \(field) at byte \(offset)\(suffix)"
    }
}
