import ArgumentParser
import Logging
import PeerCLI
import SheafControl
import SheafTestSupport
import Testing

/// Commands run whole against a control server found through control.json:
/// discovery, the client, and `space join` following a bootstrap to the end.
@Suite struct CommandRunTests {
    static let key = String(repeating: "ab", count: 32)

    /// A node whose space goes from discovering to live over a few polls.
    actor JoiningControl: PeerControl {
        private(set) var joins: [JoinSpaceRequest] = []
        private(set) var polls = 0
        private(set) var puts: [String: PutObjectRequest] = [:]

        static func status(_ phase: BootstrapProgress.Phase, ready: Bool) -> SpaceStatus {
            let progress = BootstrapProgress(
                phase: phase, fromSnapshot: true, chunksDone: phase == .discovering ? 0 : 4, chunksTotal: 4, bytesDone: 4096,
                bytesTotal: 4096, snapshotEntries: 100, entriesStored: 100, entriesKnown: 120, elapsedSeconds: 0.5,
                readySeconds: ready ? 0.4 : nil)
            return SpaceStatus(
                space: key, trust: "member", writer: false, ready: ready, entries: 100, frontier: [:], stateRoot: "", objects: 1,
                neighbours: [], newestSnapshot: nil, bootstrap: progress)
        }

        func joinSpace(_ request: JoinSpaceRequest) async throws(ControlError) -> SpaceStatus {
            joins.append(request)
            return Self.status(.discovering, ready: false)
        }

        func space(_ space: String) async throws(ControlError) -> SpaceStatus {
            polls += 1
            let script: [(BootstrapProgress.Phase, Bool)] = [(.discovering, false), (.downloading, false), (.catchingUp, true), (.live, true)]
            let (phase, ready) = script[min(polls - 1, script.count - 1)]
            return Self.status(phase, ready: ready)
        }

        func put(_ id: String, _ request: PutObjectRequest, in space: String) async throws(ControlError) -> WriteResult {
            puts[id] = request
            return WriteResult(space: space, feed: key, seq: 1, entries: 1)
        }

        private func unscripted() -> ControlError { ControlError(.internal, "not scripted in this test") }
        func status() async throws(ControlError) -> NodeStatus { throw unscripted() }
        func spaces() async throws(ControlError) -> [SpaceStatus] { throw unscripted() }
        func createSpace() async throws(ControlError) -> SpaceStatus { throw unscripted() }
        func dropSpace(_ space: String) async throws(ControlError) { throw unscripted() }
        func admit(_ writer: String, to space: String) async throws(ControlError) -> WriteResult { throw unscripted() }
        func putBatch(_ request: PutBatchRequest, in space: String) async throws(ControlError) -> WriteResult { throw unscripted() }
        func get(_ id: String, in space: String) async throws(ControlError) -> ObjectInfo {
            throw ControlError(.notFound, "no object \(id)", hint: "list the space's objects")
        }
        func delete(_ id: String, in space: String) async throws(ControlError) -> WriteResult { throw unscripted() }
        func list(in space: String, query: ListQuery) async throws(ControlError) -> ObjectPage { throw unscripted() }
        func snapshotNow(in space: String) async throws(ControlError) -> SnapshotInfo { throw unscripted() }
        func metricsText() async -> String { "" }
    }

    /// A server for `control` with its control.json in a fresh data directory.
    func withDaemon(_ control: JoiningControl, _ body: (String) async throws -> Void) async throws {
        try await withTemporaryDirectory { data in
            let token = ControlEndpoint.makeToken()
            let server = ControlServer(control: control, token: token, logger: Logger(label: "cli-test") { _ in SwiftLogNoOpLogHandler() })
            let (ports, bound) = AsyncStream.makeStream(of: Int.self)
            let running = Task {
                try await server.run(port: 0) { port throws(ControlError) in
                    try ControlEndpoint(port: port, token: token).write(to: data)
                    bound.yield(port)
                }
            }
            var iterator = ports.makeAsyncIterator()
            _ = await iterator.next()
            do {
                try await body(data)
            } catch {
                server.shutdown()
                _ = try? await running.value
                throw error
            }
            server.shutdown()
            try await running.value
        }
    }

    @Test func joinFollowsTheBootstrapUntilLive() async throws {
        let control = JoiningControl()
        try await withDaemon(control) { data in
            let join = try SpaceCommand.Join.parse([Self.key, "--trust", "replay", "--contact", "127.0.0.1:9", "--data", data])
            try await join.run()
        }
        #expect(await control.joins == [JoinSpaceRequest(space: Self.key, trust: "replay", contacts: ["127.0.0.1:9"])])
        #expect(await control.polls == 4)
    }

    @Test func putSendsParsedFields() async throws {
        let control = JoiningControl()
        try await withDaemon(control) { data in
            try await PutCommand.parse([Self.key, "doc", "n=3", "s=\"3\"", "b=0x01", "--parent", "root", "--data", data]).run()
        }
        let put = await control.puts["doc"]
        #expect(put == PutObjectRequest(fields: ["n": .int(3), "s": .string("3"), "b": .bytes([1])], parent: "root"))
    }

    @Test func daemonErrorsExitNonZero() async throws {
        let control = JoiningControl()
        try await withDaemon(control) { data in
            await #expect(throws: ExitCode(1)) { try await GetCommand.parse([Self.key, "missing", "--data", data]).run() }
            await #expect(throws: ExitCode(1)) { try await GetCommand.parse(["not-a-key", "x", "--data", data]).run() }
        }
    }

    @Test func noDaemonExitsNonZero() async throws {
        try await withTemporaryDirectory { data in
            _ = await #expect(throws: ExitCode(1)) { try await StatusCommand.parse(["--data", data]).run() }
        }
    }
}
