/// The sending half of a `SecureChannel`: turns frames into encrypted records.
public struct FrameSealer: Sendable {
    private var cipher: CipherState
    public let maxFrameBytes: Int

    public init(cipher: CipherState, maxFrameBytes: Int = FrameLayout.defaultMaxFrameBytes) {
        self.cipher = cipher
        self.maxFrameBytes = maxFrameBytes
    }

    /// The same cipher stream under another frame limit: a sender may hold
    /// itself to less than the session allows (tests also use it to send
    /// more, to check that the receiver refuses it).
    public func withFrameLimit(_ maxFrameBytes: Int) -> FrameSealer { FrameSealer(cipher: cipher, maxFrameBytes: maxFrameBytes) }

    /// Encrypts `frame` into `out`, which must hold exactly
    /// `FrameLayout.sealedSize(frameBytes: frame.count)` bytes.
    public mutating func seal(_ frame: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) throws(SecureChannelError) {
        try seal(kind: .data, frame, into: out)
    }

    public mutating func seal(_ frame: [UInt8]) throws(SecureChannelError) -> [UInt8] {
        try sealed(kind: .data, frame)
    }

    /// A keep-alive: an empty frame of its own kind, which the receiver
    /// counts as traffic but does not deliver.
    public mutating func sealKeepalive() throws(SecureChannelError) -> [UInt8] {
        try sealed(kind: .keepalive, [])
    }

    private mutating func sealed(kind: FrameLayout.Kind, _ frame: [UInt8]) throws(SecureChannelError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: FrameLayout.sealedSize(frameBytes: frame.count))
        let failure: SecureChannelError? = frame.withUnsafeBytes { f in
            out.withUnsafeMutableBytes { o in
                do throws(SecureChannelError) { try seal(kind: kind, f, into: o); return nil } catch { return error }
            }
        }
        if let failure { throw failure }
        return out
    }

    private mutating func seal(kind: FrameLayout.Kind, _ frame: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) throws(SecureChannelError) {
        guard frame.count <= maxFrameBytes else { throw .frameTooLarge(declared: frame.count, limit: maxFrameBytes) }
        precondition(out.count == FrameLayout.sealedSize(frameBytes: frame.count), "output sized by FrameLayout.sealedSize")
        var dataOffset = 0
        var outOffset = 0
        var first = true
        repeat {
            let header = first ? FrameLayout.headerBytes : 0
            let chunk = min(frame.count - dataOffset, FrameLayout.maxPlaintextBytes - header)
            let plaintextBytes = header + chunk
            let recordBytes = plaintextBytes + CipherState.tagBytes
            out[outOffset] = UInt8(recordBytes >> 8)
            out[outOffset + 1] = UInt8(recordBytes & 0xff)
            let record = UnsafeMutableRawBufferPointer(rebasing: out[(outOffset + 2)..<(outOffset + 2 + recordBytes)])
            if first {
                record[0] = kind.rawValue
                record.storeBytes(of: UInt32(frame.count).bigEndian, toByteOffset: 1, as: UInt32.self)
            }
            if chunk > 0 {
                UnsafeMutableRawBufferPointer(rebasing: record[header..<plaintextBytes])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: frame[dataOffset..<(dataOffset + chunk)]))
            }
            do {
                // In place: the plaintext is at the start of the record.
                try cipher.seal(UnsafeRawBufferPointer(rebasing: record[0..<plaintextBytes]), into: record)
            } catch .nonceExhausted {
                throw .nonceExhausted
            } catch {
                throw .malformedRecord("cannot seal: \(error)")
            }
            dataOffset += chunk
            outOffset += 2 + recordBytes
            first = false
        } while dataOffset < frame.count
    }
}
