import CZstd
import SheafCompression
import Testing

@Suite("Bounded zstd")
struct ZstdTests {
    // MARK: Round trips

    @Test("random and compressible data round-trip", arguments: [0, 1, 100, 4095, 4096, 4097, 65_536, 1_000_003])
    func roundTrip(size: Int) throws {
        var rng = SplitMix64(seed: UInt64(size))
        for input in [rng.bytes(size), compressibleBytes(size, seed: UInt64(size))] {
            let frame = try Zstd.compress(input)
            #expect(declaredContentSize(frame) == UInt64(size))
            #expect(try Zstd.decompress(frame, maxOutput: size) == input)
            #expect(try Zstd.decompress(frame, maxOutput: size + 1000) == input)
        }
    }

    @Test("compressible data shrinks; every level round-trips")
    func levels() throws {
        let input = compressibleBytes(200_000, seed: 1)
        for level: Int32 in [1, 3, 9, 19] {
            let frame = try Zstd.compress(input, level: level)
            #expect(frame.count < input.count / 3, "level \(level)")
            #expect(try Zstd.decompress(frame, maxOutput: input.count) == input)
        }
        let raw = input.withUnsafeBytes { try? Zstd.compress($0) }
        #expect(raw == (try Zstd.compress(input)))
    }

    @Test("frames without a declared size round-trip as well",
          arguments: [1, 4095, 4096, 4097, 8192, 100_000, 1 << 20])
    func unknownSizeRoundTrip(size: Int) throws {
        let input = compressibleBytes(size, seed: 2)
        let frame = try streamCompress(input, chunk: 1000)
        #expect(declaredContentSize(frame) == nil)
        // Output exactly at the limit is allowed, at every growth step of the buffer.
        #expect(try Zstd.decompress(frame, maxOutput: size) == input)
        #expect(try Zstd.decompress(frame, maxOutput: size + 1) == input)
        #expect(try Zstd.decompress(frame, maxOutput: 4 * size) == input)
    }

    // MARK: Output limits

    @Test("a declared size over the limit is refused before decompressing")
    func declaredOverLimit() throws {
        let input = compressibleBytes(10_000, seed: 3)
        let frame = try Zstd.compress(input)
        let error = compressionError { try Zstd.decompress(frame, maxOutput: 9_999) }
        #expect(error?.code == .declaredSizeOverLimit)
        #expect(compressionError { try Zstd.decompress(frame, maxOutput: 0) }?.code == .declaredSizeOverLimit)
        #expect(try Zstd.decompress(frame, maxOutput: 10_000) == input)
    }

    @Test("a bomb without a declared size stops at the output limit")
    func bombWithoutDeclaredSize() throws {
        let size = 10 * 1024 * 1024
        let bomb = try streamCompress([UInt8](repeating: 0, count: size))
        #expect(declaredContentSize(bomb) == nil)
        #expect(bomb.count < 4096)  // it really is a bomb

        for limit in [0, 1, 4096, 1 << 20] {
            let error = compressionError { try Zstd.decompress(bomb, maxOutput: limit) }
            #expect(error?.code == .outputOverLimit, "limit \(limit)")
        }
        let output = try Zstd.decompress(bomb, maxOutput: size)
        #expect(output.count == size)
        #expect(!output.contains { $0 != 0 })
    }

    @Test("output of an undeclared size may reach the limit but not pass it")
    func undeclaredSizeAtLimit() throws {
        for size in [4096, 300_000] {
            let input = compressibleBytes(size, seed: UInt64(size))
            let frame = try streamCompress(input)
            #expect(declaredContentSize(frame) == nil)
            #expect(compressionError { try Zstd.decompress(frame, maxOutput: size - 1) }?.code == .outputOverLimit)
            #expect(try Zstd.decompress(frame, maxOutput: size) == input)
        }
    }

    // MARK: Lying headers
    //
    // A real frame is compressed, its header parsed per RFC 8878 (see
    // `FrameHeader`) and its Frame_Content_Size field rewritten in place with
    // the same width, so the frame is intact except for the lie; zstd's own
    // `ZSTD_getFrameContentSize` is checked to read the lie back. With
    // libzstd 1.5 the lie is caught inside zstd (its single-pass decoder gets
    // a buffer of the declared size), which surfaces as `.malformed`; the
    // wrapper's own check would report `.sizeMismatch`. Either is a refusal.

    @Test("a frame declaring less than it holds is rejected")
    func declaresLess() throws {
        var rng = SplitMix64(seed: 4)
        for input in [rng.bytes(1000), compressibleBytes(1000, seed: 4), [UInt8](repeating: 0x41, count: 1000)] {
            var frame = try Zstd.compress(input)
            // 1000 bytes: a two-byte content-size field (value - 256).
            let header = try #require(FrameHeader(frame))
            #expect(header.contentSizeWidth == 2)
            #expect(header.contentSize(in: frame) == 1000)
            header.patchContentSize(&frame, to: 600)
            #expect(declaredContentSize(frame) == 600)  // zstd reads the lie

            let error = compressionError { try Zstd.decompress(frame, maxOutput: 1 << 20) }
            #expect(error?.code == .sizeMismatch || error?.code == .malformed, "\(String(describing: error))")
            // The lie cannot get more than the limit out either.
            let limited = compressionError { try Zstd.decompress(frame, maxOutput: 700) }
            #expect(limited?.code == .sizeMismatch || limited?.code == .malformed)
        }
    }

    @Test("a frame declaring more than it holds is rejected")
    func declaresMore() throws {
        var rng = SplitMix64(seed: 5)
        for input in [rng.bytes(1000), compressibleBytes(1000, seed: 5)] {
            var frame = try Zstd.compress(input)
            let header = try #require(FrameHeader(frame))
            header.patchContentSize(&frame, to: 1500)
            #expect(declaredContentSize(frame) == 1500)
            let error = compressionError { try Zstd.decompress(frame, maxOutput: 1 << 20) }
            #expect(error?.code == .sizeMismatch || error?.code == .malformed, "\(String(describing: error))")
        }
    }

    @Test("a large frame claiming to be tiny never gets past the limit")
    func tinyClaimLargeContent() throws {
        let input = [UInt8](repeating: 0, count: 10 * 1024 * 1024)
        var frame = try Zstd.compress(input)
        let header = try #require(FrameHeader(frame))
        #expect(header.contentSizeWidth == 4)
        #expect(header.contentSize(in: frame) == UInt64(input.count))
        header.patchContentSize(&frame, to: 100)
        #expect(declaredContentSize(frame) == 100)
        for limit in [100, 1 << 20, 64 << 20] {
            let error = compressionError { try Zstd.decompress(frame, maxOutput: limit) }
            #expect(error?.code == .sizeMismatch || error?.code == .malformed, "limit \(limit)")
        }
    }

    // MARK: Window limit

    // The frame must not declare its size: zstd then shrinks the window to
    // fit the content, and for a frame with a declared size it decodes in one
    // pass into the caller's buffer (bounded by maxOutput) without a window.
    @Test("a frame needing a window over the limit is refused")
    func windowOverLimit() throws {
        let input = compressibleBytes(1 << 20, seed: 6)
        let frame = try streamCompress(input, parameters: [(ZSTD_c_windowLog, 27)])
        #expect(declaredContentSize(frame) == nil)
        // The header itself records the 2^27 window.
        let header = try #require(FrameHeader(frame))
        let windowOffset = try #require(header.windowDescriptorOffset)
        #expect(FrameHeader.windowLog(descriptor: frame[windowOffset]) == 27)

        let error = compressionError { try Zstd.decompress(frame, maxOutput: 64 << 20, maxWindowLog: 23) }
        #expect(error?.code == .windowOverLimit)
        let byDefault = compressionError { try Zstd.decompress(frame, maxOutput: 64 << 20) }
        #expect(byDefault?.code == .windowOverLimit)
        #expect(try Zstd.decompress(frame, maxOutput: 64 << 20, maxWindowLog: 27) == input)
    }

    @Test("the default window limit admits 2^23 and refuses 2^24")
    func defaultWindowBoundary() throws {
        let input = compressibleBytes(100_000, seed: 7)
        let at = try streamCompress(input, parameters: [(ZSTD_c_windowLog, Zstd.defaultMaxWindowLog)])
        #expect(try Zstd.decompress(at, maxOutput: input.count) == input)
        let over = try streamCompress(input, parameters: [(ZSTD_c_windowLog, Zstd.defaultMaxWindowLog + 1)])
        #expect(compressionError { try Zstd.decompress(over, maxOutput: input.count) }?.code == .windowOverLimit)
    }

    // MARK: Framing

    @Test("bytes after the frame are refused")
    func trailingBytes() throws {
        let input = compressibleBytes(5000, seed: 8)
        let frame = try Zstd.compress(input)
        for suffix: [UInt8] in [[0], [0x28, 0xB5, 0x2F, 0xFD], Array(frame.prefix(10))] {
            let error = compressionError { try Zstd.decompress(frame + suffix, maxOutput: 1 << 20) }
            #expect(error?.code == .trailingBytes)
        }
        let twoFrames = frame + (try Zstd.compress([1, 2, 3]))
        #expect(compressionError { try Zstd.decompress(twoFrames, maxOutput: 1 << 20) }?.code == .trailingBytes)
        let sameTwice = frame + frame
        #expect(compressionError { try Zstd.decompress(sameTwice, maxOutput: 1 << 20) }?.code == .trailingBytes)
    }

    @Test("empty input and garbage are malformed")
    func malformed() throws {
        #expect(compressionError { try Zstd.decompress([], maxOutput: 100) }?.code == .malformed)
        var rng = SplitMix64(seed: 9)
        for length in [1, 3, 4, 10, 100, 10_000] {
            for _ in 0..<20 {
                var garbage = rng.bytes(length)
                if garbage.starts(with: [0x28, 0xB5, 0x2F, 0xFD]) { garbage[0] = 0 }
                let error = compressionError { try Zstd.decompress(garbage, maxOutput: 1 << 20) }
                #expect(error?.code == .malformed, "\(length) random bytes")
            }
        }
    }

    @Test("garbage behind a valid magic number is refused, never a crash")
    func garbageAfterMagic() throws {
        var rng = SplitMix64(seed: 10)
        for _ in 0..<500 {
            let garbage = [0x28, 0xB5, 0x2F, 0xFD] + rng.bytes(Int.random(in: 0...200, using: &rng))
            #expect(throws: CompressionError.self) { try Zstd.decompress(garbage, maxOutput: 1 << 16) }
        }
    }

    @Test("a frame cut at any point is refused")
    func truncatedAtEveryCut() throws {
        var rng = SplitMix64(seed: 11)
        for input in [compressibleBytes(3000, seed: 11), rng.bytes(300)] {
            for frame in [try Zstd.compress(input), try streamCompress(input, chunk: 100)] {
                for length in 0..<frame.count {
                    let error = compressionError { try Zstd.decompress(Array(frame[..<length]), maxOutput: 1 << 20) }
                    #expect(error?.code == .malformed, "cut at \(length) of \(frame.count)")
                }
                #expect(try Zstd.decompress(frame, maxOutput: 1 << 20) == input)
            }
        }
    }

    @Test("a corrupted frame with a checksum never yields wrong data")
    func corruptedBytes() throws {
        let input = compressibleBytes(20_000, seed: 12)
        let frame = try streamCompress(input, parameters: [(ZSTD_c_checksumFlag, 1)])
        #expect(try #require(FrameHeader(frame)).hasChecksum)
        var rng = SplitMix64(seed: 12)
        var refused = 0
        for _ in 0..<300 {
            var corrupted = frame
            let index = Int.random(in: 0..<frame.count, using: &rng)
            corrupted[index] ^= UInt8.random(in: 1...255, using: &rng)
            // A change zstd cannot see (say, a larger window in the header)
            // must still give back the original bytes: the checksum covers them.
            do {
                let output = try Zstd.decompress(corrupted, maxOutput: 1 << 20)
                #expect(output == input, "byte \(index) changed the output undetected")
            } catch {
                refused += 1
            }
        }
        #expect(refused > 250)
    }

    @Test("a pooled decompressor is clean after a malformed frame")
    func pooledAfterFailure() throws {
        let input = compressibleBytes(50_000, seed: 7)
        let frame = try Zstd.compress(input)
        for round in 0..<20 {
            // Garbage, then a frame cut short: both fail, and leave nothing behind.
            let failed = Zstd.withPooledDecompressor { d in (try? d.decompress(Array(frame.prefix(frame.count / 2)), maxOutput: input.count)) }
            #expect(failed == nil, "round \(round)")
            let garbage = Zstd.withPooledDecompressor { d in (try? d.decompress([0x28, 0xB5, 0x2F, 0xFD, 0, 1, 2, 3], maxOutput: 100)) }
            #expect(garbage == nil)
            let decoded = try Zstd.withPooledDecompressor { (d) throws(CompressionError) in try d.decompress(frame, maxOutput: input.count) }
            #expect(decoded == input)
        }
    }
}
