import CZstd
import Foundation

/// Why compressed bytes were rejected.
public struct CompressionError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: Hashable, Sendable {
        /// The frame header declares more output than the caller allows.
        case declaredSizeOverLimit
        /// Decompression produced more than the caller allows (a frame without
        /// a declared size, or one that lies about it).
        case outputOverLimit
        /// The frame needs a larger window than the limit.
        case windowOverLimit
        /// The frame declares a size and the content differs from it.
        case sizeMismatch
        /// Bytes follow the single frame.
        case trailingBytes
        /// Not a zstd frame, truncated, or corrupt.
        case malformed
        /// The compressor itself failed (out of memory, bad parameters).
        case compressionFailed
    }

    public let code: Code
    public let detail: String

    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    public var description: String { "zstd: \(code): \(detail)" }
}

/// zstd with hard bounds on what decompression may allocate.
///
/// Decompression never trusts the frame header: the declared size is checked
/// against `maxOutput` before allocating, and the actual output is capped
/// while streaming, so a frame that lies about its size, has none, or
/// expands without bound fails with a typed error. Frames without a declared
/// size may not need a window above `maxWindowLog`; with one, zstd's window
/// never exceeds the content size, which is already bounded by `maxOutput`.
public enum Zstd {
    /// The level used for snapshots and bulk transfer: ~400 MB/s here.
    public static let defaultLevel: Int32 = 3
    /// 2^23 = 8 MiB: the largest window a peer may make us allocate.
    public static let defaultMaxWindowLog: Int32 = 23

    /// Compresses `input` as one frame that declares its content size.
    /// Allocates a context per call; for many inputs use a `Compressor`.
    public static func compress(_ input: UnsafeRawBufferPointer, level: Int32 = defaultLevel) throws(CompressionError) -> [UInt8] {
        try Compressor(level: level).compress(input)
    }

    public static func compress(_ input: [UInt8], level: Int32 = defaultLevel) throws(CompressionError) -> [UInt8] {
        let result: Result<[UInt8], CompressionError> = input.withUnsafeBytes { raw in
            do throws(CompressionError) { return .success(try compress(raw, level: level)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// Decompresses exactly one frame into at most `maxOutput` bytes.
    /// Allocates a context per call; for many frames use a `Decompressor`.
    public static func decompress(
        _ input: UnsafeRawBufferPointer,
        maxOutput: Int,
        maxWindowLog: Int32 = defaultMaxWindowLog
    ) throws(CompressionError) -> [UInt8] {
        try Decompressor(maxWindowLog: maxWindowLog).decompress(input, maxOutput: maxOutput)
    }

    public static func decompress(_ input: [UInt8], maxOutput: Int, maxWindowLog: Int32 = defaultMaxWindowLog) throws(CompressionError) -> [UInt8] {
        let result: Result<[UInt8], CompressionError> = input.withUnsafeBytes { raw in
            do throws(CompressionError) {
                return .success(try decompress(raw, maxOutput: maxOutput, maxWindowLog: maxWindowLog))
            } catch { return .failure(error) }
        }
        return try result.get()
    }

    static func errorName(_ code: Int) -> String {
        guard let name = ZSTD_getErrorName(code) else { return "error \(code)" }
        return String(cString: name)
    }
}

extension Zstd {
    /// A reusable compression context: creating one costs more than
    /// compressing a small chunk, so chunk writers keep one. Not thread-safe.
    public final class Compressor {
        private let cctx: OpaquePointer?
        public let level: Int32

        public init(level: Int32 = Zstd.defaultLevel) {
            self.level = level
            cctx = ZSTD_createCCtx()
        }

        deinit { ZSTD_freeCCtx(cctx) }

        /// A compressor owned by the calling thread, kept for reuse: a
        /// context costs more to create than a small chunk costs to compress.
        public static func forCurrentThread(level: Int32 = Zstd.defaultLevel) -> Compressor {
            let key = "sheaf.zstd.compressor.\(level)"
            let dictionary = Thread.current.threadDictionary
            if let existing = dictionary[key] as? Compressor { return existing }
            let created = Compressor(level: level)
            dictionary[key] = created
            return created
        }

        public func compress(_ input: UnsafeRawBufferPointer) throws(CompressionError) -> [UInt8] {
            guard let cctx else { throw CompressionError(.compressionFailed, "cannot allocate compression context") }
            let bound = ZSTD_compressBound(input.count)
            var out = [UInt8](repeating: 0, count: bound)
            let written = out.withUnsafeMutableBytes { dst in
                ZSTD_compressCCtx(cctx, dst.baseAddress, bound, input.baseAddress, input.count, level)
            }
            if ZSTD_isError(written) != 0 { throw CompressionError(.compressionFailed, Zstd.errorName(written)) }
            out.removeLast(bound - written)
            return out
        }

        public func compress(_ input: [UInt8]) throws(CompressionError) -> [UInt8] {
            let result: Result<[UInt8], CompressionError> = input.withUnsafeBytes { raw in
                do throws(CompressionError) { return .success(try compress(raw)) } catch { return .failure(error) }
            }
            return try result.get()
        }
    }

    /// A reusable decompression context with the window limit set once.
    /// Not thread-safe.
    public final class Decompressor {
        private let dctx: OpaquePointer?
        public let maxWindowLog: Int32

        public init(maxWindowLog: Int32 = Zstd.defaultMaxWindowLog) {
            self.maxWindowLog = maxWindowLog
            var context = ZSTD_createDCtx()
            // A context without the window limit must not be used at all.
            if let created = context, ZSTD_isError(ZSTD_DCtx_setParameter(created, ZSTD_d_windowLogMax, maxWindowLog)) != 0 {
                ZSTD_freeDCtx(created)
                context = nil
            }
            dctx = context
        }

        deinit { ZSTD_freeDCtx(dctx) }

    public func decompress(_ input: UnsafeRawBufferPointer, maxOutput: Int) throws(CompressionError) -> [UInt8] {
        precondition(maxOutput >= 0)
        guard input.count > 0, let base = input.baseAddress else {
            throw CompressionError(.malformed, "empty input")
        }
        // Skippable frames (magic 0x184D2A5?) carry no content: not a chunk.
        if input.count >= 4, input.loadUnaligned(as: UInt32.self).littleEndian & 0xFFFF_FFF0 == 0x184D_2A50 {
            throw CompressionError(.malformed, "skippable frame")
        }
        // The single frame must span the whole input.
        let frameSize = ZSTD_findFrameCompressedSize(base, input.count)
        if ZSTD_isError(frameSize) != 0 {
            throw CompressionError(.malformed, Zstd.errorName(frameSize))
        }
        if frameSize != input.count {
            throw CompressionError(.trailingBytes, "\(input.count - frameSize) bytes after the frame")
        }

        let declared = ZSTD_getFrameContentSize(base, input.count)
        let unknown = ZSTD_CONTENTSIZE_UNKNOWN
        let failed = ZSTD_CONTENTSIZE_ERROR
        if declared == failed {
            throw CompressionError(.malformed, "unreadable frame header")
        }
        if declared != unknown && declared > UInt64(maxOutput) {
            throw CompressionError(.declaredSizeOverLimit, "frame declares \(declared) bytes, limit \(maxOutput)")
        }

        guard let dctx else { throw CompressionError(.malformed, "cannot allocate decompression context") }
        // A new frame starts from a clean context (parameters are kept).
        _ = ZSTD_DCtx_reset(dctx, ZSTD_reset_session_only)

        // With a declared size the buffer is exact; without one it grows in
        // steps, never beyond maxOutput.
        let declaredCount = declared == unknown ? nil : Int(declared)
        var capacity = declaredCount ?? min(maxOutput, max(4096, input.count * 4))
        var out = [UInt8](repeating: 0, count: capacity)
        var produced = 0
        var inBuffer = ZSTD_inBuffer(src: base, size: input.count, pos: 0)

        while true {
            var remainingOutput = 0
            let code: Int = out.withUnsafeMutableBytes { dst in
                var outBuffer = ZSTD_outBuffer(dst: dst.baseAddress! + produced, size: capacity - produced, pos: 0)
                let r = ZSTD_decompressStream(dctx, &outBuffer, &inBuffer)
                produced += outBuffer.pos
                remainingOutput = outBuffer.size - outBuffer.pos
                return r
            }
            if ZSTD_isError(code) != 0 {
                let name = Zstd.errorName(code)
                if ZSTD_getErrorCode(code) == ZSTD_error_frameParameter_windowTooLarge {
                    throw CompressionError(.windowOverLimit, "\(name) (limit 2^\(maxWindowLog))")
                }
                throw CompressionError(.malformed, name)
            }
            if code == 0 { break }  // frame complete
            if inBuffer.pos == inBuffer.size && remainingOutput > 0 {
                throw CompressionError(.malformed, "frame truncated")
            }
            if remainingOutput == 0 {
                if let declaredCount, produced >= declaredCount {
                    // More output than the header declared.
                    throw CompressionError(.sizeMismatch, "frame produces more than its declared \(declaredCount) bytes")
                }
                if capacity >= maxOutput {
                    throw CompressionError(.outputOverLimit, "output exceeds limit \(maxOutput)")
                }
                capacity = min(maxOutput, capacity * 2)
                out.append(contentsOf: repeatElement(0, count: capacity - out.count))
            }
        }
        if let declaredCount, produced != declaredCount {
            throw CompressionError(.sizeMismatch, "frame declares \(declaredCount) bytes, produced \(produced)")
        }
        out.removeLast(out.count - produced)
        return out
    }

        public func decompress(_ input: [UInt8], maxOutput: Int) throws(CompressionError) -> [UInt8] {
            let result: Result<[UInt8], CompressionError> = input.withUnsafeBytes { raw in
                do throws(CompressionError) { return .success(try decompress(raw, maxOutput: maxOutput)) } catch { return .failure(error) }
            }
            return try result.get()
        }
    }
}
