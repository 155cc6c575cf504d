#if canImport(Glibc)
import Glibc
#endif
import Foundation
import SheafCrypto
import SheafFiles

/// How the CLI finds a running daemon: `<data dir>/control.json`, written by
/// the daemon once its control API listens and removed when it stops. The
/// file holds the bearer token, so it is the caller's own (mode 0600): who
/// can read the data directory's secrets may control the node.
public struct ControlEndpoint: Codable, Hashable, Sendable {
    public var host: String
    public var port: Int
    public var token: String
    /// The daemon's process, to tell a running daemon from a stale file.
    public var pid: Int32

    public static let fileName = "control.json"
    static let maxFileBytes = 16 << 10

    public init(host: String = "127.0.0.1", port: Int, token: String, pid: Int32 = getpid()) {
        self.host = host
        self.port = port
        self.token = token
        self.pid = pid
    }

    /// A fresh token: 32 random bytes in hex.
    public static func makeToken() -> String { Hex.encode(secureRandomBytes(32)) }

    public static func path(in dataDirectory: String) -> String { Path.join(dataDirectory, fileName) }

    /// `$SHEAF_DATA`, else `~/.sheaf`: where `--data` points by default.
    public static func defaultDataDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let data = environment["SHEAF_DATA"], !data.isEmpty { return data }
        return Path.join(environment["HOME"] ?? ".", ".sheaf")
    }

    /// Writes atomically (temporary file, fsync, rename), readable by the owner only.
    public func write(to dataDirectory: String) throws(ControlError) {
        let bytes = Array(try ControlJSON.encode(self))
        do {
            try Directory.writeAtomically(bytes, to: Self.path(in: dataDirectory), durable: true, ownerOnly: true)
        } catch {
            throw Self.fileFailure("cannot write", error.path, error.errno)
        }
    }

    /// Removes the file if it names this process (a newer daemon's is left alone).
    public static func remove(from dataDirectory: String, pid: Int32 = getpid()) {
        let path = path(in: dataDirectory)
        guard let bytes = try? FileDescriptor.readWholeFile(path, limit: maxFileBytes),
            let endpoint = try? JSONDecoder().decode(ControlEndpoint.self, from: Data(bytes)), endpoint.pid == pid
        else { return }
        unlink(path)
    }

    /// The endpoint of the daemon running for `dataDirectory`, or an error
    /// saying why there is none and what to do.
    public static func read(from dataDirectory: String) throws(ControlError) -> ControlEndpoint {
        let path = path(in: dataDirectory)
        let start = "start it with `peer run --data \(dataDirectory) --listen HOST:PORT`"
        let bytes: [UInt8]
        do {
            bytes = try FileDescriptor.readWholeFile(path, limit: maxFileBytes)
        } catch where error.errno == ENOENT {
            throw ControlError(
                .unavailable, "no daemon is running for \(dataDirectory) (no \(fileName))",
                hint: "\(start), or pass --data (or set SHEAF_DATA) for another data directory")
        } catch {
            throw ControlError(.unavailable, "cannot read \(path): \(error)", hint: "check the directory's permissions")
        }
        let endpoint: ControlEndpoint
        do {
            endpoint = try JSONDecoder().decode(ControlEndpoint.self, from: Data(bytes))
        } catch {
            throw ControlError(
                .internal, "\(path) is not a control endpoint: \(error)",
                hint: "if no daemon is running, remove it and \(start)")
        }
        guard processExists(endpoint.pid) else {
            throw ControlError(
                .unavailable, "the daemon for \(dataDirectory) (pid \(endpoint.pid)) is no longer running; \(fileName) is stale",
                hint: "it did not shut down cleanly; \(start)")
        }
        return endpoint
    }

    /// `kill(pid, 0)`: EPERM still means the process exists (another user's).
    static func processExists(_ pid: Int32) -> Bool {
        guard pid > 0 else { return false }
        return kill(pid, 0) == 0 || errno == EPERM
    }

    private static func fileFailure(_ what: String, _ path: String, _ code: Int32) -> ControlError {
        ControlError(.internal, "\(what) \(path): \(String(cString: strerror(code)))", hint: "check the data directory's permissions and free space")
    }
}
