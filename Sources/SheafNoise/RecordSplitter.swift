/// Cuts a byte stream into records: u16 big-endian length ‖ that many bytes.
///
/// Bytes arrive in arbitrary slices; at most one partial record (≤ 65537
/// bytes) is buffered. Used for handshake messages and for the encrypted
/// records that carry frames.
public struct RecordSplitter: Sendable {
    public static let headerBytes = 2
    public static let maxBodyBytes = Int(UInt16.max)

    private let minimumBodyBytes: Int
    private var pending: [UInt8] = []

    /// Records shorter than `minimumBodyBytes` are malformed.
    public init(minimumBodyBytes: Int = 0) {
        self.minimumBodyBytes = minimumBodyBytes
    }

    /// Bytes held back as the start of an incomplete record.
    public var bufferedBytes: Int { pending.count }

    /// Calls `body` with each record completed by `input`, in order, stopping
    /// after `maxRecords`; returns how many bytes of `input` it consumed.
    /// The pointer passed to `body` is valid only during the call.
    public mutating func feed(
        _ input: UnsafeRawBufferPointer, maxRecords: Int = .max,
        _ body: (UnsafeRawBufferPointer) throws(SecureChannelError) -> Void
    ) throws(SecureChannelError) -> Int {
        var offset = 0
        var records = 0
        while records < maxRecords, offset < input.count {
            let rest = UnsafeRawBufferPointer(rebasing: input[offset...])
            if pending.isEmpty, rest.count >= Self.headerBytes {
                // Fast path: a whole record inside `input` is used where it lies.
                let length = Int(rest[0]) << 8 | Int(rest[1])
                try check(length)
                guard rest.count >= Self.headerBytes + length else {
                    pending.reserveCapacity(Self.headerBytes + length)
                    pending.append(contentsOf: rest)
                    return input.count
                }
                try body(UnsafeRawBufferPointer(rebasing: rest[Self.headerBytes..<(Self.headerBytes + length)]))
                offset += Self.headerBytes + length
                records += 1
                continue
            }
            // Slow path: top up the partial record held back.
            let needed = pending.count < Self.headerBytes
                ? Self.headerBytes - pending.count
                : Self.headerBytes + declaredLength - pending.count
            let take = min(needed, rest.count)
            pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: rest[0..<take]))
            offset += take
            if pending.count == Self.headerBytes { try check(declaredLength) }
            if pending.count >= Self.headerBytes, pending.count == Self.headerBytes + declaredLength {
                let failure: SecureChannelError? = pending.withUnsafeBytes { all in
                    do throws(SecureChannelError) {
                        try body(UnsafeRawBufferPointer(rebasing: all[Self.headerBytes...]))
                        return nil
                    } catch {
                        return error
                    }
                }
                pending.removeAll(keepingCapacity: true)
                if let failure { throw failure }
                records += 1
            }
        }
        return offset
    }

    /// `body` prefixed with its length, ready to send. Nil if longer than 65535.
    public static func frame(_ body: [UInt8]) -> [UInt8]? {
        guard body.count <= maxBodyBytes else { return nil }
        return [UInt8(body.count >> 8), UInt8(body.count & 0xff)] + body
    }

    private var declaredLength: Int { Int(pending[0]) << 8 | Int(pending[1]) }

    private func check(_ length: Int) throws(SecureChannelError) {
        guard length >= minimumBodyBytes else {
            throw .malformedRecord("record of \(length) bytes, below the minimum \(minimumBodyBytes)")
        }
    }
}
