import Logging
import SheafCrypto
import SheafTransport
import Synchronization

// Loopback throughput of application frames between two Transports in one
// process: the receiver counts payload bytes; the sender keeps at most
// `window` bytes in flight so its per-peer queue never overflows.
//
//   swift run -c release transport-bench [frame-bytes] [total-MiB]

final class Sink: TransportDelegate {
    let received = Atomic<Int>(0)
    let connected = Atomic<Int>(0)
    func transportConnected(peer: PublicKey, session: Hash, outbound: Bool, address: String) async {
        connected.add(1, ordering: .relaxed)
    }
    func transportDisconnected(peer: PublicKey, reason: String) async {}
    func transportConnectFailed(address: String, reason: String) async { print("connect failed: \(reason)") }
    func transportReceived(frame: [UInt8], from peer: PublicKey) async {
        received.add(frame.count, ordering: .relaxed)
    }
}

let arguments = CommandLine.arguments.dropFirst().compactMap { Int($0) }
let frameBytes = arguments.first ?? 64 << 10
let totalBytes = (arguments.dropFirst().first ?? 2048) << 20
let window = 32 << 20

var logger = Logger(label: "transport-bench")
logger.logLevel = .warning
let serverSink = Sink(), clientSink = Sink()
let server = Transport(identity: KeyPair(), logger: logger, delegate: serverSink)
let client = Transport(identity: KeyPair(), logger: logger, delegate: clientSink)
let bound = try await server.listen(host: "127.0.0.1", port: 0)
client.connect(to: "127.0.0.1:\(bound.port)", persistent: false)
while clientSink.connected.load(ordering: .relaxed) == 0 || serverSink.connected.load(ordering: .relaxed) == 0 {
    try await Task.sleep(for: .milliseconds(5))
}

let frame = [UInt8](repeating: 0xA5, count: frameBytes)
let frames = max(1, totalBytes / frameBytes)
let clock = ContinuousClock()
let start = clock.now
var sent = 0
for _ in 0..<frames {
    while sent - serverSink.received.load(ordering: .relaxed) > window {
        try await Task.sleep(for: .microseconds(200))
    }
    client.send(frame, to: server.identity.publicKey)
    sent += frameBytes
}
while serverSink.received.load(ordering: .relaxed) < sent {
    try await Task.sleep(for: .microseconds(200))
}
let elapsed = clock.now - start
let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
let mb = Double(sent) / 1e6
print("transport-bench: \(frames) frames of \(frameBytes) bytes, \(Int(mb)) MB in \(Double(Int(seconds * 100)) / 100) s = \(Int(mb / seconds)) MB/s application payload")
await client.shutdown()
await server.shutdown()
