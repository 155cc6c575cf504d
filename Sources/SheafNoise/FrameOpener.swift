/// What a `FrameOpener` yields.
public enum ChannelFrame: Hashable, Sendable {
    case data([UInt8])
    case keepalive
}

/// The receiving half of a `SecureChannel`: turns bytes, fed in any slices,
/// into whole frames.
///
/// Memory is bounded: one partial record, one decryption buffer, and the
/// frame being assembled, whose declared length is checked against
/// `maxFrameBytes` before anything is allocated for it. Once the first
/// record decrypted (so the peer is the authenticated one), the frame's
/// storage is reserved at its declared length in one allocation, instead
/// of growing and copying as records arrive; memory is only address space
/// until written, so what is resident still follows the bytes that
/// arrived. After an error the opener refuses everything: the stream is
/// out of step.
public struct FrameOpener: Sendable {
    private var cipher: CipherState
    public let maxFrameBytes: Int
    private var splitter = RecordSplitter(minimumBodyBytes: CipherState.tagBytes)
    private var scratch = [UInt8](repeating: 0, count: FrameLayout.maxPlaintextBytes)
    private var frame: [UInt8] = []
    /// Bytes of the frame being assembled still to come; 0 between frames.
    private var frameRemaining = 0
    private var failure: SecureChannelError?

    public init(cipher: CipherState, maxFrameBytes: Int = FrameLayout.defaultMaxFrameBytes) {
        self.cipher = cipher
        self.maxFrameBytes = maxFrameBytes
    }

    /// Bytes held for frames not yet complete.
    public var bufferedBytes: Int { splitter.bufferedBytes + frame.count }

    /// The frames completed by `bytes`, in order.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer) throws(SecureChannelError) -> [ChannelFrame] {
        if let failure { throw failure }
        var frames = [ChannelFrame]()
        // Moved out while in use, so the record handler can mutate self. A
        // swap, not a copy: a copy would share the partial record's buffer and
        // make every append to it reallocate and copy it.
        var splitter = RecordSplitter()
        swap(&splitter, &self.splitter)
        defer { self.splitter = splitter }
        do {
            _ = try splitter.feed(bytes) { (record) throws(SecureChannelError) in
                if let frame = try open(record) { frames.append(frame) }
            }
        } catch {
            failure = error
            frame = []
            throw error
        }
        return frames
    }

    public mutating func feed(_ bytes: [UInt8]) throws(SecureChannelError) -> [ChannelFrame] {
        var result: Result<[ChannelFrame], SecureChannelError> = .success([])
        bytes.withUnsafeBytes { raw in
            do throws(SecureChannelError) { result = .success(try feed(raw)) } catch { result = .failure(error) }
        }
        return try result.get()
    }

    /// Decrypts one record; returns the frame it completes, if any.
    private mutating func open(_ record: UnsafeRawBufferPointer) throws(SecureChannelError) -> ChannelFrame? {
        let plaintextBytes = record.count - CipherState.tagBytes
        let opened: NoiseError? = scratch.withUnsafeMutableBytes { out in
            do throws(NoiseError) { try cipher.open(record, into: out); return nil } catch { return error }
        }
        switch opened {
        case nil: break
        case .nonceExhausted?: throw .nonceExhausted
        default: throw .decryptFailed
        }
        // Moved out while in use, so `accept` can mutate self without overlapping access.
        let plaintext = scratch
        scratch = []
        defer { scratch = plaintext }
        var result: Result<ChannelFrame?, SecureChannelError> = .success(nil)
        plaintext.withUnsafeBytes { all in
            do throws(SecureChannelError) {
                result = .success(try accept(UnsafeRawBufferPointer(rebasing: all[0..<plaintextBytes])))
            } catch {
                result = .failure(error)
            }
        }
        return try result.get()
    }

    private mutating func accept(_ plaintext: UnsafeRawBufferPointer) throws(SecureChannelError) -> ChannelFrame? {
        var data = plaintext[...]
        if frameRemaining == 0 {
            guard plaintext.count >= FrameLayout.headerBytes else { throw .malformedRecord("first record shorter than the frame header") }
            let declared = Int(UInt32(bigEndian: plaintext.loadUnaligned(fromByteOffset: 1, as: UInt32.self)))
            switch FrameLayout.Kind(rawValue: plaintext[0]) {
            case .keepalive?:
                guard declared == 0, plaintext.count == FrameLayout.headerBytes else {
                    throw .malformedRecord("keep-alive with a body")
                }
                return .keepalive
            case .data?:
                guard declared <= maxFrameBytes else { throw .frameTooLarge(declared: declared, limit: maxFrameBytes) }
                frame = []
                frame.reserveCapacity(declared)
                frameRemaining = declared
                data = data.dropFirst(FrameLayout.headerBytes)
            case nil:
                throw .malformedRecord("unknown frame kind \(plaintext[0])")
            }
        } else if data.isEmpty {
            throw .malformedRecord("empty continuation record")
        }
        guard data.count <= frameRemaining else { throw .malformedRecord("record runs past the frame's declared length") }
        frame.append(contentsOf: UnsafeRawBufferPointer(rebasing: data))
        frameRemaining -= data.count
        guard frameRemaining == 0 else { return nil }
        defer { frame = [] }
        return .data(frame)
    }
}
