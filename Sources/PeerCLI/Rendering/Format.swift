/// How numbers read in tables: sizes in KB/MB/GB (powers of 1024), counts
/// with thousands separators, durations in the largest sensible units, and
/// keys cut to 12 hex digits (`--json` always has them whole).
public enum Format {
    public static func key(_ key: String) -> String {
        key.count > 12 ? key.prefix(12) + "…" : key
    }

    public static func bytes(_ count: UInt64) -> String {
        let units = ["B", "KB", "MB", "GB", "TB"]
        var value = Double(count)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        if unit == 0 { return "\(count) B" }
        return (value < 100 ? decimal(value, places: 1) : String(Int(value.rounded()))) + " " + units[unit]
    }

    public static func rate(_ bytesPerSecond: Double) -> String {
        guard bytesPerSecond.isFinite, bytesPerSecond >= 0 else { return "–" }
        return bytes(UInt64(min(bytesPerSecond, 1e18))) + "/s"
    }

    public static func count<I: BinaryInteger>(_ value: I) -> String {
        let digits = Array(String(value.magnitude))
        var out = ""
        for (index, digit) in digits.enumerated() {
            if index > 0 && (digits.count - index) % 3 == 0 { out.append(",") }
            out.append(digit)
        }
        return (value < 0 ? "-" : "") + out
    }

    public static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds >= 0 else { return "–" }
        let seconds = min(seconds, 1e12)  // whatever a daemon reports, Int(_:) below must not trap
        if seconds < 1 { return "\(Int((seconds * 1000).rounded())) ms" }
        if seconds < 10 { return decimal(seconds, places: 2) + " s" }
        if seconds < 60 { return decimal(seconds, places: 1) + " s" }
        let whole = Int(seconds.rounded())
        if whole < 3600 { return "\(whole / 60) min \(pad(whole % 60)) s" }
        if whole < 86400 { return "\(whole / 3600) h \(pad(whole % 3600 / 60)) min" }
        return "\(whole / 86400) d \(whole % 86400 / 3600) h"
    }

    /// `value` with `places` digits after the point (0 to 9), rounded half
    /// away from zero: what tables and reports print instead of `String(format:)`,
    /// safe for any double (non-finite is "–"; too large for Int64 once
    /// scaled, Swift's own spelling).
    public static func decimal(_ value: Double, places: Int) -> String {
        guard value.isFinite else { return "–" }
        let places = min(max(places, 0), 9)
        var scale: Int64 = 1
        for _ in 0..<places { scale *= 10 }
        guard let units = Int64(exactly: (value.magnitude * Double(scale)).rounded()) else {
            return "\(value)"
        }
        let sign = value < 0 && units != 0 ? "-" : ""
        guard places > 0 else { return sign + String(units) }
        let fraction = String(units % scale)
        return sign + String(units / scale) + "." + String(repeating: "0", count: places - fraction.count) + fraction
    }

    private static func pad(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
}
