import SheafCrypto

/// The bookkeeping of a `Transport`, kept pure so that its decisions (the
/// connection cap, one session per peer) are plain functions of its state.
struct Registry {
    /// Every live connection, handshaking or established.
    private(set) var connections: [UInt64: Connection] = [:]
    /// The one established connection per peer.
    private(set) var sessions: [PublicKey: Connection] = [:]
    var shuttingDown = false
    private var nextID: UInt64 = 1

    enum Admission {
        case admitted(replacing: Connection?)
        case rejected(String)
    }

    mutating func makeID() -> UInt64 {
        defer { nextID += 1 }
        return nextID
    }

    /// Whether another connection fits under `cap`.
    func hasRoom(cap: Int) -> Bool { !shuttingDown && connections.count < cap }

    mutating func add(_ connection: Connection) { connections[connection.id] = connection }

    /// Removes a finished connection (and its session, if it was its peer's).
    mutating func remove(_ connection: Connection) {
        connections[connection.id] = nil
        if let peer = connection.peer, sessions[peer] === connection { sessions[peer] = nil }
    }

    /// Decides whether an authenticated connection becomes the session with `peer`.
    ///
    /// When two connections to one peer complete (simultaneous dials), both
    /// ends must keep the same one without talking about it: the one dialled
    /// by the smaller key, or, if one node dialled both, the one with the
    /// smaller session hash. Both are facts both ends know.
    mutating func admit(_ connection: Connection, peer: PublicKey, session: Hash, local: PublicKey) -> Admission {
        guard !shuttingDown else { return .rejected("shutting down") }
        guard peer != local else { return .rejected("connection to self") }
        if let existing = sessions[peer], let existingSession = existing.info?.session {
            let dialler = { (c: Connection) in c.outbound ? local : peer }
            let keepNew: Bool
            if dialler(existing) != dialler(connection) {
                keepNew = dialler(connection) == min(local, peer)
            } else {
                keepNew = session < existingSession
            }
            guard keepNew else { return .rejected("duplicate session with \(peer); keeping the other connection") }
            sessions[peer] = connection
            return .admitted(replacing: existing)
        }
        sessions[peer] = connection
        return .admitted(replacing: nil)
    }

    func session(with peer: PublicKey) -> Connection? { sessions[peer] }
}
