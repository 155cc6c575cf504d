#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// stdout for results, stderr for progress and errors, and what the
/// terminal is (if it is one).
enum Terminal {
    static func out(_ text: String) {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }

    static func err(_ text: String, newline: Bool = true) {
        FileHandle.standardError.write(Data((newline ? text + "\n" : text).utf8))
    }

    static var stderrIsTerminal: Bool { isatty(STDERR_FILENO) == 1 }
    static var stdinIsTerminal: Bool { isatty(STDIN_FILENO) == 1 }

    /// Columns of the terminal on stderr, or 80.
    static var width: Int {
        var size = winsize()
        if ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 { return Int(size.ws_col) }
        return Int(ProcessInfo.processInfo.environment["COLUMNS"] ?? "") ?? 80
    }

    /// Redraws the current line (carriage return, clear to end of line).
    static func redraw(_ line: String) { err("\r\u{1B}[K" + line, newline: false) }

    static func clearLine() { err("\r\u{1B}[K", newline: false) }

    /// A yes/no question on stderr, answered on stdin.
    static func confirm(_ question: String) -> Bool {
        err(question + " [y/N] ", newline: false)
        guard let answer = readLine() else { return false }
        return ["y", "yes"].contains(answer.trimmingCharacters(in: .whitespaces).lowercased())
    }
}
