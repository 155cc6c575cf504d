import Foundation
import PeerCLI
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
        func seconds(_ x: Double) -> String { String(format: "%.2f s", x) }
        let table = Table([Table.Column(""), Table.Column("by snapshot", .right), Table.Column("by replay", .right)], rows: [
            ["queryable after", seconds(result.snapshot.queryableSeconds), seconds(result.replay.queryableSeconds)],
            ["caught up after", seconds(result.snapshot.readySeconds), seconds(result.replay.readySeconds)],
            ["bytes received", Format.bytes(result.snapshot.bytesReceived), Format.bytes(result.replay.bytesReceived)],
            ["state root", Format.key(result.snapshot.stateRoot), Format.key(result.replay.stateRoot)],
        ])
        return table.render() + "\n\n" + "\(Format.count(result.entries)) entries; caught up \(String(format: "%.1f", result.speedup))× sooner by snapshot; "
            + "state roots \(result.stateRootsEqual ? "equal" : "DIFFER")"
    }
}
