import ArgumentParser

#if canImport(Glibc)
import Glibc
#endif

enum DataOption {
    /// $SHEAF_DATA, or ~/.sheaf.
    static var defaultPath: String {
        if let path = getenv("SHEAF_DATA").map({ String(cString: $0) }), !path.isEmpty { return path }
        return (getenv("HOME").map { String(cString: $0) } ?? ".") + "/.sheaf"
    }
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
