/// Why a Noise operation failed. Every failure caused by a peer's bytes is
/// one of these, never a trap; after one, the handshake cannot continue.
public enum NoiseError: Error, Hashable, Sendable {
    /// The protocol name or pattern is not one this engine implements.
    case unsupportedProtocol(String)
    /// A key the pattern needs was not given (`which` names it).
    case missingKey(String)
    /// The pre-shared keys do not match the pattern's `psk` tokens in number.
    case wrongPSKCount(expected: Int, given: Int)
    /// A message, or what it would become, exceeds 65535 bytes.
    case messageTooLarge(Int)
    /// A message ended before a key or an authentication tag it must hold.
    case messageTooShort
    /// The ciphertext did not authenticate: tampered, or the wrong key.
    case decryptFailed
    /// The 2^64-1 nonces of a key are used up; the session must end (or rekey).
    case nonceExhausted
    /// A Diffie-Hellman output was all zeros (a low-order peer key).
    case degenerateSharedSecret
    /// Write when a read is due, or any call after completion.
    case outOfTurn
    /// The handshake failed earlier and may not be used again.
    case handshakeFailed
}
