import ArgumentParser
import SheafDaemon

struct InitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "init", abstract: "Create a node identity in a data directory.")

    @Option(help: "The node's data directory (default $SHEAF_DATA or ~/.sheaf).") var data: String = DataOption.defaultPath

    func run() throws {
        let directory = DataDirectory(data)
        do {
            let identity = try directory.initialize()
            print("Created node \(identity.publicKey.hex) in \(data)")
            print("Start it with: peer run --data \(data) --listen 127.0.0.1:7400")
        } catch {
            throw Failure.exit(error.message, hint: error.hint)
        }
    }
}
