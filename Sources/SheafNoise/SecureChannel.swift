/// The record layer of a finished handshake: frames of up to `maxFrameBytes`
/// carried in Noise transport messages of at most 65535 bytes each.
///
/// The two halves are independent values so that a connection's reader and
/// writer can each own one.
public struct SecureChannel: Sendable {
    public var sealer: FrameSealer
    public var opener: FrameOpener

    public init(send: CipherState, receive: CipherState, maxFrameBytes: Int = FrameLayout.defaultMaxFrameBytes) {
        sealer = FrameSealer(cipher: send, maxFrameBytes: maxFrameBytes)
        opener = FrameOpener(cipher: receive, maxFrameBytes: maxFrameBytes)
    }
}
