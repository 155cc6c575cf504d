import Foundation
import SheafFiles

/// A node's settings: defaults, overridden by `DATA/config.json`, overridden
/// by command-line flags. Every field is optional in the file.
public struct DaemonConfig: Codable, Sendable, Equatable {
    /// Where peers connect ("host:port"; port 0 picks a free one).
    public var listen: String = "127.0.0.1:7400"
    /// The address to tell peers, if not the listen address.
    public var advertise: String?
    /// Peers to connect to at start, and keep reconnecting to.
    public var join: [String] = []
    /// Port of the control API on 127.0.0.1 (0 picks a free one).
    public var controlPort: Int = 0
    /// trace, debug, info, notice, warning, error, critical.
    public var logLevel: String = "info"
    public var maxConnections: Int = 256
    /// "fsync" (an acknowledged write survives power loss) or "none".
    public var durability: String = "fsync"
    /// Snapshot after this many new entries (0: never by count).
    public var snapshotEveryEntries: Int = 50_000
    /// Snapshot this often while entries arrive (0: never by time).
    public var snapshotIntervalSeconds: Double = 60
    public var snapshotsKept: Int = 2

    public init() {}

    public init(from decoder: any Decoder) throws {
        let defaults = DaemonConfig()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        listen = try c.decodeIfPresent(String.self, forKey: .listen) ?? defaults.listen
        advertise = try c.decodeIfPresent(String.self, forKey: .advertise)
        join = try c.decodeIfPresent([String].self, forKey: .join) ?? defaults.join
        controlPort = try c.decodeIfPresent(Int.self, forKey: .controlPort) ?? defaults.controlPort
        logLevel = try c.decodeIfPresent(String.self, forKey: .logLevel) ?? defaults.logLevel
        maxConnections = try c.decodeIfPresent(Int.self, forKey: .maxConnections) ?? defaults.maxConnections
        durability = try c.decodeIfPresent(String.self, forKey: .durability) ?? defaults.durability
        snapshotEveryEntries = try c.decodeIfPresent(Int.self, forKey: .snapshotEveryEntries) ?? defaults.snapshotEveryEntries
        snapshotIntervalSeconds = try c.decodeIfPresent(Double.self, forKey: .snapshotIntervalSeconds) ?? defaults.snapshotIntervalSeconds
        snapshotsKept = try c.decodeIfPresent(Int.self, forKey: .snapshotsKept) ?? defaults.snapshotsKept
    }

    /// The file's settings over the defaults; no file means the defaults.
    public static func load(from data: DataDirectory) throws(DaemonError) -> DaemonConfig {
        guard Directory.exists(data.configFile) else { return DaemonConfig() }
        let bytes: [UInt8]
        do { bytes = try FileDescriptor.readWholeFile(data.configFile, limit: 1 << 20) } catch {
            throw DaemonError("cannot read \(data.configFile): \(error)")
        }
        let config: DaemonConfig
        do { config = try JSONDecoder().decode(DaemonConfig.self, from: Data(bytes)) } catch {
            throw DaemonError("\(data.configFile) is not valid: \(error)", hint: "fix the file or remove it to use the defaults")
        }
        try config.validate()
        return config
    }

    /// Rejects settings the daemon cannot run with, saying which.
    public func validate() throws(DaemonError) {
        guard HostPort(listen) != nil else { throw DaemonError("listen address \"\(listen)\" is not host:port") }
        if let advertise, HostPort(advertise) == nil { throw DaemonError("advertise address \"\(advertise)\" is not host:port") }
        for address in join where HostPort(address) == nil { throw DaemonError("join address \"\(address)\" is not host:port") }
        guard (0...65535).contains(controlPort) else { throw DaemonError("control port \(controlPort) is out of range") }
        guard ["fsync", "none"].contains(durability) else { throw DaemonError("durability \"\(durability)\" is not fsync or none") }
        guard maxConnections >= 1 else { throw DaemonError("maxConnections must be at least 1") }
        guard snapshotEveryEntries >= 0, snapshotIntervalSeconds >= 0, snapshotsKept >= 1 else {
            throw DaemonError("snapshot settings must be non-negative, with at least one snapshot kept")
        }
    }

    var fileDurability: Durability { durability == "none" ? .none : .fsync }
}

/// "host:port", checked.
public struct HostPort: Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":") else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else { return nil }
        self.host = host
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
