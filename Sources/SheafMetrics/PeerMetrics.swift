import CoreMetrics
import Prometheus
import Synchronization

// CoreMetrics has types of the same names; these are the registry's own.
private typealias Counter = Prometheus.Counter
private typealias Gauge = Prometheus.Gauge

/// The daemon's instruments, kept in a registry of its own that renders the
/// Prometheus text for `GET /metrics`. Nothing here touches the global
/// `MetricsSystem`: a process (or a test) may hold many nodes, each with its
/// own `PeerMetrics`. A daemon that wants other libraries' swift-metrics in
/// the same output may bootstrap with `factory` once, in its `main`.
///
/// Names follow Prometheus conventions: `sheaf_` prefix, unit suffix.
public final class PeerMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry

    private let appended: Counter
    private let applied: Counter
    private let bytesReceived: Counter
    private let bytesSent: Counter
    private let framesReceived: Counter
    private let framesSent: Counter
    private let forks: Counter
    private let frauds: Counter
    private let snapshotsMade: Counter
    private let snapshotsInstalled: Counter
    private let bootstrap: ValueHistogram
    private let neighbourCount: Gauge
    private let connectionCount: Gauge
    private let banned: Counter
    /// Failure kinds seen so far; past `maxFailureKinds` they count as "other",
    /// so a stream of odd kinds cannot grow the output without bound.
    private let failureKinds = Mutex<Set<String>>([])

    public static let maxFailureKinds = 32

    /// Bootstrap durations, from a fraction of a second (small space, by
    /// snapshot) to an hour (large space, by replay).
    public static let bootstrapBuckets: [Double] = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600]

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        func counter(_ name: String, _ unit: String, _ help: String) -> Counter {
            registry.makeCounter(descriptor: Self.name(name, unit, help))
        }
        func gauge(_ name: String, _ help: String) -> Gauge {
            registry.makeGauge(descriptor: Self.name(name, "", help))
        }
        appended = counter("entries_appended", "total", "Entries this node wrote to its own feeds.")
        applied = counter("entries_applied", "total", "Entries from any feed verified, stored and applied to state.")
        bytesReceived = counter("received", "bytes_total", "Bytes read from peer connections (after decryption).")
        bytesSent = counter("sent", "bytes_total", "Bytes written to peer connections (before encryption).")
        framesReceived = counter("frames_received", "total", "Frames received from peers.")
        framesSent = counter("frames_sent", "total", "Frames sent to peers.")
        forks = counter("forks_detected", "total", "Feeds caught signing two different heads for one seq.")
        frauds = counter("fraud_detected", "total", "Snapshot manifests whose signed root did not match their chunks.")
        snapshotsMade = counter("snapshots_made", "total", "Snapshots this node built.")
        snapshotsInstalled = counter("snapshots_installed", "total", "Snapshots installed from peers while joining.")
        banned = counter("peers_banned", "total", "Peers disconnected and banned for misbehaviour.")
        neighbourCount = gauge("neighbours", "Neighbours across all space overlays.")
        connectionCount = gauge("connections", "Open encrypted sessions with peers.")
        bootstrap = registry.makeValueHistogram(
            descriptor: Self.name("bootstrap_duration", "seconds", "Time from joining a space to it being queryable."),
            buckets: Self.bootstrapBuckets)
    }

    /// A swift-metrics factory over the same registry, for `MetricsSystem.bootstrap` in an executable.
    public var factory: any MetricsFactory { PrometheusMetricsFactory(registry: registry) }

    public func entriesAppended(_ count: Int) { add(appended, count) }
    public func entriesApplied(_ count: Int) { add(applied, count) }
    public func bytesIn(_ count: Int) { add(bytesReceived, count) }
    public func bytesOut(_ count: Int) { add(bytesSent, count) }
    public func framesIn(_ count: Int = 1) { add(framesReceived, count) }
    public func framesOut(_ count: Int = 1) { add(framesSent, count) }
    public func forkDetected() { forks.increment() }
    public func fraudDetected() { frauds.increment() }
    public func snapshotMade() { snapshotsMade.increment() }
    public func snapshotInstalled() { snapshotsInstalled.increment() }
    public func peerBanned() { banned.increment() }
    public func neighbours(_ count: Int) { neighbourCount.set(Double(count)) }
    public func connections(_ count: Int) { connectionCount.set(Double(count)) }

    /// A space became queryable `seconds` after joining.
    public func bootstrapCompleted(seconds: Double) {
        guard seconds.isFinite, seconds >= 0 else { return }
        bootstrap.record(seconds)
    }

    /// Something a peer sent failed verification; `kind` is a short fixed
    /// word such as a misbehaviour's name ("invalidSignature", "badChunk").
    public func verificationFailed(kind: String) {
        let label = failureKinds.withLock { kinds -> String in
            if kinds.contains(kind) { return kind }
            guard kinds.count < Self.maxFailureKinds else { return "other" }
            kinds.insert(kind)
            return kind
        }
        registry.makeCounter(
            descriptor: Self.name("verification_failures", "total", "Data from peers that failed verification, by kind."),
            labels: [("kind", label)]
        ).increment()
    }

    /// The Prometheus text exposition (format 0.0.4).
    public func render() -> String { registry.emitToString() }

    private func add(_ counter: Counter, _ count: Int) {
        guard count > 0 else { return }
        counter.increment(by: Int64(count))
    }

    private static func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "sheaf", metricName: metric, unitName: unit, helpText: help)
    }
}
