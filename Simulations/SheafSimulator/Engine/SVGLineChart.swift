/// A line chart as plain SVG text: one polyline per series, axes with
/// ticks, axis labels, a title and a legend. Meant for per-node time series
/// of a run (progress over virtual time); needs no libraries.
public struct SVGLineChart: Sendable {
    public struct Point: Hashable, Sendable {
        public var x: Double
        public var y: Double
        public init(x: Double, y: Double) {
            self.x = x
            self.y = y
        }
    }

    public struct Series: Hashable, Sendable {
        public var name: String
        public var points: [Point]
        public init(name: String, points: [Point]) {
            self.name = name
            self.points = points
        }
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [Series]
    public var width = 900
    public var height = 500
    /// Beyond this many series the legend ends with "+ n more".
    public var maxLegendEntries = 20

    public init(title: String, xLabel: String, yLabel: String, series: [Series]) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.series = series
    }

    private static let margin = (left: 70.0, right: 170.0, top: 44.0, bottom: 56.0)

    public func render() -> String {
        let points = series.flatMap(\.points).filter { $0.x.isFinite && $0.y.isFinite }
        let xs = Self.span(points.map(\.x), fallback: 0...1)
        let ys = Self.span(points.map(\.y), fallback: 0...1)
        let m = Self.margin
        let plot = (x: m.left, y: m.top, width: Double(width) - m.left - m.right, height: Double(height) - m.top - m.bottom)
        func px(_ x: Double) -> Double { plot.x + (x - xs.lowerBound) / (xs.upperBound - xs.lowerBound) * plot.width }
        func py(_ y: Double) -> Double { plot.y + plot.height - (y - ys.lowerBound) / (ys.upperBound - ys.lowerBound) * plot.height }

        var svg = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(width)" height="\(height)" \
        viewBox="0 0 \(width) \(height)" font-family="sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(Self.fixed(Double(width) / 2))" y="24" text-anchor="middle" font-size="16">\(Self.escape(title))</text>

        """
        // Axes, grid and ticks.
        let bottom = plot.y + plot.height
        svg += "<g stroke=\"#ccc\" stroke-width=\"1\">\n"
        let xTicks = Self.ticks(xs), yTicks = Self.ticks(ys)
        for tick in xTicks.values {
            svg += "<line x1=\"\(Self.fixed(px(tick)))\" y1=\"\(Self.fixed(plot.y))\" x2=\"\(Self.fixed(px(tick)))\" y2=\"\(Self.fixed(bottom))\"/>\n"
        }
        for tick in yTicks.values {
            svg += "<line x1=\"\(Self.fixed(plot.x))\" y1=\"\(Self.fixed(py(tick)))\" x2=\"\(Self.fixed(plot.x + plot.width))\" y2=\"\(Self.fixed(py(tick)))\"/>\n"
        }
        svg += "</g>\n"
        svg += "<path d=\"M\(Self.fixed(plot.x)),\(Self.fixed(plot.y))V\(Self.fixed(bottom))H\(Self.fixed(plot.x + plot.width))\" fill=\"none\" stroke=\"black\"/>\n"
        for tick in xTicks.values {
            svg += "<text x=\"\(Self.fixed(px(tick)))\" y=\"\(Self.fixed(bottom + 16))\" text-anchor=\"middle\">\(Self.label(tick, decimals: xTicks.decimals))</text>\n"
        }
        for tick in yTicks.values {
            svg += "<text x=\"\(Self.fixed(plot.x - 6))\" y=\"\(Self.fixed(py(tick) + 4))\" text-anchor=\"end\">\(Self.label(tick, decimals: yTicks.decimals))</text>\n"
        }
        svg += "<text x=\"\(Self.fixed(plot.x + plot.width / 2))\" y=\"\(Self.fixed(Double(height) - 14))\" text-anchor=\"middle\">\(Self.escape(xLabel))</text>\n"
        let yMid = Self.fixed(plot.y + plot.height / 2)
        svg += "<text x=\"18\" y=\"\(yMid)\" text-anchor=\"middle\" transform=\"rotate(-90 18 \(yMid))\">\(Self.escape(yLabel))</text>\n"

        // One polyline per series, clipped to the plot.
        svg += "<clipPath id=\"plot\"><rect x=\"\(Self.fixed(plot.x))\" y=\"\(Self.fixed(plot.y))\" width=\"\(Self.fixed(plot.width))\" height=\"\(Self.fixed(plot.height))\"/></clipPath>\n"
        svg += "<g clip-path=\"url(#plot)\" fill=\"none\" stroke-width=\"1.5\">\n"
        for (position, line) in series.enumerated() {
            let coordinates = line.points.filter { $0.x.isFinite && $0.y.isFinite }
                .map { "\(Self.fixed(px($0.x))),\(Self.fixed(py($0.y)))" }
            svg += "<polyline stroke=\"\(Self.color(position))\" points=\"\(coordinates.joined(separator: " "))\"><title>\(Self.escape(line.name))</title></polyline>\n"
        }
        svg += "</g>\n"

        // Legend.
        let legendX = plot.x + plot.width + 16
        for (position, line) in series.prefix(maxLegendEntries).enumerated() {
            let y = plot.y + 8 + Double(position) * 16
            svg += "<line x1=\"\(Self.fixed(legendX))\" y1=\"\(Self.fixed(y))\" x2=\"\(Self.fixed(legendX + 18))\" y2=\"\(Self.fixed(y))\" stroke=\"\(Self.color(position))\" stroke-width=\"2\"/>"
            svg += "<text x=\"\(Self.fixed(legendX + 24))\" y=\"\(Self.fixed(y + 4))\">\(Self.escape(line.name))</text>\n"
        }
        if series.count > maxLegendEntries {
            let y = plot.y + 8 + Double(maxLegendEntries) * 16
            svg += "<text x=\"\(Self.fixed(legendX))\" y=\"\(Self.fixed(y + 4))\">+ \(series.count - maxLegendEntries) more</text>\n"
        }
        return svg + "</svg>\n"
    }

    /// Series apart in hue by the golden angle, so neighbours differ.
    static func color(_ position: Int) -> String {
        "hsl(\(Int((Double(position) * 137.508).truncatingRemainder(dividingBy: 360))),65%,42%)"
    }

    private static func span(_ values: [Double], fallback: ClosedRange<Double>) -> ClosedRange<Double> {
        guard let low = values.min(), let high = values.max() else { return fallback }
        return low < high ? low...high : (low - 1)...(high + 1)
    }

    /// About five round tick values inside `range` (steps of 1, 2 or 5 × 10ⁿ),
    /// and the decimals their labels need.
    static func ticks(_ range: ClosedRange<Double>) -> (values: [Double], decimals: Int) {
        let raw = (range.upperBound - range.lowerBound) / 5
        guard raw > 0, raw.isFinite else { return ([range.lowerBound], 0) }
        var magnitude = 1.0
        var decimals = 0
        while magnitude > raw { magnitude /= 10; decimals += 1 }
        while magnitude * 10 <= raw { magnitude *= 10; decimals = max(decimals - 1, 0) }
        let step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? magnitude * 10
        var values: [Double] = []
        var tick = (range.lowerBound / step).rounded(.up) * step
        while tick <= range.upperBound + step * 1e-9, values.count < 50 {
            values.append(tick)
            tick += step
        }
        return (values, decimals)
    }

    /// `value` with a fixed number of decimals, without Foundation.
    static func label(_ value: Double, decimals: Int) -> String {
        var scale = 1.0
        for _ in 0..<decimals { scale *= 10 }
        let scaled = (abs(value) * scale).rounded()
        guard scaled < 1e15 else { return "\(value)" }
        var digits = String(Int64(scaled))
        if decimals > 0 {
            if digits.count <= decimals { digits = String(repeating: "0", count: decimals - digits.count + 1) + digits }
            digits.insert(".", at: digits.index(digits.endIndex, offsetBy: -decimals))
        }
        return (value < 0 && scaled != 0 ? "-" : "") + digits
    }

    /// Coordinates, to one decimal.
    static func fixed(_ value: Double) -> String { label(value, decimals: 1) }

    static func escape(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default: out.append(character)
            }
        }
        return out
    }
}

extension Simulation {
    /// Every node's samples of `metric` as chart series, x in virtual seconds.
    public func chartSeries(_ metric: String) -> [SVGLineChart.Series] {
        nodeIDs.compactMap { node in
            let samples = samples(metric, of: node)
            guard !samples.isEmpty else { return nil }
            return SVGLineChart.Series(name: node.description, points: samples.map {
                SVGLineChart.Point(x: $0.time.seconds, y: $0.value)
            })
        }
    }
}
