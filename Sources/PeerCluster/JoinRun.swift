import PeerCLI
import SheafControl
import SheafDaemon
import SheafProtocol

/// Starts a fresh `peer` process, has it join a space, and times it until it
/// holds as many entries as `target`: what both the bootstrap comparison and
/// the throughput run measure.
struct JoinRun: Sendable {
    /// When the joiner counts as done.
    enum Until: Sendable {
        /// Every entry stored and the state root equal to the target's.
        case rootVerified
        /// Every entry stored (the root is checked afterwards, untimed).
        case entriesStored
    }

    var executable: String
    var workDirectory: String
    var logLevel: String

    func run(name: String, space: String, trust: String, contacts: [String], target: SpaceStatus, until: Until,
             say: @Sendable (String) -> Void, status: @Sendable (String) -> Void) async throws -> BootstrapComparison.Joined {
        // Snapshots off: both kinds of joiner do the same work after joining.
        let node = try PeerProcess(name: name, executable: executable, data: DataDirectory(workDirectory + "/" + name),
                                   join: contacts, extra: ["--snapshot-every", "0", "--snapshot-interval", "0"], logLevel: logLevel)
        do {
            let joined = try await measure(node, space: space, trust: trust, contacts: contacts, target: target, until: until, status: status)
            say("\(name): queryable after \(String(format: "%.2f", joined.queryableSeconds)) s, caught up after "
                + "\(String(format: "%.2f", joined.readySeconds)) s, received \(Format.bytes(joined.bytesReceived))")
            await node.stop()
            return joined
        } catch {
            await node.stop(grace: .seconds(5))
            throw error
        }
    }

    private func measure(_ node: PeerProcess, space: String, trust: String, contacts: [String], target: SpaceStatus, until: Until,
                         status: @Sendable (String) -> Void) async throws -> BootstrapComparison.Joined {
        let control = try await node.connect()
        // Joining starts once the node has its sessions, as a user would join after the daemon is up.
        try await poll(until: "\(node.name) connects") { try await control.status().neighbours.count >= contacts.count }
        let before = try await control.status().bytesIn
        let clock = ContinuousClock()
        let start = clock.now
        _ = try await control.joinSpace(JoinSpaceRequest(space: space, trust: trust))
        var queryable: Double?
        var caughtUp: Double?
        var last = clock.now
        while true {
            let current = try await control.space(space)
            let elapsed = (clock.now - start).seconds
            if queryable == nil, current.ready { queryable = elapsed }
            if caughtUp == nil, current.entries >= target.entries, until == .entriesStored || !current.stateRoot.isEmpty {
                caughtUp = elapsed
            }
            if let caughtUp, !current.stateRoot.isEmpty {
                guard current.stateRoot == target.stateRoot else {
                    throw ControlError(.internal, "\(node.name) holds every entry but its state root differs", hint: "see \(node.data.path)/peer.log")
                }
                let bytes = try await control.status().bytesIn - before
                return BootstrapComparison.Joined(queryableSeconds: queryable ?? caughtUp, readySeconds: caughtUp, bytesReceived: bytes,
                                                  stateRoot: current.stateRoot, peakResidentMB: node.peakResidentMB)
            }
            if clock.now - last > .milliseconds(100) {
                status(ProgressLine.render(name: node.name, status: current, target: target.entries, elapsed: elapsed))
                last = clock.now
            }
            guard elapsed < 1800 else { throw ControlError(.unavailable, "\(node.name) did not catch up in 30 minutes") }
            try await Task.sleep(for: .milliseconds(10))
        }
    }
}

/// Polls `condition` until it holds; throws after `timeout`.
public func poll(until what: String, timeout: Duration = .seconds(120), _ condition: () async throws -> Bool) async throws {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while clock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(20))
    }
    throw ControlError(.unavailable, "timed out waiting until \(what)")
}

/// One line of a joining node's progress.
enum ProgressLine {
    static func render(name: String, status: SpaceStatus, target: UInt64, elapsed: Double) -> String {
        let phase = status.bootstrap?.phase.rawValue ?? (status.ready ? "catching_up" : "discovering")
        var line = "\(name): \(phase) \(String(format: "%5.1f", elapsed)) s"
        if let bootstrap = status.bootstrap, bootstrap.chunksTotal > 0, !status.ready {
            line += "  chunks \(bootstrap.chunksDone)/\(bootstrap.chunksTotal)  \(Format.bytes(bootstrap.bytesDone)) of \(Format.bytes(bootstrap.bytesTotal))"
        } else {
            line += "  entries \(status.entries)/\(target)"
        }
        return line
    }
}
