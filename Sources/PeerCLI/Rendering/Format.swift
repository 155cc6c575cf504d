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
        return (value < 100 ? oneDecimal(value) : String(Int(value.rounded()))) + " " + units[unit]
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
        if seconds < 10 { return twoDecimals(seconds) + " s" }
        if seconds < 60 { return oneDecimal(seconds) + " s" }
        let whole = Int(seconds.rounded())
        if whole < 3600 { return "\(whole / 60) min \(pad(whole % 60)) s" }
        if whole < 86400 { return "\(whole / 3600) h \(pad(whole % 3600 / 60)) min" }
        return "\(whole / 86400) d \(whole % 86400 / 3600) h"
    }

    static func oneDecimal(_ value: Double) -> String {
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }

    static func twoDecimals(_ value: Double) -> String {
        let hundredths = Int((value * 100).rounded())
        return "\(hundredths / 100).\(pad(hundredths % 100))"
    }

    private static func pad(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
}
