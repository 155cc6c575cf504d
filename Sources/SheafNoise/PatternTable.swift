/// The base handshake patterns of the Noise specification (revision 34):
/// the one-way and interactive fundamental patterns (§7.4) and the deferred
/// patterns (§7.5), in the specification's own notation.
enum PatternTable {
    /// Notation: messages separated by ";", pre-messages before "...".
    private static let source: [(String, String)] = [
        ("N", "<- s; ...; -> e, es"),
        ("K", "-> s; <- s; ...; -> e, es, ss"),
        ("X", "<- s; ...; -> e, es, s, ss"),
        ("NN", "-> e; <- e, ee"),
        ("NK", "<- s; ...; -> e, es; <- e, ee"),
        ("NX", "-> e; <- e, ee, s, es"),
        ("XN", "-> e; <- e, ee; -> s, se"),
        ("XK", "<- s; ...; -> e, es; <- e, ee; -> s, se"),
        ("XX", "-> e; <- e, ee, s, es; -> s, se"),
        ("KN", "-> s; ...; -> e; <- e, ee, se"),
        ("KK", "-> s; <- s; ...; -> e, es, ss; <- e, ee, se"),
        ("KX", "-> s; ...; -> e; <- e, ee, se, s, es"),
        ("IN", "-> e, s; <- e, ee, se"),
        ("IK", "<- s; ...; -> e, es, s, ss; <- e, ee, se"),
        ("IX", "-> e, s; <- e, ee, se, s, es"),
        ("NK1", "<- s; ...; -> e; <- e, ee, es"),
        ("NX1", "-> e; <- e, ee, s; -> es"),
        ("X1N", "-> e; <- e, ee; -> s; <- se"),
        ("X1K", "<- s; ...; -> e, es; <- e, ee; -> s; <- se"),
        ("XK1", "<- s; ...; -> e; <- e, ee, es; -> s, se"),
        ("X1K1", "<- s; ...; -> e; <- e, ee, es; -> s; <- se"),
        ("X1X", "-> e; <- e, ee, s, es; -> s; <- se"),
        ("XX1", "-> e; <- e, ee, s; -> es, s, se"),
        ("X1X1", "-> e; <- e, ee, s; -> es, s; <- se"),
        ("K1N", "-> s; ...; -> e; <- e, ee; -> se"),
        ("K1K", "-> s; <- s; ...; -> e, es; <- e, ee; -> se"),
        ("KK1", "-> s; <- s; ...; -> e; <- e, ee, se, es"),
        ("K1K1", "-> s; <- s; ...; -> e; <- e, ee, es; -> se"),
        ("K1X", "-> s; ...; -> e; <- e, ee, s, es; -> se"),
        ("KX1", "-> s; ...; -> e; <- e, ee, se, s; -> es"),
        ("K1X1", "-> s; ...; -> e; <- e, ee, s; -> se, es"),
        ("I1N", "-> e, s; <- e, ee; -> se"),
        ("I1K", "<- s; ...; -> e, es, s; <- e, ee; -> se"),
        ("IK1", "<- s; ...; -> e, s; <- e, ee, se, es"),
        ("I1K1", "<- s; ...; -> e, s; <- e, ee, es; -> se"),
        ("I1X", "-> e, s; <- e, ee, s, es; -> se"),
        ("IX1", "-> e, s; <- e, ee, se, s; -> es"),
        ("I1X1", "-> e, s; <- e, ee, s; -> se, es"),
    ]

    static let base: [String: HandshakePattern] = {
        var table = [String: HandshakePattern]()
        for (name, notation) in source {
            // The table is a compile-time constant; a typo is a programming
            // error that every test run would hit at once.
            guard let pattern = parse(name: name, notation) else { preconditionFailure("bad pattern table entry \(name)") }
            table[name] = pattern
        }
        return table
    }()

    private static func parse(name: String, _ notation: String) -> HandshakePattern? {
        let lines = notation.split(separator: ";").map { $0.trimmingCharacters(in: " ") }
        let preCount = lines.firstIndex(of: "...") ?? 0
        var initiatorPre = [NoiseToken](), responderPre = [NoiseToken](), messages = [[NoiseToken]]()
        for (index, line) in lines.enumerated() where line != "..." {
            guard let (fromInitiator, tokens) = parseLine(line) else { return nil }
            if index < preCount {
                if fromInitiator { initiatorPre = tokens } else { responderPre = tokens }
            } else {
                // Messages alternate, initiator first.
                guard fromInitiator == messages.count.isMultiple(of: 2) else { return nil }
                messages.append(tokens)
            }
        }
        return HandshakePattern(name: name, initiatorPreMessage: initiatorPre, responderPreMessage: responderPre, messages: messages)
    }

    private static func parseLine(_ line: String) -> (Bool, [NoiseToken])? {
        let fromInitiator: Bool
        if line.hasPrefix("->") { fromInitiator = true } else if line.hasPrefix("<-") { fromInitiator = false } else { return nil }
        var tokens = [NoiseToken]()
        for word in line.dropFirst(2).split(separator: ",") {
            guard let token = NoiseToken(rawValue: word.trimmingCharacters(in: " ")) else { return nil }
            tokens.append(token)
        }
        return (fromInitiator, tokens)
    }
}

extension StringProtocol {
    fileprivate func trimmingCharacters(in set: String) -> String {
        String(drop { set.contains($0) }.reversed().drop { set.contains($0) }.reversed())
    }
}
