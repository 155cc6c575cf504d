import ArgumentParser
import PeerCLI
import SheafControl

enum DataOption {
    /// $SHEAF_DATA, or ~/.sheaf: where the other commands look too.
    static var defaultPath: String { ControlEndpoint.defaultDataDirectory() }
}

/// How the daemon's own commands fail: the same way as the others.
enum Failure {
    static func exit(_ message: String, hint: String? = nil) -> ExitCode { CommandFailure.report(message, hint: hint) }
}
