import ArgumentParser
import PeerCluster

/// `net-throughput`: how fast entries replicate from one `peer` process to
/// another over loopback TCP (encrypted sessions, verification, storage).
struct NetThroughput: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "net-throughput",
        abstract: "Sustained replication rate of entries between two peer processes on loopback.",
        discussion: """
            A seed node holds W1-shaped history with --value-bytes values; a fresh node joins by replay (trust \
            policy replay: no snapshot shortcuts it) and fetches every entry. The rate counts the bytes the receiver \
            took in (frames) over the time from its join to storing every entry; the state roots are compared after.
            """)

    @Option(help: "Entries to replicate.") var entries = 200_000
    @Option(help: "Bytes per field value (W1 uses 64).") var valueBytes = 1024

    func run() async throws {
        let work = TemporaryDirectory(prefix: "sheaf-bench-net-throughput")
        let run = ThroughputRun(entries: entries, valueBytes: valueBytes, executable: try PeerExecutable.locate(), workDirectory: work.path)
        let console = Console()
        let result = try await run.run(say: { console.say($0) }, status: { console.status($0) })
        console.clear()
        var report = Report(bench: "net-throughput")
        report.add("entries", entries)
        report.add("value_bytes", valueBytes)
        report.add("seconds", result.seconds)
        report.add("bytes", Int(result.bytes))
        report.add("mb_per_s", result.megabytesPerSecond)
        report.add("entries_per_s", result.entriesPerSecond)
        report.add("state_roots_equal", result.stateRootsEqual)
        report.add("receiver_peak_rss_mb", result.receiverPeakResidentMB ?? .nan)
        report.print()
    }
}
