import SheafCrypto
import SheafProtocol

/// What a trace record stands for. The raw values are part of the trace
/// hash: renumbering them changes every hash.
enum TraceKind: UInt8 {
    case start = 1, timer, send, arrive, deliver, connected, connectFailed, disconnected
    case dropped, crash, restart, partition, isolate, heal, action, metric
}

/// One streaming BLAKE2b over every event a run processes, so two runs can
/// be compared by a single hash. Records are fixed-size little-endian
/// fields gathered in a buffer and handed to the hasher in large pieces;
/// the buffering does not change the hashed stream.
final class TraceRecorder {
    private let hasher = Hasher(domain: ProtocolDomains.trace)
    private let buffer: UnsafeMutableRawPointer
    private static let capacity = 16 * 1024
    private var capacity: Int { Self.capacity }
    private var used = 0

    init() {
        buffer = UnsafeMutableRawPointer.allocate(byteCount: Self.capacity, alignment: 8)
    }

    deinit { buffer.deallocate() }

    /// One record: when, what, who, with whom, and one number (a token, a
    /// length, a value's bits).
    func record(_ time: UInt64, _ kind: TraceKind, node: Int, peer: Int = -1, value: UInt64 = 0) {
        let size = 8 + 1 + 4 + 4 + 8
        if used + size > capacity { flush() }
        let at = buffer + used
        at.storeBytes(of: time.littleEndian, toByteOffset: 0, as: UInt64.self)
        at.storeBytes(of: kind.rawValue, toByteOffset: 8, as: UInt8.self)
        at.storeBytes(of: UInt32(truncatingIfNeeded: node).littleEndian, toByteOffset: 9, as: UInt32.self)
        at.storeBytes(of: UInt32(truncatingIfNeeded: peer).littleEndian, toByteOffset: 13, as: UInt32.self)
        at.storeBytes(of: value.littleEndian, toByteOffset: 17, as: UInt64.self)
        used += size
    }

    /// Raw content (message bytes, names); callers record the length first.
    func append(_ bytes: [UInt8]) {
        if used + bytes.count > capacity { flush() }
        if bytes.count > capacity {
            bytes.withUnsafeBytes { hasher.update($0) }
            return
        }
        bytes.withUnsafeBytes { source in
            if let base = source.baseAddress { (buffer + used).copyMemory(from: base, byteCount: source.count) }
        }
        used += bytes.count
    }

    /// The hash of everything recorded so far; recording can go on.
    var digest: Hash {
        let snapshot = hasher.copy()
        snapshot.update(UnsafeRawBufferPointer(start: buffer, count: used))
        return snapshot.finalize()
    }

    private func flush() {
        hasher.update(UnsafeRawBufferPointer(start: buffer, count: used))
        used = 0
    }
}
