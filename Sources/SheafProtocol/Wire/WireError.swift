import SheafCodec

/// Why a frame from a peer was rejected. Every case but `unsupportedVersion`
/// (a peer running another build) is the peer's fault: an honest node of
/// this version never sends such a frame, so the session is scored and
/// dropped (docs/PROTOCOL.md).
public struct WireError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: Hashable, Sendable {
        /// The frame is larger than `WireLimits.maxFrameBytes`; nothing of it was read.
        case frameTooLarge(size: Int, limit: Int)
        /// A type byte names no message at its level (`field` says which level).
        case unknownMessage(field: String, tag: UInt8)
        /// A `hello` of a protocol version this build does not speak.
        case unsupportedVersion(UInt16)
        /// A list is longer than its `WireLimits` bound. `count` saturates at `Int.max`.
        case tooMany(field: String, count: Int, limit: Int)
        /// A byte string is longer than its `WireLimits` bound. `size` saturates at `Int.max`.
        case tooLarge(field: String, size: Int, limit: Int)
        /// Bytes that do not decode: truncated, non-canonical, out of range, or left over.
        case malformed(DecodingError)
    }

    public let code: Code
    public init(_ code: Code) { self.code = code }

    public var description: String {
        switch code {
        case .frameTooLarge(let size, let limit): "frame of \(size) bytes exceeds \(limit)"
        case .unknownMessage(let field, let tag): "unknown \(field) type \(tag)"
        case .unsupportedVersion(let version): "unsupported protocol version \(version) (this node speaks \(WireVersion.current))"
        case .tooMany(let field, let count, let limit): "\(count) items in \(field) exceed \(limit)"
        case .tooLarge(let field, let size, let limit): "\(field) of \(size) bytes exceeds \(limit)"
        case .malformed(let error): "malformed: \(error)"
        }
    }
}
