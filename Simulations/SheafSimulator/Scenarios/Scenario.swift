import Foundation
import SheafCrypto
import SheafProtocol

/// The scenarios `simulate` runs. Each builds a cluster from the seed, runs
/// it, checks the invariants, and reports one JSON object.
public enum Scenario: String, CaseIterable, Sendable {
    case bootstrap
    case convergence
    case churn
    case byzantine
    case scale
}

/// Every scenario's knobs; each scenario reads the ones it needs.
public struct ScenarioOptions: Sendable {
    public var seed: UInt64 = 1
    /// W1 entries in the space (bootstrap), or writes per writer (others).
    public var entries: Int?
    public var nodes: Int?
    /// Link bandwidth per node, bytes per second (uplink and downlink).
    public var bandwidth = 10_000_000
    public var latency: Duration = .milliseconds(50)
    public var loss: Double?
    /// Fraction of the history written after the snapshot (bootstrap).
    public var tail = 0.0
    /// Give up after this much simulated time.
    public var maxSimSeconds: Double = 600
    /// Draw frontier progress per node.
    public var svg = false

    public init() {}
}

/// What a run produced.
public struct ScenarioResult: Sendable {
    public var report: SimReport
    /// The invariant violations (empty when `ok`).
    public var violations: [String]
    public var svg: String?
}

extension Scenario {
    @MainActor
    public func run(_ options: ScenarioOptions) async throws -> ScenarioResult {
        let started = ContinuousClock.now
        var result: ScenarioResult
        switch self {
        case .bootstrap: result = try await BootstrapScenario(options: options).run()
        case .convergence: result = try await ConvergenceScenario(options: options).run()
        case .churn: result = try await ChurnScenario(options: options).run()
        case .byzantine: result = try await ByzantineScenario(options: options).run()
        case .scale: result = try await ScaleScenario(options: options).run()
        }
        let wall = ContinuousClock.now - started
        result.report["wall_seconds"] = .double(wall.seconds)
        return result
    }
}

/// Fields every scenario reports first, in this order.
@MainActor
func baseReport(_ scenario: Scenario, _ options: ScenarioOptions, _ cluster: Cluster, ok: Bool) -> SimReport {
    var report = SimReport()
    report["scenario"] = .string(scenario.rawValue)
    report["seed"] = .int(Int(truncatingIfNeeded: options.seed))
    report["ok"] = .bool(ok)
    report["trace_hash"] = .string(cluster.sim.traceHash.hex)
    report["sim_seconds"] = .double(cluster.sim.now.seconds)
    let stats = cluster.sim.stats
    // Simulated seconds per wall second inside the event loop (set-up and
    // the final checks excluded), and the events it processed.
    report["loop_speed"] = .double(stats.speedup)
    report["loop_cpu_seconds"] = .double(stats.cpuSeconds)
    report["events"] = .int(stats.total.eventsProcessed)
    return report
}

@MainActor
func progressChart(_ cluster: Cluster, title: String) -> String {
    SVGLineChart(title: title, xLabel: "simulated seconds", yLabel: "entries stored",
                 series: cluster.sim.chartSeries("entries")).render()
}

extension NodeTime {
    init(seconds: Double) { self.init(nanoseconds: UInt64(max(0, seconds) * 1e9)) }
}
