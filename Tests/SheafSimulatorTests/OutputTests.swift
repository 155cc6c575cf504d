import Foundation
import Testing

@testable import SheafSimulator

#if canImport(FoundationXML)
import FoundationXML
#endif

@MainActor @Suite struct OutputTests {
    @Test func reportIsOneLineOfOrderedJSON() throws {
        var report = SimReport([
            "scenario": "partition \"heal\"\n\u{1}",
            "nodes": 8,
            "converged": true,
            "ratio": 0.25,
        ])
        report["undefined"] = .double(.nan)
        report["nodes"] = 9  // replaced in place
        report["big"] = .double(1e21)
        let json = report.json
        #expect(!json.contains("\n"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(object["scenario"] as? String == "partition \"heal\"\n\u{1}")
        #expect(object["nodes"] as? Int == 9)
        #expect(object["converged"] as? Bool == true)
        #expect(object["ratio"] as? Double == 0.25)
        #expect(object["undefined"] is NSNull)
        #expect(object["big"] as? Double == 1e21)
        let positions = try ["scenario", "nodes", "converged", "ratio", "undefined", "big"].map {
            try #require(json.range(of: "\"\($0)\":")).lowerBound
        }
        #expect(positions == positions.sorted())
        report["ratio"] = nil
        #expect(report.fields.map(\.key) == ["scenario", "nodes", "converged", "undefined", "big"])
    }

    @Test func chartIsWellFormedSVG() async throws {
        let sim = Simulation(seed: 5)
        let hosts = (0..<4).map { _ in ChattyHost(peers: 4) }
        for host in hosts { sim.addNode(host) }
        await sim.run(until: .init(nanoseconds: 3_000_000_000))
        var series = sim.chartSeries("heard")
        #expect(series.count == 4)
        series.append(.init(name: "a <b> & \"c\"", points: [.init(x: 0, y: 0), .init(x: 1, y: .nan), .init(x: 2, y: 1)]))
        var chart = SVGLineChart(title: "Progress <all nodes>", xLabel: "simulated s", yLabel: "messages heard", series: series)
        chart.maxLegendEntries = 3
        let svg = chart.render()

        let counter = ElementCounter()
        let parser = XMLParser(data: Data(svg.utf8))
        parser.delegate = counter
        #expect(parser.parse(), "\(parser.parserError.map { "\($0)" } ?? "")")
        #expect(counter.counts["svg"] == 1)
        #expect(counter.counts["polyline"] == 5)
        #expect(counter.text.contains("Progress <all nodes>"))
        #expect(counter.text.contains("+ 2 more"))
        #expect(counter.text.contains("messages heard"))
        for polyline in svg.split(separator: "\n") where polyline.hasPrefix("<polyline") {
            #expect(!polyline.contains("points=\"\""))
        }
    }

    @Test func ticksAreRound() {
        #expect(SVGLineChart.ticks(0...1).values.count == 6)
        #expect(SVGLineChart.ticks(0...1).decimals == 1)
        #expect(SVGLineChart.ticks(0...47).values == [0, 10, 20, 30, 40])
        #expect(SVGLineChart.label(0.25, decimals: 2) == "0.25")
        #expect(SVGLineChart.label(-3.14159, decimals: 1) == "-3.1")
        #expect(SVGLineChart.label(12, decimals: 0) == "12")
    }
}

/// Counts elements and gathers text while parsing.
final class ElementCounter: NSObject, XMLParserDelegate {
    var counts: [String: Int] = [:]
    var text = ""

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?,
                qualifiedName: String?, attributes: [String: String] = [:]) {
        counts[name, default: 0] += 1
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) { text += string }
}
