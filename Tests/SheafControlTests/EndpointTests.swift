#if canImport(Glibc)
import Glibc
#endif
import SheafControl
import SheafTestSupport
import Testing

/// control.json: written private and whole, read back, and every way of
/// not finding a daemon explained.
@Suite struct EndpointTests {
    @Test func writesPrivatelyAndReadsBack() throws {
        try withTemporaryDirectory { data in
            let endpoint = ControlEndpoint(port: 7123, token: ControlEndpoint.makeToken())
            try endpoint.write(to: data)
            #expect(try ControlEndpoint.read(from: data) == endpoint)
            var info = stat()
            #expect(stat(ControlEndpoint.path(in: data), &info) == 0)
            #expect(info.st_mode & 0o777 == 0o600)
            #expect(endpoint.token.count == 64)
            #expect(endpoint.pid == getpid())
        }
    }

    @Test func missingFileSaysNoDaemonAndHowToStartOne() throws {
        try withTemporaryDirectory { data in
            let error = #expect(throws: ControlError.self) { try ControlEndpoint.read(from: data) }
            #expect(error?.code == .unavailable)
            #expect(error?.message == "no daemon is running for \(data) (no control.json)")
            #expect(error?.hint?.contains("peer run --data \(data)") == true)
        }
    }

    @Test func staysPrivateOverAStaleTemporaryFile() throws {
        try withTemporaryDirectory { data in
            // Left world-readable by a crash between create and rename.
            let temporary = ControlEndpoint.path(in: data) + ".tmp"
            try RawFile.write(Array("old".utf8), to: temporary)
            #expect(chmod(temporary, 0o666) == 0)
            let endpoint = ControlEndpoint(port: 7124, token: ControlEndpoint.makeToken())
            try endpoint.write(to: data)
            #expect(try ControlEndpoint.read(from: data) == endpoint)
            var info = stat()
            #expect(stat(ControlEndpoint.path(in: data), &info) == 0)
            #expect(info.st_mode & 0o777 == 0o600)
            #expect(!RawFile.exists(temporary))
        }
    }

    @Test func stalePidIsReportedAsStale() throws {
        try withTemporaryDirectory { data in
            // Above Linux's largest pid, so no process has it.
            try ControlEndpoint(port: 1, token: "t", pid: Int32.max - 1).write(to: data)
            let error = #expect(throws: ControlError.self) { try ControlEndpoint.read(from: data) }
            #expect(error?.code == .unavailable)
            #expect(error?.message.contains("no longer running") == true)
        }
    }

    @Test func garbageFileIsReported() throws {
        try withTemporaryDirectory { data in
            try RawFile.write(Array("{\"port\":".utf8), to: ControlEndpoint.path(in: data))
            let error = #expect(throws: ControlError.self) { try ControlEndpoint.read(from: data) }
            #expect(error?.message.contains("is not a control endpoint") == true)
        }
    }

    @Test func removeLeavesAnotherDaemonsFile() throws {
        try withTemporaryDirectory { data in
            try ControlEndpoint(port: 1, token: "t", pid: 1).write(to: data)
            ControlEndpoint.remove(from: data)
            #expect(try ControlEndpoint.read(from: data).pid == 1)
            try ControlEndpoint(port: 1, token: "t").write(to: data)
            ControlEndpoint.remove(from: data)
            #expect(throws: ControlError.self) { try ControlEndpoint.read(from: data) }
        }
    }

    @Test func defaultDataDirectory() {
        #expect(ControlEndpoint.defaultDataDirectory(environment: ["SHEAF_DATA": "/srv/sheaf", "HOME": "/home/a"]) == "/srv/sheaf")
        #expect(ControlEndpoint.defaultDataDirectory(environment: ["HOME": "/home/a"]) == "/home/a/.sheaf")
    }
}
