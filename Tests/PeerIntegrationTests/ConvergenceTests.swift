import PeerCluster
import SheafControl
import Testing

/// Daemons in separate processes, talking over loopback TCP.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct DaemonConvergenceTests {
    @Test func threeDaemonsConvergeOnOneStateRoot() async throws {
        let cluster = try DaemonCluster()
        defer { Task { await cluster.stopAll() } }
        let a = try await cluster.start("a")
        let b = try await cluster.start("b", join: [a.listen])
        let c = try await cluster.start("c", join: [a.listen, b.listen])
        let space = try await a.control().createSpace().space
        for node in [b, c] {
            _ = try await node.control().joinSpace(JoinSpaceRequest(space: space))
            _ = try await a.control().admit(try await node.control().status().node, to: space)
        }
        for node in [b, c] {
            try await DaemonCluster.eventually("\(node.name) may write") {
                let status = try await node.control().space(space)
                return status.writer && status.ready
            }
        }

        // Each writes its own objects and one shared object's field.
        for (index, node) in [a, b, c].enumerated() {
            let puts = (0..<300).map { PutBatchRequest.Put(id: "n\(index)-\($0)", fields: ["v": .int(Int64($0))]) }
            _ = try await node.control().putBatch(PutBatchRequest(puts: puts), in: space)
            _ = try await node.control().put("shared", PutObjectRequest(fields: ["by": .string(node.name)]), in: space)
        }
        try await DaemonCluster.eventually("the three daemons converge") {
            let statuses = try await [a, b, c].asyncMap { try await $0.control().space(space) }
            return Set(statuses.map(\.stateRoot)).count == 1 && statuses.allSatisfy { $0.objects == 901 }
        }
        // The creator's metrics count its own writes (300 + 1 puts, 2 admissions)
        // and the others' entries it applied (301 each).
        let metrics = await (try a.control()).metricsText()
        #expect(metrics.contains("sheaf_entries_appended_total 303"))
        let applied = metrics.split(separator: "\n").first { $0.hasPrefix("sheaf_entries_applied_total ") }
        #expect((applied?.split(separator: " ").last.flatMap { Double($0) } ?? 0) >= 602)
        // Every node answers queries for every node's writes.
        for node in [a, b, c] {
            #expect(try await node.control().get("n2-299", in: space).fields["v"] == .int(299))
            #expect(try await node.control().list(in: space, query: ListQuery(limit: 10_000)).objects.count == 901)
        }
        await cluster.stopAll()
    }

    @Test func acknowledgedWritesSurviveKillNine() async throws {
        let cluster = try DaemonCluster()
        defer { Task { await cluster.stopAll() } }
        let a = try await cluster.start("a")
        let space = try await a.control().createSpace().space
        let writer = try a.control()

        // Writes stream in; the daemon is killed while they do.
        let acknowledged = AcknowledgedWrites()
        let stream = Task {
            var n = 0
            while !Task.isCancelled {
                do {
                    _ = try await writer.put("k\(n)", PutObjectRequest(fields: ["n": .int(Int64(n))]), in: space)
                    await acknowledged.add(n)
                } catch { return }
                n += 1
            }
        }
        try await DaemonCluster.eventually("some writes are acknowledged") { await acknowledged.count >= 200 }
        a.kill9()
        await a.waitForExit()
        stream.cancel()
        _ = await stream.value

        let restarted = try await cluster.start("a")
        let keys = await acknowledged.all
        #expect(keys.count >= 200)
        let page = try await restarted.control().list(in: space, query: ListQuery(limit: 10_000))
        let stored = Set(page.objects.map(\.id))
        let lost = keys.filter { !stored.contains("k\($0)") }
        #expect(lost.isEmpty, "acknowledged writes lost across kill -9: \(lost.prefix(10))")
        for n in keys.suffix(5) { #expect(try await restarted.control().get("k\(n)", in: space).fields["n"] == .int(Int64(n))) }
        await cluster.stopAll()
    }
}

actor AcknowledgedWrites {
    private var keys: [Int] = []
    func add(_ n: Int) { keys.append(n) }
    var count: Int { keys.count }
    var all: [Int] { keys }
}

extension Array {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var out: [T] = []
        for element in self { out.append(try await transform(element)) }
        return out
    }
}
