/// A byte-string key, ordered lexicographically by bytes (as `memcmp`).
///
/// Canonical state encodings sort records by these keys, so the order must
/// be the same on every platform: it never depends on Unicode or locale.
public struct RecordKey: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]

    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public init<C: Collection>(_ bytes: C) where C.Element == UInt8 { self.bytes = Array(bytes) }
    public init(_ string: String) { bytes = Array(string.utf8) }

    public static func < (a: RecordKey, b: RecordKey) -> Bool {
        a.bytes.withUnsafeBufferPointer { x in
            b.bytes.withUnsafeBufferPointer { y in
                let n = min(x.count, y.count)
                if n > 0 {
                    let c = memcmpBytes(x.baseAddress!, y.baseAddress!, n)
                    if c != 0 { return c < 0 }
                }
                return x.count < y.count
            }
        }
    }

    /// Keys that start with `prefix`.
    public func hasPrefix(_ prefix: RecordKey) -> Bool { bytes.starts(with: prefix.bytes) }

    public var description: String {
        if bytes.allSatisfy({ $0 >= 0x20 && $0 < 0x7f }) { return String(decoding: bytes, as: UTF8.self) }
        let digits = Array("0123456789abcdef")
        return String(bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0x0f)]] })
    }
}

@inline(__always)
private func memcmpBytes(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ n: Int) -> Int32 {
    memcmp(a, b, n)
}

#if canImport(Glibc)
import Glibc
#endif
