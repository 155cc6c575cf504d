import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Progress output for long runs: on a terminal one status line redrawn in
/// place under the messages; otherwise status lines at most once a second.
public final class Console: Sendable {
    private let state = Mutex<(line: Bool, last: ContinuousClock.Instant?)>((false, nil))
    private let isTerminal = isatty(STDERR_FILENO) == 1

    public init() {}

    private static func write(_ text: String) {
        var text = text
        text.withUTF8 { _ = Glibc.write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }

    /// A message that stays.
    public func say(_ text: String) {
        state.withLock { state in
            if state.line { Self.write("\r\u{1B}[K") }
            state.line = false
            Self.write(text + "\n")
        }
    }

    /// A status line that the next one replaces.
    public func status(_ text: String) {
        state.withLock { state in
            if isTerminal {
                Self.write("\r\u{1B}[K" + text)
                state.line = true
            } else {
                let now = ContinuousClock.now
                if let last = state.last, now - last < .seconds(1) { return }
                state.last = now
                Self.write(text + "\n")
            }
        }
    }

    public func clear() {
        state.withLock { state in
            if state.line { Self.write("\r\u{1B}[K") }
            state.line = false
        }
    }
}

/// The comparison as a table.
public enum ComparisonTable {
    public static func render(_ result: BootstrapComparison.Result) -> String {
        func s(_ x: Double) -> String { String(format: "%.2f s", x) }
        let rows = [
            ["", "by snapshot", "by replay"],
            ["queryable after", s(result.snapshot.queryableSeconds), s(result.replay.queryableSeconds)],
            ["caught up after", s(result.snapshot.readySeconds), s(result.replay.readySeconds)],
            ["bytes received", ByteCount.format(result.snapshot.bytesReceived), ByteCount.format(result.replay.bytesReceived)],
            ["state root", String(result.snapshot.stateRoot.prefix(16)), String(result.replay.stateRoot.prefix(16))],
        ]
        let widths = (0..<3).map { column in rows.map { $0[column].count }.max() ?? 0 }
        var lines = rows.map { row in
            row.enumerated().map { index, cell in
                index == 0 ? cell.padding(toLength: widths[0], withPad: " ", startingAt: 0)
                    : String(repeating: " ", count: widths[index] - cell.count) + cell
            }.joined(separator: "   ")
        }
        lines.insert(String(repeating: "-", count: lines[0].count), at: 1)
        lines.append("")
        lines.append("\(result.entries) entries; joining by snapshot was \(String(format: "%.1f", result.speedup))× faster; "
                     + "state roots \(result.stateRootsEqual ? "equal" : "DIFFER")")
        return lines.joined(separator: "\n")
    }
}
