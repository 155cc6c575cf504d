import Foundation
import SheafControl
import Testing

/// What the server refuses, and that refusing one client harms no other.
@Suite struct ServerBoundaryTests {
    let space = RecordingControl.space

    @Test func tokenIsRequiredExceptForHealthAndMetrics() async throws {
        try await withServer { _, port, control in
            let missing = try #require(try await RawHTTP.send(RawHTTP.request("GET", "/v1/status", token: nil), port: port))
            #expect(missing.status == 401)
            #expect(missing.headers["www-authenticate"] == "Bearer")
            #expect(missing.body.contains(#""code":"unauthorized""#))
            let wrong = await #expect(throws: ControlError.self) { try await client(port, token: "wrong").status() }
            #expect(wrong?.code == .unauthorized)
            let prefix = await #expect(throws: ControlError.self) { try await client(port, token: String(testToken.dropLast())).status() }
            #expect(prefix?.code == .unauthorized)
            let health = try #require(try await RawHTTP.send(RawHTTP.request("GET", "/v1/health", token: nil), port: port))
            #expect(health.status == 200)
            let metrics = try #require(try await RawHTTP.send(RawHTTP.request("GET", "/metrics", token: nil), port: port))
            #expect(metrics.status == 200)
            #expect(metrics.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8")
            #expect(await control.calls == ["metrics"])
        }
    }

    @Test func malformedJSONIsABadRequestSayingWhat() async throws {
        try await withServer { _, port, control in
            let target = ControlRoute.putObject(space: space, id: "x").target
            let broken = try #require(try await RawHTTP.send(RawHTTP.request("PUT", target, body: "{\"fields\": {"), port: port))
            #expect(broken.status == 400)
            let error = try JSONDecoder().decode(ErrorBody.self, from: Data(broken.body.utf8)).error
            #expect(error.code == .badRequest)
            #expect(error.message.contains("not valid"), "\(error.message)")
            let wrongType = try #require(try await RawHTTP.send(RawHTTP.request("PUT", target, body: #"{"fields": {"a": [1]}}"#), port: port))
            #expect(wrongType.status == 400)
            #expect(wrongType.body.contains("fields.a"), "\(wrongType.body)")
            let empty = try #require(try await RawHTTP.send(RawHTTP.request("PUT", target), port: port))
            #expect(empty.status == 400)
            #expect(await control.calls.isEmpty)
        }
    }

    @Test func unknownRoutesAndMethods() async throws {
        try await withServer { _, port, _ in
            let unknown = try #require(try await RawHTTP.send(RawHTTP.request("GET", "/v1/nothing"), port: port))
            #expect(unknown.status == 404)
            #expect(unknown.body.contains(#""code":"not_found""#))
            let method = try #require(try await RawHTTP.send(RawHTTP.request("GET", "/v1/spaces/join"), port: port))
            #expect(method.status == 405)
            #expect(method.headers["allow"] == "POST")
            let patch = try #require(try await RawHTTP.send(RawHTTP.request("PATCH", "/v1/spaces"), port: port))
            #expect(patch.status == 405)
            #expect(patch.headers["allow"] == "GET, POST")
        }
    }

    @Test func oversizeBodyIs413AndOthersCarryOn() async throws {
        var limits = testLimits()
        limits.batchBodyBytes = 4096
        limits.smallBodyBytes = 1024
        try await withServer(limits: limits) { server, port, control in
            let bulk = client(port)
            let other = client(port)
            _ = try await other.status()
            let batch = PutBatchRequest(puts: (0..<200).map { .init(id: "object-\($0)", fields: ["i": .int(Int64($0))]) })
            let refused = await #expect(throws: ControlError.self) { try await bulk.putBatch(batch, in: space) }
            #expect(refused?.code == .tooLarge)
            // The refused client reconnects; the other kept its connection.
            #expect(try await bulk.putBatch(PutBatchRequest(puts: Array(batch.puts.prefix(10))), in: space).entries == 10)
            _ = try await other.status()
            // A chunked body without Content-Length is cut off as it crosses the limit.
            let target = ControlRoute.joinSpace.target
            let chunk = String(repeating: " ", count: 700)
            let chunked = "POST \(target) HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \(testToken)\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "2bc\r\n\(chunk)\r\n2bc\r\n\(chunk)\r\n0\r\n\r\n"
            let cut = try #require(try await RawHTTP.send(chunked, port: port))
            #expect(cut.status == 413)
            #expect(cut.headers["connection"] == "close")
            #expect(await control.calls == ["status", "batch 10", "status"])
            #expect(server.openConnections >= 1)
        }
    }

    @Test func expectContinueIsAnswered() async throws {
        try await withServer { _, port, control in
            let body = #"{"writer":"\#(RecordingControl.writer)"}"#
            let request = RawHTTP.request("POST", ControlRoute.admitWriter(space: space).target, body: body)
                .replacingOccurrences(of: "\r\n\r\n", with: "\r\nExpect: 100-continue\r\n\r\n")
            let reply = try #require(try await RawHTTP.send(request, port: port))
            #expect(reply.status == 200)
            #expect(await control.calls == ["admit \(RecordingControl.writer) \(space)"])
        }
    }

    @Test func unauthenticatedRequestsGetTheSmallLimit() async throws {
        var limits = testLimits()
        limits.smallBodyBytes = 100
        try await withServer(limits: limits) { _, port, _ in
            let body = String(repeating: "x", count: 500)
            let target = ControlRoute.putBatch(space: space).target
            let reply = try #require(try await RawHTTP.send(RawHTTP.request("POST", target, token: nil, body: body), port: port))
            #expect(reply.status == 413)
        }
    }

    @Test func shutdownLetsARequestInFlightFinish() async throws {
        let control = RecordingControl()
        await control.hold()
        let server = ControlServer(control: control, token: testToken, logger: quietLogger(), limits: testLimits())
        let (ports, bound) = AsyncStream.makeStream(of: Int.self)
        let running = Task { try await server.run(port: 0) { port in bound.yield(port) } }
        var iterator = ports.makeAsyncIterator()
        let port = try #require(await iterator.next())
        let idle = client(port)
        _ = try await idle.status()
        let busy = client(port)
        let snapshot = Task { try await busy.snapshotNow(in: space) }
        var polls = 0
        while await !control.isHeld, polls < 2000 {
            try await Task.sleep(for: .milliseconds(5))
            polls += 1
        }
        #expect(await control.isHeld)
        server.shutdown()
        await control.release()
        #expect(try await snapshot.value == RecordingControl.snapshot)
        try await running.value
        #expect(server.openConnections == 0)
        let after = await #expect(throws: ControlError.self) { try await client(port).status() }
        #expect(after?.code == .unavailable)
    }

    @Test func refusesHostsOutsideLoopback() async {
        let server = ControlServer(control: RecordingControl(), token: testToken, logger: quietLogger())
        let refused = await #expect(throws: ControlError.self) { try await server.run(host: "0.0.0.0", port: 0) }
        #expect(refused?.code == .badRequest)
    }

    @Test func noDaemonIsAClearError() async throws {
        // A port that was just free: bind, note it, stop.
        let port = try await withServer { _, port, _ in port }
        let error = await #expect(throws: ControlError.self) { try await client(port).status() }
        #expect(error?.code == .unavailable)
        #expect(error?.message.hasPrefix("no daemon answers at 127.0.0.1:\(port)") == true, "\(error?.message ?? "")")
        #expect(error?.hint?.contains("peer run") == true)
    }
}
