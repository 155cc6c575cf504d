import NIOCore
import NIOHTTP1

/// One request handed to the connection, with the promise its reply fulfils.
struct ClientExchange: Sendable {
    var head: HTTPRequestHead
    var body: ByteBuffer
    var reply: EventLoopPromise<ClientReplyParts>
}

struct ClientReplyParts: Sendable {
    var head: HTTPResponseHead
    var body: ByteBuffer
}

/// Why an exchange failed below HTTP; the client turns these into `ControlError`s.
enum ClientFailure: Error {
    /// The connection closed; `answered` if part of a reply had arrived.
    case closed(answered: Bool)
    case timedOut
    case replyTooLarge(Int)
    case busy
}

/// Writes one request at a time and gathers its reply (bounded) into one
/// value. Lives on the channel's event loop, like every handler.
final class ClientExchangeHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = ClientExchange
    typealias OutboundOut = HTTPClientRequestPart

    private let maxReplyBytes: Int
    private var pending: EventLoopPromise<ClientReplyParts>?
    private var head: HTTPResponseHead?
    private var body = ByteBuffer()

    init(maxReplyBytes: Int) { self.maxReplyBytes = maxReplyBytes }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let exchange = unwrapOutboundIn(data)
        guard pending == nil else {
            exchange.reply.fail(ClientFailure.busy)
            promise?.fail(ClientFailure.busy)
            return
        }
        pending = exchange.reply
        head = nil
        body.clear()
        context.write(wrapOutboundOut(.head(exchange.head)), promise: nil)
        if exchange.body.readableBytes > 0 {
            context.write(wrapOutboundOut(.body(.byteBuffer(exchange.body))), promise: nil)
        }
        context.write(wrapOutboundOut(.end(nil)), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let received):
            head = received
        case .body(let chunk):
            guard body.readableBytes + chunk.readableBytes <= maxReplyBytes else {
                fail(ClientFailure.replyTooLarge(maxReplyBytes))
                context.close(promise: nil)
                return
            }
            body.writeImmutableBuffer(chunk)
        case .end:
            guard let promise = pending, let head else { return }
            pending = nil
            promise.succeed(ClientReplyParts(head: head, body: body))
            body = ByteBuffer()
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(ClientFailure.closed(answered: head != nil))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(error)
        context.close(promise: nil)
    }

    private func fail(_ error: any Error) {
        pending?.fail(error)
        pending = nil
    }
}
