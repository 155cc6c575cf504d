/// The byte layout of application frames inside records (docs/TRANSPORT.md).
///
/// A frame's first record begins with a 5-byte header, kind ‖ u32 big-endian
/// length; the frame's bytes follow there and in as many further records as
/// needed. Each record's plaintext is at most `maxPlaintextBytes`.
public enum FrameLayout {
    public static let headerBytes = 5
    public static let maxPlaintextBytes = CipherState.maxPlaintextBytes
    /// Default cap on one frame: the protocol's 16 MiB ranges plus headroom.
    public static let defaultMaxFrameBytes = 16 << 20 + 64 << 10

    /// The record overhead: length prefix and authentication tag.
    static let recordOverhead = RecordSplitter.headerBytes + CipherState.tagBytes

    enum Kind: UInt8 {
        case data = 1
        case keepalive = 2
    }

    /// Bytes on the wire for a frame of `frameBytes` bytes.
    public static func sealedSize(frameBytes: Int) -> Int {
        let firstCapacity = maxPlaintextBytes - headerBytes
        let more = max(0, frameBytes - firstCapacity)
        let records = 1 + (more + maxPlaintextBytes - 1) / maxPlaintextBytes
        return headerBytes + frameBytes + records * recordOverhead
    }
}
