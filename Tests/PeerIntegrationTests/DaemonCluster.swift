import Foundation
import PeerCluster
import SheafControl
import SheafDaemon
import Testing

/// Real `peer run` processes on loopback for the integration tests, in a
/// temporary directory that goes away with the cluster.
actor DaemonCluster {
    let root: String
    private(set) var nodes: [PeerProcess] = []

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("sheaf-it-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    /// The `peer` executable SwiftPM built next to the test bundle.
    static var executable: String {
        let own = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var directory = URL(fileURLWithPath: own).deletingLastPathComponent()
        // The test binary may sit inside a .xctest bundle directory.
        while !FileManager.default.isExecutableFile(atPath: directory.appendingPathComponent("peer").path), directory.path != "/" {
            directory = directory.deletingLastPathComponent()
        }
        return directory.appendingPathComponent("peer").path
    }

    /// Starts (or restarts, on the same data) a node named `name`.
    @discardableResult
    func start(_ name: String, join: [String] = [], extra: [String] = []) async throws -> PeerProcess {
        let node = try PeerProcess(name: name, executable: Self.executable, data: DataDirectory(root + "/" + name), join: join,
                                   extra: extra, logLevel: "info")
        try await node.connect()
        nodes.append(node)
        return node
    }

    func stopAll() async {
        for node in nodes { await node.stop(grace: .seconds(10)) }
        nodes = []
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    /// Polls until `condition` holds; fails the test after `timeout`.
    static func eventually(_ what: String, timeout: Duration = .seconds(60), _ condition: () async throws -> Bool) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while clock.now < deadline {
            if (try? await condition()) == true { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        Issue.record("timed out waiting until \(what)")
        throw ControlError(.unavailable, "timed out waiting until \(what)")
    }
}
