import ArgumentParser
import Logging
import ServiceLifecycle
import SheafDaemon

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Run the node daemon until SIGTERM or SIGINT.",
        discussion: "Settings come from DATA/config.json (see docs/API.md), then these flags.")

    @Option(help: "The node's data directory (default $SHEAF_DATA or ~/.sheaf).") var data: String = DataOption.defaultPath
    @Option(help: "Address to accept peers on, HOST:PORT (port 0 picks a free one).") var listen: String?
    @Option(help: "Address to tell peers, if not the listen address.") var advertise: String?
    @Option(help: "A peer to connect to and keep connected (repeatable).") var join: [String] = []
    @Option(help: "Control API port on 127.0.0.1 (0 picks a free one).") var controlPort: Int?
    @Option(help: "trace, debug, info, notice, warning, error or critical.") var logLevel: String?
    @Option(help: "fsync (acknowledged writes survive power loss) or none.") var durability: String?
    @Option(help: "Snapshot after this many new entries (0: never by count).") var snapshotEvery: Int?
    @Option(help: "Snapshot this often in seconds while entries arrive (0: never by time).") var snapshotInterval: Double?
    @Option(help: "Most simultaneous peer connections.") var maxConnections: Int?

    func run() async throws {
        let directory = DataDirectory(data)
        var config: DaemonConfig
        do {
            config = try DaemonConfig.load(from: directory)
            if let listen { config.listen = listen }
            if let advertise { config.advertise = advertise }
            config.join += join
            if let controlPort { config.controlPort = controlPort }
            if let logLevel { config.logLevel = logLevel }
            if let durability { config.durability = durability }
            if let snapshotEvery { config.snapshotEveryEntries = snapshotEvery }
            if let snapshotInterval { config.snapshotIntervalSeconds = snapshotInterval }
            if let maxConnections { config.maxConnections = maxConnections }
            try config.validate()
        } catch {
            throw Failure.exit(error.message, hint: error.hint)
        }
        guard let level = Logger.Level(rawValue: config.logLevel) else {
            throw Failure.exit("unknown log level \"\(config.logLevel)\"", hint: "use trace, debug, info, notice, warning, error or critical")
        }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "sheaf.peer")
        let daemon: PeerDaemon
        do { daemon = try PeerDaemon(data: directory, config: config, logger: logger) } catch {
            throw Failure.exit(error.message, hint: error.hint)
        }
        let group = ServiceGroup(configuration: .init(services: [.init(service: daemon)], gracefulShutdownSignals: [.sigterm, .sigint],
                                                      logger: logger))
        do { try await group.run() } catch let error as DaemonError {
            throw Failure.exit(error.message, hint: error.hint)
        }
    }
}
