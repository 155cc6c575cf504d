import SheafControl
import SheafModels
import Testing

/// Every route over loopback, through the client, against a recording node.
@Suite struct ServerRouteTests {
    let space = RecordingControl.space
    let writer = RecordingControl.writer

    @Test func nodeAndSpaceRoutes() async throws {
        try await withServer { _, port, control in
            let client = client(port)
            #expect(try await client.health() == HealthStatus(ok: true))
            #expect(try await client.status().spaces == [RecordingControl.spaceStatus])
            #expect(try await client.spaces() == [RecordingControl.spaceStatus])
            #expect(try await client.space(space) == RecordingControl.spaceStatus)
            #expect(try await client.createSpace().space == space)
            let join = JoinSpaceRequest(space: space.uppercased(), trust: "quorum:2", contacts: ["127.0.0.1:7001"])
            #expect(try await client.joinSpace(join).space == space)
            try await client.dropSpace(space)
            #expect(try await client.admit(writer, to: space).entries == 1)
            #expect(try await client.snapshotNow(in: space) == RecordingControl.snapshot)
            #expect(try await client.metrics().contains("sheaf_test_total 1"))
            #expect(await control.calls == [
                "status", "spaces", "space \(space)", "create", "join \(space) quorum:2 [\"127.0.0.1:7001\"]", "drop \(space)",
                "admit \(writer) \(space)", "snapshot \(space)", "metrics",
            ])
            await client.close()
        }
    }

    @Test func objectRoutes() async throws {
        try await withServer { _, port, control in
            let client = client(port)
            let fields: [String: FieldValue] = ["n": .int(7), "d": .double(7), "b": .bytes([9]), "s": .string("x"), "z": .null]
            let put = try await client.put("doc 1", PutObjectRequest(fields: fields, parent: "root"), in: space)
            #expect(put == WriteResult(space: space, feed: writer, seq: 42, entries: 1))
            #expect(await control.lastPut?.fields == fields)
            let object = try await client.get("doc 1", in: space)
            #expect(object.fields["b"] == .bytes([1, 2]))
            #expect(try await client.delete("doc 1", in: space).entries == 1)
            let page = try await client.list(in: space, query: ListQuery(parent: "root", after: "b", limit: 5))
            #expect(page.next == "a")
            _ = try await client.list(in: space, query: ListQuery())
            let batch = PutBatchRequest(puts: (0..<100).map { .init(id: "o\($0)", fields: ["i": .int(Int64($0))]) })
            #expect(try await client.putBatch(batch, in: space).entries == 100)
            #expect(await control.calls == [
                "put doc 1 [\"b\", \"d\", \"n\", \"s\", \"z\"] parent=root", "get doc 1", "delete doc 1",
                "list parent=root after=b limit=5", "list parent=- after=- limit=-", "batch 100",
            ])
        }
    }

    @Test(arguments: RouteTests.ids) func percentEncodedIdsArriveWhole(_ id: String) async throws {
        try await withServer { _, port, control in
            let client = client(port)
            let object = try await client.get(id, in: space)
            #expect(object.id == id)
            #expect(await control.calls == ["get \(id)"])
        }
    }

    @Test func nodeErrorsArriveWithCodeMessageAndHint() async throws {
        try await withServer { _, port, _ in
            let client = client(port)
            await #expect(throws: ControlError(.notFound, "no object missing", hint: "list the space's objects")) {
                try await client.get("missing", in: space)
            }
            await #expect(throws: ControlError(.notFound, "no space \(RecordingControl.unknownSpace)", hint: "join it first")) {
                try await client.space(RecordingControl.unknownSpace)
            }
            let badKey = await #expect(throws: ControlError.self) { try await client.space("not-a-key") }
            #expect(badKey?.code == .badRequest)
            let emptyBatch = await #expect(throws: ControlError.self) { try await client.putBatch(PutBatchRequest(puts: []), in: space) }
            #expect(emptyBatch?.code == .badRequest)
        }
    }

    @Test func oneConnectionServesManyRequests() async throws {
        try await withServer { server, port, _ in
            let client = client(port)
            for _ in 0..<50 { _ = try await client.status() }
            #expect(server.openConnections == 1)
            // Concurrent callers take turns on the same connection.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<8 { group.addTask { _ = try await client.spaces() } }
                try await group.waitForAll()
            }
            #expect(server.openConnections == 1)
        }
    }
}
