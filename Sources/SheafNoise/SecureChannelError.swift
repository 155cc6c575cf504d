/// Why the record layer refused bytes. The connection carrying them cannot
/// continue: record boundaries and nonces are no longer in step.
public enum SecureChannelError: Error, Hashable, Sendable {
    /// A frame declared (or, when sending, has) more bytes than the limit.
    case frameTooLarge(declared: Int, limit: Int)
    /// A record did not authenticate: tampered, reordered or truncated.
    case decryptFailed
    /// A record or frame header broke the layout (`detail` says how).
    case malformedRecord(String)
    /// The key's nonces are used up; the session must be replaced.
    case nonceExhausted
}
