import ArgumentParser
import SheafControl

#if canImport(Glibc)
import Glibc
#endif

enum DataOption {
    /// $SHEAF_DATA, or ~/.sheaf: where the other commands look too.
    static var defaultPath: String { ControlEndpoint.defaultDataDirectory() }
}

/// How commands fail: what went wrong and what to do, on stderr, and a non-zero exit.
enum Failure {
    static func exit(_ message: String, hint: String? = nil) -> ExitCode {
        var text = "error: \(message)\n"
        if let hint { text += "hint: \(hint)\n" }
        text.withUTF8 { _ = write(STDERR_FILENO, $0.baseAddress, $0.count) }
        return ExitCode.failure
    }
}
