import Foundation
import SheafControl
import SheafDaemon

#if canImport(Glibc)
import Glibc
#endif

/// A `peer run` child process on loopback, and the control client that
/// reaches it: what the demo, the network benchmarks and the integration
/// tests start nodes with.
public final class PeerProcess: @unchecked Sendable {
    // @unchecked: `process` is Foundation's Process (not Sendable); it is
    // only started in init and signalled afterwards, which it allows from any thread.
    public let name: String
    public let data: DataDirectory
    public let executable: String
    let process: Process
    public private(set) var client: ControlClient?
    public private(set) var listen = ""

    /// Starts `peer run` on `data` (initialized first if needed), listening on a free loopback port.
    public init(name: String, executable: String, data: DataDirectory, join: [String] = [], extra: [String] = [],
                logLevel: String = "info") throws {
        self.name = name
        self.data = data
        self.executable = executable
        if !data.isInitialized { try data.initialize() }
        let log = data.path + "/peer.log"
        guard FileManager.default.createFile(atPath: log, contents: nil) else { throw ControlError(.internal, "cannot create \(log)") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["run", "--data", data.path, "--listen", "127.0.0.1:0", "--log-level", logLevel]
            + join.flatMap { ["--join", $0] } + extra
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        self.process = process
    }

    public var pid: Int32 { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }

    /// Waits until the daemon answers on its control API.
    @discardableResult
    public func connect(timeout: Duration = .seconds(30)) async throws -> ControlClient {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var lastError: any Error = ControlError(.unavailable, "\(name) did not start")
        while clock.now < deadline {
            guard process.isRunning else {
                throw ControlError(.unavailable, "\(name) exited with status \(process.terminationStatus)", hint: "see \(data.path)/peer.log")
            }
            do {
                let endpoint = try ControlEndpoint.read(from: data.path)
                let client = ControlClient(endpoint: endpoint)
                let status = try await client.status()
                self.client = client
                listen = status.listen
                return client
            } catch {
                lastError = error
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        throw lastError
    }

    /// The client, once `connect` succeeded.
    public func control() throws -> ControlClient {
        guard let client else { throw ControlError(.unavailable, "\(name) is not connected yet") }
        return client
    }

    /// Peak resident memory so far, from /proc (MB); nil once exited.
    public var peakResidentMB: Double? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kb = Double(line.split(separator: " ").dropFirst().first ?? "") else { return nil }
        return kb / 1024
    }

    /// SIGTERM, then waits for a graceful exit (SIGKILL after `grace`).
    public func stop(grace: Duration = .seconds(15)) async {
        await client?.close()
        client = nil
        guard process.isRunning else { return }
        process.terminate()
        let clock = ContinuousClock()
        let deadline = clock.now + grace
        while process.isRunning, clock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        if process.isRunning { kill9() }
        while process.isRunning { try? await Task.sleep(for: .milliseconds(10)) }
    }

    // A node nobody stopped must not outlive its owner.
    deinit {
        if process.isRunning { _ = kill(pid, SIGKILL) }
    }

    /// Kills the daemon without warning, as a crash would.
    public func kill9() {
        _ = kill(pid, SIGKILL)
    }

    /// Waits for the process to be gone (after `kill9`).
    public func waitForExit() async {
        await client?.close()
        client = nil
        while process.isRunning { try? await Task.sleep(for: .milliseconds(10)) }
    }
}

extension PeerProcess {
    /// This program's own path (its arguments may name it relative to a
    /// directory it has since left).
    public static var ownExecutable: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    /// The `peer` executable SwiftPM built next to this program: in its
    /// directory, or one above it (a test binary may sit inside a bundle).
    public static func builtExecutable() -> String? {
        var directory = URL(fileURLWithPath: ownExecutable).deletingLastPathComponent()
        while true {
            let candidate = directory.appendingPathComponent("peer").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            guard directory.path != "/" else { return nil }
            directory = directory.deletingLastPathComponent()
        }
    }
}
