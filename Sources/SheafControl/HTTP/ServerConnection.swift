import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// One client connection: reads requests one at a time, each body bounded by
/// its route's limit before it is buffered, and answers each in turn.
struct ServerConnection {
    let id: Int
    let server: ControlServer
    private var service: ControlService { server.service }
    private var limits: ControlServerLimits { server.limits }
    private var logger: Logger { server.logger }

    /// A request being received: its route (or why it has none) and its body so far.
    private struct Incoming {
        var head: HTTPRequestHead
        var route: Result<ControlRoute, ControlError>
        var limit: Int
        var body = ByteBuffer()
    }

    func serve(_ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>) async {
        do {
            try await connection.executeThenClose { inbound, outbound in
                var incoming: Incoming?
                for try await part in inbound {
                    switch part {
                    case .head(let head):
                        server.requestStarted(id)
                        let request = start(head)
                        if let declared = head.headers.first(name: "content-length").flatMap(Int.init), declared > request.limit {
                            try await reply(.error(tooLarge(request.limit)), to: head, keepAlive: false, outbound)
                            return
                        }
                        if head.headers.first(name: "expect")?.lowercased() == "100-continue" {
                            try await outbound.write(.head(HTTPResponseHead(version: head.version, status: .continue)))
                        }
                        incoming = request
                    case .body(let chunk):
                        guard var request = incoming else { continue }
                        incoming = nil
                        guard request.body.readableBytes + chunk.readableBytes <= request.limit else {
                            try await reply(.error(tooLarge(request.limit)), to: request.head, keepAlive: false, outbound)
                            return
                        }
                        request.body.writeImmutableBuffer(chunk)
                        incoming = request
                    case .end:
                        guard let request = incoming else { continue }
                        incoming = nil
                        let response = await respond(to: request)
                        let closing = server.requestFinished(id) || !request.head.isKeepAlive
                        try await reply(response, to: request.head, keepAlive: !closing, outbound)
                        if closing { return }
                    }
                }
            }
        } catch {
            logger.debug("control connection ended: \(error)")
        }
    }

    /// Routes and authorizes from the head alone, so the body limit is known
    /// before any body arrives; a request without a valid token gets the
    /// small limit whatever its route.
    private func start(_ head: HTTPRequestHead) -> Incoming {
        var route = Result<ControlRoute, ControlError> { () throws(ControlError) in
            try ControlRoute.match(method: head.method.rawValue, target: head.uri)
        }
        if case .success(let matched) = route, matched.requiresToken {
            do {
                try service.authorize(head.headers.first(name: "authorization"))
            } catch {
                route = .failure(error)
            }
        }
        let limit = (try? route.get()).map(limits.bodyLimit(for:)) ?? limits.smallBodyBytes
        return Incoming(head: head, route: route, limit: limit)
    }

    private func respond(to request: Incoming) async -> ControlResponse {
        switch request.route {
        case .failure(let error):
            var response = ControlResponse.error(error)
            if error.code == .methodNotAllowed {
                let allowed = ControlRoute.allowedMethods(target: request.head.uri).map(\.rawValue)
                response.headers.append(("Allow", allowed.joined(separator: ", ")))
            }
            return response
        case .success(let route):
            let response = await service.respond(to: route, body: Data(request.body.readableBytesView))
            logger.debug("control request", metadata: ["method": "\(request.head.method.rawValue)", "status": "\(response.status)"])
            return response
        }
    }

    private func reply(
        _ response: ControlResponse, to head: HTTPRequestHead, keepAlive: Bool,
        _ outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>
    ) async throws {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: response.contentType)
        headers.add(name: "Content-Length", value: String(response.body.count))
        headers.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        for (name, value) in response.headers { headers.add(name: name, value: value) }
        let status = HTTPResponseStatus(statusCode: response.status)
        try await outbound.write(contentsOf: [
            .head(HTTPResponseHead(version: head.version, status: status, headers: headers)),
            .body(.byteBuffer(ByteBuffer(bytes: response.body))),
            .end(nil),
        ])
    }

    private func tooLarge(_ limit: Int) -> ControlError {
        ControlError(
            .tooLarge, "the request body is over this route's limit of \(limit) bytes",
            hint: "split a bulk load into batches under the limit (docs/API.md lists them)")
    }
}
