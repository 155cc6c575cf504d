import CZstd

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
/// against `maxOutput` before allocating, the window against `maxWindowLog`,
/// and the actual output is capped while streaming, so a frame that lies about
/// its size, has none, or expands without bound fails with a typed error.
public enum Zstd {
    /// The level used for snapshots and bulk transfer: ~400 MB/s here.
    public static let defaultLevel: Int32 = 3
    /// 2^23 = 8 MiB: the largest window a peer may make us allocate.
    public static let defaultMaxWindowLog: Int32 = 23

    /// Compresses `input` as one frame that declares its content size.
    public static func compress(_ input: UnsafeRawBufferPointer, level: Int32 = defaultLevel) throws(CompressionError) -> [UInt8] {
        let bound = ZSTD_compressBound(input.count)
        var out = [UInt8](repeating: 0, count: bound)
        let written = out.withUnsafeMutableBytes { dst in
            ZSTD_compress(dst.baseAddress, bound, input.baseAddress, input.count, level)
        }
        if ZSTD_isError(written) != 0 {
            throw CompressionError(.compressionFailed, errorName(written))
        }
        out.removeLast(bound - written)
        return out
    }

    public static func compress(_ input: [UInt8], level: Int32 = defaultLevel) throws(CompressionError) -> [UInt8] {
        let result: Result<[UInt8], CompressionError> = input.withUnsafeBytes { raw in
            do throws(CompressionError) { return .success(try compress(raw, level: level)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// Decompresses exactly one frame into at most `maxOutput` bytes.
    public static func decompress(
        _ input: UnsafeRawBufferPointer,
        maxOutput: Int,
        maxWindowLog: Int32 = defaultMaxWindowLog
    ) throws(CompressionError) -> [UInt8] {
        precondition(maxOutput >= 0)
        guard input.count > 0, let base = input.baseAddress else {
            throw CompressionError(.malformed, "empty input")
        }
        // The single frame must span the whole input.
        let frameSize = ZSTD_findFrameCompressedSize(base, input.count)
        if ZSTD_isError(frameSize) != 0 {
            throw CompressionError(.malformed, errorName(frameSize))
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

        guard let dctx = ZSTD_createDCtx() else {
            throw CompressionError(.malformed, "cannot allocate decompression context")
        }
        defer { ZSTD_freeDCtx(dctx) }
        let set = ZSTD_DCtx_setParameter(dctx, ZSTD_d_windowLogMax, maxWindowLog)
        if ZSTD_isError(set) != 0 {
            throw CompressionError(.malformed, "window limit: \(errorName(set))")
        }

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
                let name = errorName(code)
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

    public static func decompress(_ input: [UInt8], maxOutput: Int, maxWindowLog: Int32 = defaultMaxWindowLog) throws(CompressionError) -> [UInt8] {
        let result: Result<[UInt8], CompressionError> = input.withUnsafeBytes { raw in
            do throws(CompressionError) {
                return .success(try decompress(raw, maxOutput: maxOutput, maxWindowLog: maxWindowLog))
            } catch { return .failure(error) }
        }
        return try result.get()
    }

    private static func errorName(_ code: Int) -> String {
        guard let name = ZSTD_getErrorName(code) else { return "error \(code)" }
        return String(cString: name)
    }
}
