import ArgumentParser
import Foundation
import PeerCluster

/// `net-bootstrap`: the demo's comparison at benchmark size, between real
/// `peer` processes over loopback TCP.
struct NetBootstrap: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "net-bootstrap",
        abstract: "Join a W1 space by snapshot versus by replay, between real peer processes on loopback.",
        discussion: """
            A seed node holds W1 history (a snapshot after 99% of it, the 1% tail after). A fresh node joins by \
            snapshot (trust policy member), then another by replay; each is ready when it holds every entry with the \
            seed's state root. Joiners of each kind alternate, `--runs` of each, and the median of each is reported \
            (single joins on a shared machine vary by a quarter or more). Needs the `peer` executable next to this \
            one (swift build -c release --product peer).
            """)

    @Option(help: "W1 entries.") var entries = 1_000_000
    @Option(help: "Fresh joiners of each kind, alternating; the median of each is reported.") var runs = 3

    func validate() throws {
        guard runs >= 1 else { throw ValidationError("--runs must be at least 1") }
    }

    func run() async throws {
        let work = TemporaryDirectory(prefix: "sheaf-bench-net-bootstrap")
        var options = BootstrapComparison.Options(entries: entries, nodes: 1, seedOffline: true,
                                                  executable: try PeerExecutable.locate(), workDirectory: work.path)
        options.runs = runs
        let console = Console()
        let result = try await BootstrapComparison(options: options, say: { console.say($0) }, status: { console.status($0) }).run()
        console.clear()
        progress(ComparisonTable.render(result))
        var report = Report(bench: "net-bootstrap")
        report.add("workload", "W1")
        report.add("entries", entries)
        report.add("runs", runs)
        report.add("ready_s_snapshot", result.snapshot.readySeconds)
        report.add("ready_s_replay", result.replay.readySeconds)
        report.add("speedup", result.speedup)
        report.add("bytes_snapshot", Int(result.snapshot.bytesReceived))
        report.add("bytes_replay", Int(result.replay.bytesReceived))
        report.add("state_roots_equal", result.stateRootsEqual)
        report.add("queryable_s_snapshot", result.snapshot.queryableSeconds)
        report.add("snapshot_compressed_bytes", Int(result.snapshotCompressedBytes))
        report.add("seed_peak_rss_mb", result.seedPeakResidentMB ?? .nan)
        report.add("joiner_peak_rss_mb_snapshot", result.snapshot.peakResidentMB ?? .nan)
        report.add("joiner_peak_rss_mb_replay", result.replay.peakResidentMB ?? .nan)
        report.print()
    }
}

/// The `peer` executable this benchmark drives: next to sheaf-bench.
enum PeerExecutable {
    static func locate() throws -> String {
        guard let path = PeerProcess.builtExecutable() else {
            throw ValidationError("no peer executable next to \(PeerProcess.ownExecutable): build it with `swift build -c release --product peer`")
        }
        return path
    }
}
