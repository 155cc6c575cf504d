import ArgumentParser
import Foundation
import SheafProtocol
import SheafSimulator

/// `simulate <scenario> --seed S [options] [--json]`: runs one scenario of the
/// deterministic network simulator. The last line printed is a JSON object
/// with `scenario`, `seed`, `ok`, `trace_hash`, `sim_seconds`,
/// `wall_seconds` and the scenario's figures; a failed run also prints
/// what broke and the command that reproduces it, and exits 1.
@main
struct Simulate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a scenario of Sheaf's deterministic network simulator.",
        discussion: "Scenarios: \(Scenario.allCases.map(\.rawValue).joined(separator: ", ")).")

    @Argument(help: "bootstrap, convergence, churn, byzantine or scale")
    var scenario: String

    @Option(help: "Seed of the run; the same seed reproduces it exactly.")
    var seed: UInt64 = 1

    @Option(help: "Run this many consecutive seeds, from --seed (each prints its JSON line).")
    var seeds: Int = 1

    @Option(help: "bootstrap: W1 entries in the space; others: writes per writer (scale: broadcasts).")
    var entries: Int?

    @Option(help: "Nodes (convergence, churn, scale) or honest nodes (byzantine).")
    var nodes: Int?

    @Option(help: "Bandwidth of every node's uplink and downlink, MB/s.")
    var bandwidth: Double = 10

    @Option(help: "One-way link latency, milliseconds.")
    var latency: Double = 50

    @Option(help: "Probability that a message is lost.")
    var loss: Double?

    @Option(help: "bootstrap: fraction of the history written after the snapshot.")
    var tail: Double = 0

    @Option(help: "Give up after this many simulated seconds.")
    var maxSimSeconds: Double = 600

    @Option(help: "Write an SVG chart of each node's stored entries over simulated time.")
    var svg: String?

    @Flag(help: "Print only the JSON line(s).")
    var json = false

    @Option(help: "Run the same seed this many times and check the trace hash repeats.")
    var repeatRuns: Int = 1

    mutating func run() async throws {
        guard let chosen = Scenario(rawValue: scenario) else {
            throw ValidationError("unknown scenario '\(scenario)'; choose one of \(Scenario.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        var failed = false
        for offset in 0..<max(1, seeds) {
            var options = ScenarioOptions()
            options.seed = seed &+ UInt64(offset)
            options.entries = entries
            options.nodes = nodes
            options.bandwidth = Int(bandwidth * 1_000_000)
            options.latency = .microseconds(Int64(latency * 1000))
            options.loss = loss
            options.tail = tail
            options.maxSimSeconds = maxSimSeconds
            options.svg = svg != nil
            var hashes: Set<String> = []
            var last: ScenarioResult?
            for _ in 0..<max(1, repeatRuns) {
                let result = try await chosen.run(options)
                if case .string(let hash)? = result.report["trace_hash"] { hashes.insert(hash) }
                last = result
            }
            guard var result = last else { continue }
            if hashes.count > 1 {
                result.violations.append("the same seed gave \(hashes.count) different trace hashes over \(repeatRuns) runs")
                result.report["ok"] = .bool(false)
            }
            if let svg, let chart = result.svg {
                try chart.write(toFile: seeds > 1 ? svg.replacingOccurrences(of: ".svg", with: "-\(options.seed).svg") : svg,
                                atomically: true, encoding: .utf8)
            }
            if !result.violations.isEmpty {
                failed = true
                for violation in result.violations { FileHandle.standardError.write(Data("violation: \(violation)\n".utf8)) }
                FileHandle.standardError.write(Data("reproduce: swift run -c release simulate \(scenario) --seed \(options.seed)\(reproduceFlags)\n".utf8))
            }
            print(result.report.json)
        }
        if failed { throw ExitCode(1) }
    }

    private var reproduceFlags: String {
        var flags = ""
        if let entries { flags += " --entries \(entries)" }
        if let nodes { flags += " --nodes \(nodes)" }
        if bandwidth != 10 { flags += " --bandwidth \(bandwidth)" }
        if latency != 50 { flags += " --latency \(latency)" }
        if let loss { flags += " --loss \(loss)" }
        if tail != 0 { flags += " --tail \(tail)" }
        if maxSimSeconds != 600 { flags += " --max-sim-seconds \(maxSimSeconds)" }
        return flags
    }
}
