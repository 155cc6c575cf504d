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

    /// Starts (or restarts, on the same data) a node named `name`.
    @discardableResult
    func start(_ name: String, join: [String] = [], extra: [String] = []) async throws -> PeerProcess {
        guard let executable = PeerProcess.builtExecutable() else {
            throw ControlError(.unavailable, "no peer executable near \(PeerProcess.ownExecutable)", hint: "swift build --build-tests builds it")
        }
        let node = try PeerProcess(name: name, executable: executable, data: DataDirectory(root + "/" + name), join: join,
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

    /// Polls until `condition` holds (a request that fails counts as not
    /// yet); fails the test after `timeout`.
    static func eventually(_ what: String, timeout: Duration = .seconds(60), _ condition: () async throws -> Bool) async throws {
        do {
            try await poll(until: what, timeout: timeout) { (try? await condition()) == true }
        } catch {
            Issue.record("\(error)")
            throw error
        }
    }
}
