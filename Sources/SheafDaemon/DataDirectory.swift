import SheafCrypto
import SheafFiles

/// Where a node keeps everything, and the names of what is in it:
///
///     DATA/identity.key        the node's Ed25519 seed (32 bytes, mode 0600)
///     DATA/config.json         optional settings (`DaemonConfig`)
///     DATA/control.json        how to reach the running daemon (written at start)
///     DATA/lock                held while a daemon runs on DATA
///     DATA/spaces/<space>/     one replica per space (feeds, snapshots, evidence)
///         daemon.json          trust policy and known peers of the space
///         space.key            the space's genesis seed, on the node that created it
public struct DataDirectory: Sendable {
    public let path: String

    public init(_ path: String) { self.path = path }

    public var identityFile: String { Path.join(path, "identity.key") }
    public var configFile: String { Path.join(path, "config.json") }
    public var lockFile: String { Path.join(path, "lock") }
    public var spacesDirectory: String { Path.join(path, "spaces") }

    public func spaceDirectory(_ space: PublicKey) -> String { Path.join(spacesDirectory, space.hex) }
    func spaceRecordFile(_ space: PublicKey) -> String { Path.join(spaceDirectory(space), "daemon.json") }
    func spaceKeyFile(_ space: PublicKey) -> String { Path.join(spaceDirectory(space), "space.key") }

    /// Whether `peer init` has run here.
    public var isInitialized: Bool { Directory.exists(identityFile) }

    /// Creates the directory and a new node identity; refuses to overwrite one.
    @discardableResult
    public func initialize() throws(DaemonError) -> KeyPair {
        guard !isInitialized else {
            throw DaemonError("\(path) already holds a node identity", hint: "use it with `peer run --data \(path)`, or pick another directory")
        }
        do {
            try Directory.create(path, durable: true)
            try Directory.create(spacesDirectory, durable: true)
        } catch { throw DaemonError("cannot create \(path): \(error)") }
        let identity = KeyPair()
        try writeSecret(identity.seed, to: identityFile)
        return identity
    }

    /// The node identity `peer init` created.
    public func loadIdentity() throws(DaemonError) -> KeyPair {
        guard isInitialized else {
            throw DaemonError("\(path) holds no node identity", hint: "create one with `peer init --data \(path)`")
        }
        return try readKeyPair(identityFile)
    }

    /// Spaces with a directory here.
    func storedSpaces() throws(DaemonError) -> [PublicKey] {
        guard Directory.exists(spacesDirectory) else { return [] }
        do { return try Directory.list(spacesDirectory).compactMap { PublicKey(hex: $0) }.sorted() } catch {
            throw DaemonError("cannot list \(spacesDirectory): \(error)")
        }
    }

    func writeSecret(_ seed: [UInt8], to file: String) throws(DaemonError) {
        do {
            try Directory.writeAtomically(seed, to: file, durable: true, ownerOnly: true)
        } catch { throw DaemonError("cannot write \(file): \(error)") }
    }

    func readKeyPair(_ file: String) throws(DaemonError) -> KeyPair {
        let bytes: [UInt8]
        do { bytes = try FileDescriptor.readWholeFile(file, limit: 64) } catch { throw DaemonError("cannot read \(file): \(error)") }
        guard let pair = KeyPair(seed: bytes) else {
            throw DaemonError("\(file) is damaged: it must hold a 32-byte seed, it holds \(bytes.count) bytes")
        }
        return pair
    }
}

/// A daemon failure an operator can act on: what went wrong, and what to do.
public struct DaemonError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var hint: String?

    public init(_ message: String, hint: String? = nil) {
        self.message = message
        self.hint = hint
    }

    public var description: String { hint.map { "\(message)\n  hint: \($0)" } ?? message }
}

extension DataDirectory {
    /// Makes the directory of a space this node starts to hold, with its
    /// record and, on the node that creates it, its genesis key. Refuses a
    /// space that has a directory already.
    func prepareSpace(_ space: PublicKey, record: SpaceRecord, genesis: KeyPair?) throws(DaemonError) {
        guard !Directory.exists(spaceDirectory(space)) else { throw DaemonError("this node already holds space \(space.hex)") }
        do { try Directory.create(spaceDirectory(space), durable: true) } catch {
            throw DaemonError("cannot create \(spaceDirectory(space)): \(error)")
        }
        if let genesis { try writeSecret(genesis.seed, to: spaceKeyFile(space)) }
        try record.write(spaceRecordFile(space))
    }

    /// Makes this node the creator of a space whose genesis key is given,
    /// before the daemon starts: for seeding a node with existing history
    /// (benchmarks, imports). Returns the replica directory to fill.
    public func prepareCreatedSpace(genesis: KeyPair, trust: String = "member") throws(DaemonError) -> String {
        try prepareSpace(genesis.publicKey, record: SpaceRecord(trust: trust, created: true), genesis: genesis)
        return spaceDirectory(genesis.publicKey)
    }
}
