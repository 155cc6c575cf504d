import ArgumentParser
import Foundation
import PeerCluster

#if canImport(Glibc)
import Glibc
#endif

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Start a cluster on loopback, write a W1-shaped workload, and compare joining by snapshot with replaying.",
        discussion: """
            Starts --nodes daemons in temporary data directories, creates a space on the first, admits the others as \
            writers, writes --entries W1-shaped entries through the control API across all of them, snapshots, writes a \
            1% tail, then starts one fresh node that joins by snapshot and one that joins by replay. Prints a table and, \
            last, a JSON line. Everything it started is stopped and removed at the end (unless --keep).
            """)

    @Option(help: "W1-shaped entries to write.") var entries = 200_000
    @Option(help: "Nodes holding the space (each writes a share).") var nodes = 3
    @Option(help: "Log level of the daemons (their logs are in each data directory).") var logLevel = "warning"
    @Flag(help: "Keep the data directories and logs.") var keep = false

    func validate() throws {
        guard entries >= 100 else { throw ValidationError("--entries must be at least 100") }
        guard (1...16).contains(nodes) else { throw ValidationError("--nodes must be 1...16") }
    }

    func run() async throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("sheaf-demo-\(getpid())").path
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer {
            if keep { print("Kept \(work)") } else { try? FileManager.default.removeItem(atPath: work) }
        }
        var options = BootstrapComparison.Options(entries: entries, nodes: nodes, seedOffline: false,
                                                  executable: PeerProcess.ownExecutable, workDirectory: work)
        options.logLevel = logLevel
        let console = Console()
        let comparison = BootstrapComparison(options: options, say: { console.say($0) }, status: { console.status($0) })
        let result: BootstrapComparison.Result
        do { result = try await comparison.run() } catch {
            console.clear()
            throw Failure.exit("the demo failed: \(error)", hint: keep ? "logs are in \(work)" : "run again with --keep to read the daemons' logs")
        }
        console.clear()
        print("")
        print(ComparisonTable.render(result))
        print("")
        print(result.json)
    }
}
