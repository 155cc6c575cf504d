/// A plain-text table: columns padded to their widest cell, numbers
/// right-aligned, two spaces between columns, no trailing blanks.
public struct Table: Sendable {
    public enum Alignment: Sendable { case left, right }

    public struct Column: Sendable {
        public var title: String
        public var alignment: Alignment
        public init(_ title: String, _ alignment: Alignment = .left) {
            self.title = title
            self.alignment = alignment
        }
    }

    public var columns: [Column]
    public var rows: [[String]]
    public var showsHeader: Bool

    public init(_ columns: [Column], rows: [[String]] = [], showsHeader: Bool = true) {
        self.columns = columns
        self.rows = rows
        self.showsHeader = showsHeader
    }

    /// Label–value lines, for one thing shown whole.
    public static func properties(_ pairs: [(String, String)]) -> Table {
        Table([Column(""), Column("")], rows: pairs.map { [$0.0, $0.1] }, showsHeader: false)
    }

    public func render() -> String {
        let lines = ((showsHeader ? [columns.map(\.title)] : []) + rows).map { $0.map(Self.printable) }
        var widths = [Int](repeating: 0, count: columns.count)
        for line in lines {
            for (index, cell) in line.prefix(columns.count).enumerated() { widths[index] = max(widths[index], cell.count) }
        }
        return lines.map { line in
            var text = ""
            for index in columns.indices {
                let cell = index < line.count ? line[index] : ""
                let padding = String(repeating: " ", count: widths[index] - cell.count)
                if index > 0 { text += "  " }
                text += columns[index].alignment == .right ? padding + cell : cell + padding
            }
            return String(text.reversed().drop { $0 == " " }.reversed())
        }.joined(separator: "\n")
    }

    /// Control characters (data from peers may carry terminal escapes) shown
    /// as escapes, so a cell is one line and cannot drive the terminal.
    static func printable(_ cell: String) -> String {
        guard cell.unicodeScalars.contains(where: isControl) else { return cell }
        var out = ""
        for scalar in cell.unicodeScalars {
            switch scalar {
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            case _ where isControl(scalar): out += "\\u{\(String(scalar.value, radix: 16))}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7f...0x9f).contains(scalar.value)
    }
}
