import PropertyBased
import SheafCrypto
import SheafNoise
import Testing

@Suite("SecureChannel record layer")
struct SecureChannelTests {
    static func channels(maxFrameBytes: Int = FrameLayout.defaultMaxFrameBytes) throws -> (SecureChannel, SecureChannel) {
        let (a, b) = try CipherStateTests.transportPair()
        return (SecureChannel(send: a.send, receive: a.receive, maxFrameBytes: maxFrameBytes),
                SecureChannel(send: b.send, receive: b.receive, maxFrameBytes: maxFrameBytes))
    }

    @Test("frames of every size class round-trip, and sealedSize is exact", arguments: [
        0, 1, 100, 65_513, 65_514, 65_515, 65_519, 65_520, 131_033, 131_034, 1 << 20, FrameLayout.defaultMaxFrameBytes,
    ])
    func roundTrip(size: Int) throws {
        var (a, b) = try Self.channels()
        var rng = SplitMix64(seed: UInt64(size))
        let frame = rng.bytes(min(size, 4096))
        let payload = (0..<size).map { frame[$0 % max(frame.count, 1)] }
        let sealed = try a.sealer.seal(payload)
        #expect(sealed.count == FrameLayout.sealedSize(frameBytes: size))
        #expect(try b.opener.feed(sealed) == [.data(payload)])
        #expect(b.opener.bufferedBytes == 0)
    }

    @Test("any split of the byte stream yields the same frames")
    func anySplit() async {
        await propertyCheck(count: 60, input: Gen.uint64()) { seed throws in
            var rng = SplitMix64(seed: seed)
            var (a, b) = try Self.channels()
            var frames = [ChannelFrame]()
            var stream = [UInt8]()
            for _ in 0..<(1 + rng.below(6)) {
                if rng.below(5) == 0 {
                    frames.append(.keepalive)
                    stream += try a.sealer.sealKeepalive()
                } else {
                    let size = [0, 1, 17, 5000, 65_514, 65_600, 150_000][rng.below(7)]
                    let frame = rng.bytes(size)
                    frames.append(.data(frame))
                    stream += try a.sealer.seal(frame)
                }
            }
            var received = [ChannelFrame]()
            var offset = 0
            while offset < stream.count {
                let piece = [1, 2, 3, 17, 1000, 65_537, 200_000][rng.below(7)]
                let end = min(stream.count, offset + 1 + rng.below(piece))
                received += try b.opener.feed(Array(stream[offset..<end]))
                offset = end
            }
            #expect(received == frames)
            #expect(b.opener.bufferedBytes == 0)
        }
    }

    @Test("a declared length over the limit is refused at the first record, before the body arrives")
    func frameTooLarge() throws {
        // Same keys, different limits: the sender allows 1 MiB, the receiver 1000 bytes.
        let (x, y) = try CipherStateTests.transportPair()
        var sealer = FrameSealer(cipher: x.send, maxFrameBytes: 1 << 20)
        var opener = FrameOpener(cipher: y.receive, maxFrameBytes: 1000)
        let sealed = try sealer.seal([UInt8](repeating: 1, count: 500_000))
        let firstRecord = Array(sealed.prefix(2 + 65_535))
        #expect(thrown(SecureChannelError.self) { _ = try opener.feed(firstRecord) } == .frameTooLarge(declared: 500_000, limit: 1000))
        // The opener is dead after an error.
        #expect(thrown(SecureChannelError.self) { _ = try opener.feed([0]) } == .frameTooLarge(declared: 500_000, limit: 1000))
        #expect(thrown(SecureChannelError.self) { _ = try sealer.seal([UInt8](repeating: 0, count: (1 << 20) + 1)) }
            == .frameTooLarge(declared: (1 << 20) + 1, limit: 1 << 20))
    }

    @Test("a flipped bit anywhere in a record is decryptFailed or malformedRecord")
    func tampered() throws {
        var rng = SplitMix64(seed: 5)
        for _ in 0..<50 {
            var (a, b) = try Self.channels()
            var sealed = try a.sealer.seal(rng.bytes(100))
            let index = rng.below(sealed.count)
            sealed[index] ^= UInt8(1 << rng.below(8))
            do {
                let frames = try b.opener.feed(sealed)
                // A changed length prefix may make the record incomplete: nothing is delivered.
                #expect(index < 2 && frames.isEmpty)
            } catch .decryptFailed {
            } catch .malformedRecord {
                #expect(index < 2)
            }
        }
    }

    /// The error an opener gives for records whose plaintexts are sealed by hand.
    private static func openerError(_ plaintexts: [[UInt8]]) throws -> SecureChannelError? {
        let (x, y) = try CipherStateTests.transportPair()
        var send = x.send
        var opener = FrameOpener(cipher: y.receive)
        var stream = [UInt8]()
        for plaintext in plaintexts { stream += RecordSplitter.frame(try send.encrypt(ad: [], plaintext: plaintext))! }
        return thrown(SecureChannelError.self) { _ = try opener.feed(stream) }
    }

    @Test("records below the tag size, unknown kinds, short headers and overruns are malformed")
    func malformed() throws {
        var (_, b) = try Self.channels()
        #expect(thrown(SecureChannelError.self) { _ = try b.opener.feed([0, 15] + [UInt8](repeating: 0, count: 15)) }
            == .malformedRecord("record of 15 bytes, below the minimum 16"))
        #expect(try Self.openerError([[9, 0, 0, 0, 0]]) == .malformedRecord("unknown frame kind 9"))
        #expect(try Self.openerError([[1, 0]]) == .malformedRecord("first record shorter than the frame header"))
        #expect(try Self.openerError([[2, 0, 0, 0, 1, 5]]) == .malformedRecord("keep-alive with a body"))
        #expect(try Self.openerError([[1, 0, 0, 0, 2, 7], [8, 9]]) == .malformedRecord("record runs past the frame's declared length"))
        #expect(try Self.openerError([[1, 0, 0, 0, 2, 7], []]) == .malformedRecord("empty continuation record"))
        #expect(try Self.openerError([[1, 0, 0, 0, 2, 7], [8]]) == nil)
    }

    @Test("the splitter stops after maxRecords and reports what it consumed")
    func splitterLimit() throws {
        var splitter = RecordSplitter()
        let stream = RecordSplitter.frame([1, 2, 3])! + RecordSplitter.frame([4])! + [0]
        var records = [[UInt8]]()
        let consumed = try stream.withUnsafeBytes { raw in
            try splitter.feed(raw, maxRecords: 1) { records.append(Array($0)) }
        }
        #expect(consumed == 5)
        #expect(records == [[1, 2, 3]])
        #expect(splitter.bufferedBytes == 0)
    }
}
