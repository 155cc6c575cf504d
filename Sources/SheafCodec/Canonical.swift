/// A value with exactly one binary form in Sheaf's canonical encoding.
public protocol CanonicalEncodable {
    func encode(into writer: inout ByteWriter)
}

/// A value decodable from untrusted bytes, with every length bounded.
public protocol CanonicalDecodable {
    init(from reader: inout ByteReader) throws(DecodingError)
}

public typealias CanonicalCodable = CanonicalEncodable & CanonicalDecodable

extension CanonicalEncodable {
    /// The canonical bytes of this value.
    public var canonicalBytes: [UInt8] {
        var writer = ByteWriter()
        encode(into: &writer)
        return writer.bytes
    }
}

extension CanonicalDecodable {
    /// Decodes a value that must fill `bytes` exactly.
    public init(canonicalBytes bytes: [UInt8], field: String = String(describing: Self.self)) throws(DecodingError) {
        var reader = ByteReader(bytes)
        self = try Self(from: &reader)
        try reader.expectEnd(field)
    }
}
