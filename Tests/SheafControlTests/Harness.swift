import Foundation
import Logging
import NIOCore
import NIOPosix
import SheafControl

let testToken = "test-token-0123456789"

func quietLogger() -> Logger { Logger(label: "control-test") { _ in SwiftLogNoOpLogHandler() } }

struct HarnessError: Error, CustomStringConvertible {
    let description: String
}

/// A control server on 127.0.0.1 with a free port and a `RecordingControl`,
/// shut down (and awaited) after `body`.
func withServer<R>(
    limits: ControlServerLimits = testLimits(), _ body: (ControlServer, Int, RecordingControl) async throws -> R
) async throws -> R {
    let control = RecordingControl()
    let server = ControlServer(control: control, token: testToken, logger: quietLogger(), limits: limits)
    let (ports, bound) = AsyncStream.makeStream(of: Int.self)
    let running = Task {
        defer { bound.finish() }
        try await server.run(port: 0) { port in bound.yield(port) }
    }
    var iterator = ports.makeAsyncIterator()
    guard let port = await iterator.next() else {
        try await running.value
        throw HarnessError(description: "the server did not bind")
    }
    do {
        let result = try await body(server, port, control)
        server.shutdown()
        try await running.value
        return result
    } catch {
        server.shutdown()
        _ = try? await running.value
        throw error
    }
}

/// Short timeouts, so a test that goes wrong ends instead of hanging.
func testLimits() -> ControlServerLimits {
    var limits = ControlServerLimits()
    limits.requestTimeout = .seconds(10)
    limits.idleTimeout = .seconds(10)
    return limits
}

func client(_ port: Int, token: String = testToken) -> ControlClient {
    ControlClient(port: port, token: token, requestTimeout: .seconds(20))
}

/// Bytes on a socket, for what ControlClient will not send: requests
/// without a token, broken JSON, chunked bodies, unknown methods.
enum RawHTTP {
    struct Reply {
        var status: Int
        var headers: [String: String]
        var body: String
    }

    static func send(_ request: String, port: Int) async throws -> Reply? {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            try await outbound.write(ByteBuffer(string: request))
            var received = [UInt8]()
            for try await chunk in inbound {
                received += chunk.readableBytesView
                if let reply = parse(received) { return reply }
            }
            return parse(received)
        }
    }

    static func request(_ method: String, _ target: String, token: String? = testToken, body: String? = nil) -> String {
        var text = "\(method) \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        if let token { text += "Authorization: Bearer \(token)\r\n" }
        if let body { text += "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n" }
        return text + "\r\n" + (body ?? "")
    }

    /// A whole final reply (head and Content-Length body) after any 1xx
    /// interim ones, or nil if incomplete.
    static func parse(_ bytes: [UInt8]) -> Reply? {
        var text = String(decoding: bytes, as: UTF8.self)
        while text.hasPrefix("HTTP/1.1 1"), let interim = text.range(of: "\r\n\r\n") { text = String(text[interim.upperBound...]) }
        guard let end = text.range(of: "\r\n\r\n") else { return nil }
        let lines = text[..<end.lowerBound].components(separatedBy: "\r\n")
        guard let statusLine = lines.first, let status = Int(statusLine.split(separator: " ").dropFirst().first ?? "") else { return nil }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let body = String(text[end.upperBound...])
        guard body.utf8.count >= Int(headers["content-length"] ?? "0") ?? 0 else { return nil }
        return Reply(status: status, headers: headers, body: body)
    }
}
