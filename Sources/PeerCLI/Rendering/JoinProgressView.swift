import SheafControl

/// Download rate over the last few seconds of polls, timed by the daemon's
/// own `elapsedSeconds` (so it is a pure function of what was polled).
public struct RateMeter: Sendable {
    private var samples: [(seconds: Double, bytes: UInt64)] = []
    public let window: Double

    public init(window: Double = 3) { self.window = window }

    public mutating func add(seconds: Double, bytes: UInt64) {
        if let last = samples.last, seconds <= last.seconds || bytes < last.bytes { samples.removeAll() }
        samples.append((seconds, bytes))
        while samples.count > 2, let first = samples.first, seconds - first.seconds > window { samples.removeFirst() }
    }

    public var bytesPerSecond: Double? {
        guard let first = samples.first, let last = samples.last, last.seconds > first.seconds else { return nil }
        return Double(last.bytes - first.bytes) / (last.seconds - first.seconds)
    }
}

/// What `peer space join` shows while it waits: a bar (on a terminal) or
/// plain lines (in a log), then one closing line.
public enum JoinProgressView {
    /// Queryable and caught up with what neighbours offered.
    public static func isDone(_ space: SpaceStatus) -> Bool {
        space.ready && (space.bootstrap.map { $0.phase == .live } ?? true)
    }

    /// One line of progress. `bar` draws `[=====>    ]` and keeps the line
    /// within `width` so a carriage return can redraw it.
    public static func line(_ progress: BootstrapProgress, rate: Double?, width: Int, bar: Bool) -> String {
        let text: String
        switch progress.phase {
        case .discovering:
            text = "discovering peers and snapshots… \(Format.duration(progress.elapsedSeconds))"
        case .downloading:
            let eta = rate.flatMap { rate -> Double? in
                rate > 0 ? Double(progress.bytesTotal.subtractingReportingOverflow(progress.bytesDone).partialValue) / rate : nil
            }
            let parts = [
                "\(progress.chunksDone)/\(progress.chunksTotal) chunks",
                "\(Format.bytes(progress.bytesDone)) of \(Format.bytes(progress.bytesTotal))",
                rate.map(Format.rate) ?? "– /s",
                "ETA " + (eta.map(Format.duration) ?? "–"),
            ]
            guard bar else { return "downloading snapshot: " + parts.joined(separator: ", ") }
            let detail = parts.joined(separator: "  ")
            let barWidth = min(40, max(10, width - detail.count - 4))
            return clip(self.bar(fraction: downloaded(progress), width: barWidth) + " " + detail, width)
        case .catchingUp:
            text = "catching up: \(Format.count(progress.entriesStored)) of \(Format.count(max(progress.entriesKnown, progress.entriesStored))) entries"
        case .live:
            text = "caught up: \(Format.count(progress.entriesStored)) entries"
        }
        return bar ? clip(text, width) : text
    }

    /// The closing line: "ready in 1.23 s from snapshot (120,000 entries), caught up at 121,200 entries".
    public static func finished(_ space: SpaceStatus) -> String {
        guard let progress = space.bootstrap else { return "ready, \(Format.count(space.entries)) entries" }
        return summary(progress) + ", caught up at \(Format.count(space.entries)) entries"
    }

    /// How the join went (or is going), in one phrase.
    public static func summary(_ progress: BootstrapProgress) -> String {
        let how = progress.fromSnapshot ? "from snapshot (\(Format.count(progress.snapshotEntries)) entries)" : "by replay"
        guard let ready = progress.readySeconds else {
            return "\(progress.phase.rawValue) for \(Format.duration(progress.elapsedSeconds))"
        }
        return "ready in \(Format.duration(ready)) \(how)"
    }

    /// `[=========>          ]`, `width` characters in all.
    public static func bar(fraction: Double, width: Int) -> String {
        let inner = max(1, width - 2)
        let clamped = fraction.isFinite ? min(1, max(0, fraction)) : 0
        let filled = Int((clamped * Double(inner)).rounded(.down))
        var cells = String(repeating: "=", count: filled)
        if filled > 0 && filled < inner {
            cells.removeLast()
            cells += ">"
        }
        return "[" + cells + String(repeating: " ", count: inner - filled) + "]"
    }

    private static func downloaded(_ progress: BootstrapProgress) -> Double {
        if progress.bytesTotal > 0 { return Double(progress.bytesDone) / Double(progress.bytesTotal) }
        return progress.chunksTotal > 0 ? Double(progress.chunksDone) / Double(progress.chunksTotal) : 0
    }

    private static func clip(_ text: String, _ width: Int) -> String {
        text.count < width ? text : String(text.prefix(max(1, width - 1)))
    }
}
