import CZstd
import SheafCompression
import Testing
@_exported import SheafRandom

/// Text-like data that compresses well: words drawn from a small vocabulary.
func compressibleBytes(_ count: Int, seed: UInt64) -> [UInt8] {
    var rng = SplitMix64(seed: seed)
    let words = ["sheaf", "feed", "entry", "replica", "frontier", "signed", "head", "range", " ", "\n"].map { Array($0.utf8) }
    var out = [UInt8]()
    out.reserveCapacity(count + 16)
    while out.count < count { out += words.randomElement(using: &rng)! }
    return Array(out.prefix(count))
}

/// Compresses with zstd's streaming API, feeding the input in `chunk`-byte
/// pieces with `ZSTD_e_continue` and only then ending the frame, so zstd
/// never learns the total size and the frame header declares none.
/// `parameters` are set on the context first (e.g. `ZSTD_c_windowLog`).
func streamCompress(_ input: [UInt8], chunk: Int = 1 << 16,
                    parameters: [(ZSTD_cParameter, Int32)] = []) throws -> [UInt8] {
    let cctx = try #require(ZSTD_createCCtx())
    defer { ZSTD_freeCCtx(cctx) }
    for (parameter, value) in parameters {
        let result = ZSTD_CCtx_setParameter(cctx, parameter, value)
        try #require(ZSTD_isError(result) == 0, "setting parameter \(parameter.rawValue) = \(value)")
    }
    var output = [UInt8]()
    var buffer = [UInt8](repeating: 0, count: ZSTD_CStreamOutSize())
    /// One compressStream2 call; returns what zstd still has to flush.
    func step(_ inBuffer: inout ZSTD_inBuffer, _ directive: ZSTD_EndDirective) throws -> Int {
        let remaining: Int = buffer.withUnsafeMutableBytes { dst in
            var outBuffer = ZSTD_outBuffer(dst: dst.baseAddress, size: dst.count, pos: 0)
            let r = ZSTD_compressStream2(cctx, &outBuffer, &inBuffer, directive)
            output += dst[0..<outBuffer.pos]
            return r
        }
        try #require(ZSTD_isError(remaining) == 0, "ZSTD_compressStream2 failed")
        return remaining
    }
    try input.withUnsafeBytes { raw in
        var offset = 0
        while offset < raw.count {
            let end = min(raw.count, offset + chunk)
            var inBuffer = ZSTD_inBuffer(src: raw.baseAddress! + offset, size: end - offset, pos: 0)
            while inBuffer.pos < inBuffer.size { _ = try step(&inBuffer, ZSTD_e_continue) }
            offset = end
        }
    }
    // End the frame with no input left: zstd cannot infer the size from this call.
    var empty = ZSTD_inBuffer(src: nil, size: 0, pos: 0)
    while try step(&empty, ZSTD_e_end) != 0 {}
    return output
}

/// The content size a frame header declares, or nil when it declares none.
func declaredContentSize(_ frame: [UInt8]) -> UInt64? {
    let size = frame.withUnsafeBytes { ZSTD_getFrameContentSize($0.baseAddress, $0.count) }
    return size == ZSTD_CONTENTSIZE_UNKNOWN ? nil : size
}

/// Runs `body` and returns the `CompressionError` it throws, or nil if it
/// succeeds. Any other error is recorded as a test failure.
func compressionError<R>(_ body: () throws -> R, sourceLocation: SourceLocation = #_sourceLocation) -> CompressionError? {
    do {
        _ = try body()
        return nil
    } catch let error as CompressionError {
        return error
    } catch {
        Issue.record("expected a CompressionError, got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// The fields of a zstd frame header (RFC 8878 section 3.1.1.1), parsed here
/// so that tests can check and patch them.
struct FrameHeader {
    var descriptor: UInt8
    var hasChecksum: Bool { descriptor & 0x04 != 0 }
    /// Offset and value of the window descriptor byte, absent in single-segment frames.
    var windowDescriptorOffset: Int?
    /// Offset and width of the Frame_Content_Size field (0 when absent).
    var contentSizeOffset: Int
    var contentSizeWidth: Int

    init?(_ frame: [UInt8]) {
        guard frame.count >= 5, frame[0..<4] == [0x28, 0xB5, 0x2F, 0xFD] else { return nil }
        descriptor = frame[4]
        var at = 5
        if descriptor & 0x20 == 0 {
            windowDescriptorOffset = at
            at += 1
        }
        at += [0, 1, 2, 4][Int(descriptor & 0x03)]  // dictionary id
        let flag = Int(descriptor >> 6)
        contentSizeWidth = flag == 0 ? (descriptor & 0x20 != 0 ? 1 : 0) : [0, 2, 4, 8][flag]
        contentSizeOffset = at
    }

    /// log2 of the window a frame with this descriptor byte needs, rounded down.
    static func windowLog(descriptor byte: UInt8) -> Int { 10 + Int(byte >> 3) }

    /// The declared content size, decoded from the header bytes.
    func contentSize(in frame: [UInt8]) -> UInt64? {
        guard contentSizeWidth > 0 else { return nil }
        var value: UInt64 = 0
        for i in (0..<contentSizeWidth).reversed() {
            value = value << 8 | UInt64(frame[contentSizeOffset + i])
        }
        return contentSizeWidth == 2 ? value + 256 : value
    }

    /// Overwrites the content-size field in place with `size` (which must fit its width).
    func patchContentSize(_ frame: inout [UInt8], to size: UInt64) {
        precondition(contentSizeWidth > 0)
        var value = contentSizeWidth == 2 ? size - 256 : size
        for i in 0..<contentSizeWidth {
            frame[contentSizeOffset + i] = UInt8(truncatingIfNeeded: value)
            value >>= 8
        }
        precondition(value == 0, "size does not fit the field")
    }
}
