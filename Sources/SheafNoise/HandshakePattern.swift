/// One token of a Noise message pattern.
public enum NoiseToken: String, Hashable, Sendable {
    case e, s, ee, es, se, ss, psk
}

/// A handshake pattern: what each side knows in advance (pre-messages) and
/// the tokens of each message, initiator first, directions alternating.
///
/// Patterns come from a name ("XX", "X1X1", "NNpsk0+psk2") so the engine
/// stays generic: one table of base patterns (`PatternTable`) plus modifiers.
public struct HandshakePattern: Hashable, Sendable {
    /// The pattern's part of a protocol name, e.g. "XXpsk3".
    public let name: String
    public let initiatorPreMessage: [NoiseToken]
    public let responderPreMessage: [NoiseToken]
    public let messages: [[NoiseToken]]

    /// One-way patterns (N, K, X and their modifications) have a single
    /// message; afterwards only the initiator sends.
    public var isOneWay: Bool { messages.count == 1 }

    /// Whether the pattern uses pre-shared keys (which changes how `e` is processed).
    public var usesPSK: Bool { pskCount > 0 }

    public var pskCount: Int { messages.joined().filter { $0 == .psk }.count }

    /// Parses a pattern name: a base pattern from the table followed by
    /// `pskN` modifiers joined by "+".
    public init(name: String) throws(NoiseError) {
        let baseName = String(name.prefix { "NKXI1".contains($0) })
        guard let base = PatternTable.base[baseName] else { throw .unsupportedProtocol(name) }
        var messages = base.messages
        let modifiers = name.dropFirst(baseName.count)
        if !modifiers.isEmpty {
            for modifier in modifiers.split(separator: "+", omittingEmptySubsequences: false) {
                guard modifier.hasPrefix("psk"), let n = Int(modifier.dropFirst(3)), n >= 0, n <= messages.count,
                      String(n) == modifier.dropFirst(3)
                else { throw .unsupportedProtocol(name) }
                if n == 0 {
                    messages[0].insert(.psk, at: 0)
                } else {
                    messages[n - 1].append(.psk)
                }
            }
        }
        self.name = name
        initiatorPreMessage = base.initiatorPreMessage
        responderPreMessage = base.responderPreMessage
        self.messages = messages
    }

    init(name: String, initiatorPreMessage: [NoiseToken], responderPreMessage: [NoiseToken], messages: [[NoiseToken]]) {
        self.name = name
        self.initiatorPreMessage = initiatorPreMessage
        self.responderPreMessage = responderPreMessage
        self.messages = messages
    }
}

/// A full Noise protocol name of the one suite this engine implements.
public struct NoiseProtocolName: Hashable, Sendable {
    public static let suite = "25519_ChaChaPoly_BLAKE2b"

    public let pattern: HandshakePattern
    public var text: String { "Noise_\(pattern.name)_\(Self.suite)" }

    /// Parses "Noise_<pattern>_25519_ChaChaPoly_BLAKE2b".
    public init(_ text: String) throws(NoiseError) {
        let prefix = "Noise_", suffix = "_" + Self.suite
        guard text.hasPrefix(prefix), text.hasSuffix(suffix), text.count > prefix.count + suffix.count else {
            throw .unsupportedProtocol(text)
        }
        pattern = try HandshakePattern(name: String(text.dropFirst(prefix.count).dropLast(suffix.count)))
    }

    public init(pattern: HandshakePattern) { self.pattern = pattern }
}
