import ArgumentParser
import SheafControl

/// What every command that talks to the daemon takes: where its data
/// directory is (control.json there says where it listens) and whether to
/// print the reply's JSON as it came instead of a table.
public struct DaemonOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The daemon's data directory (default: $SHEAF_DATA, else ~/.sheaf).", valueName: "DIR"))
    public var data: String?

    @Flag(name: .long, help: "Print the daemon's JSON reply unchanged (see docs/API.md), for scripts.")
    public var json = false

    public init() {}

    public var dataDirectory: String { data ?? ControlEndpoint.defaultDataDirectory() }

    public func client() throws(ControlError) -> ControlClient {
        try ControlClient(dataDirectory: dataDirectory)
    }

    /// Prints the reply: its raw body with --json, else `human` of its value.
    func show<T: Decodable>(_ reply: ControlReply, as type: T.Type, _ human: (T) -> String) throws(ControlError) {
        if json {
            Terminal.out(reply.text)
        } else {
            Terminal.out(human(try reply.decode(type)))
        }
    }
}

/// Runs a command's body against the daemon; a `ControlError` becomes
/// `error: …` and `hint: …` on stderr and exit status 1.
func reportingErrors(_ body: () async throws(ControlError) -> Void) async throws {
    do {
        try await body()
    } catch {
        throw CommandFailure.report(error.message, hint: error.hint)
    }
}

/// How every `peer` command fails: what went wrong and what to do, on
/// stderr, and exit status 1.
public enum CommandFailure {
    public static func report(_ message: String, hint: String? = nil) -> ExitCode {
        Terminal.err("error: \(message)")
        if let hint { Terminal.err("hint: \(hint)") }
        return ExitCode(1)
    }
}
