#if canImport(Glibc)
import Glibc
#endif
import Logging
import ServiceLifecycle
import SheafControl
import SheafFiles

/// The daemon as a service: the node runtime, its control API on
/// 127.0.0.1, and `control.json` telling the CLI where both are. A graceful
/// shutdown (SIGTERM, SIGINT) stops taking requests, then closes every
/// space (flushing what it holds) and every connection.
public struct PeerDaemon: Service {
    public let runtime: PeerRuntime
    let logger: Logger
    let lock: FileLock

    public init(data: DataDirectory, config: DaemonConfig, logger: Logger) throws(DaemonError) {
        do { lock = try FileLock(path: data.lockFile) } catch {
            if error.code == .locked {
                throw DaemonError("another daemon is running on \(data.path)", hint: "stop it first, or use another --data directory")
            }
            throw DaemonError("cannot lock \(data.lockFile): \(error)", hint: "does \(data.path) exist? create it with `peer init`")
        }
        runtime = try PeerRuntime(data: data, config: config, logger: logger)
        self.logger = logger
    }

    public func run() async throws {
        defer { lock.release() }
        try await runtime.start()
        let token = ControlEndpoint.makeToken()
        let server = ControlServer(control: runtime, token: token, logger: logger)
        let logger = self.logger
        let runtime = self.runtime
        let data = runtime.data
        let config = runtime.config
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                group.addTask {
                    do {
                        try await server.run(host: "127.0.0.1", port: config.controlPort) { port throws(ControlError) in
                            try ControlEndpoint(host: "127.0.0.1", port: port, token: token).write(to: data.path)
                            logger.notice("node running", metadata: ["node": "\(runtime.identity.publicKey.hex)", "control": "127.0.0.1:\(port)",
                                                                    "data": "\(data.path)"])
                        }
                    } catch {
                        logger.critical("the control API failed: \(error)")
                    }
                }
                try? await gracefulShutdown()
                logger.notice("shutting down")
                ControlEndpoint.remove(from: data.path)
                server.shutdown()
                await runtime.shutdown()
            }
        } onGracefulShutdown: {}
    }
}
