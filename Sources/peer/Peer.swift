import ArgumentParser
import PeerCLI

/// `peer`: the Sheaf node daemon, and the commands that talk to it.
@main
struct Peer: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "peer",
        abstract: "A Sheaf node: replicate spaces with peers over encrypted TCP.",
        discussion: """
            Start with `peer init --data DIR`, then `peer run --data DIR --listen HOST:PORT [--join HOST:PORT ...]`.
            The other commands talk to the daemon running on the same data directory (default $SHEAF_DATA or ~/.sheaf).
            `peer demo` starts a whole cluster on loopback and compares joining by snapshot with replaying history.
            """,
        subcommands: [
            InitCommand.self, RunCommand.self, SpaceCommand.self, PutCommand.self, GetCommand.self, DeleteCommand.self, ListCommand.self,
            StatusCommand.self, SnapshotCommand.self, DemoCommand.self,
        ])
}
