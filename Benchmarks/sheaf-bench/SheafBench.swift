import ArgumentParser
import SheafFiles

@main
struct SheafBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sheaf-bench",
        abstract: "Measures Sheaf against the machine's physical limits.",
        discussion: """
            Each run prints progress to standard error and one JSON object as the \
            last line of standard output. Build with -c release for meaningful figures.
            """,
        subcommands: [FeedAppend.self, FeedVerify.self, Primitives.self, Restart.self, RestartOpen.self, Incremental.self,
                      NetBootstrap.self, NetThroughput.self]
    )
}

extension Durability: ExpressibleByArgument {}

/// Every subcommand checks the primitives it measures with first.
protocol CheckedCommand: ParsableCommand {
    func runMeasured() throws
}

extension CheckedCommand {
    func run() throws {
        try checkKnownAnswers()
        try runMeasured()
    }
}
