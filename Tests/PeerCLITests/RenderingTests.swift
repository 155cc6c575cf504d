import PeerCLI
import SheafControl
import Testing

/// Tables and the figures in them.
@Suite struct RenderingTests {
    @Test func tableTrimsTrailingBlanks() {
        let text = Table([.init("A"), .init("B")], rows: [["long", ""]]).render()
        #expect(text == "A     B\nlong")
    }

    @Test func tableRightAlignsAndPadsExactly() {
        let text = Table([.init("K"), .init("N", .right)], rows: [["a", "5"], ["bb", "1,000"]]).render()
        #expect(text.split(separator: "\n").map(String.init) == ["K       N", "a       5", "bb  1,000"])
    }

    @Test func tableEscapesControlCharacters() {
        let text = Table.properties([("id", "a\nb\u{1B}[31mred\t")]).render()
        #expect(text == "id  a\\nb\\u{1b}[31mred\\t")
        #expect(!text.contains("\u{1B}"))
    }

    @Test func keysAreCutTo12HexDigits() {
        #expect(Format.key(String(repeating: "ab", count: 32)) == "abababababab…")
        #expect(Format.key("short") == "short")
    }

    @Test func sizes() {
        #expect(Format.bytes(0) == "0 B")
        #expect(Format.bytes(1023) == "1023 B")
        #expect(Format.bytes(1536) == "1.5 KB")
        #expect(Format.bytes(10 << 20) == "10.0 MB")
        #expect(Format.bytes(300 << 20) == "300 MB")
        #expect(Format.bytes(3 << 30) == "3.0 GB")
        #expect(Format.rate(1536) == "1.5 KB/s")
    }

    @Test func durations() {
        #expect(Format.duration(0.2304) == "230 ms")
        #expect(Format.duration(1.234) == "1.23 s")
        #expect(Format.duration(12.34) == "12.3 s")
        #expect(Format.duration(125) == "2 min 05 s")
        #expect(Format.duration(3 * 3600 + 120) == "3 h 02 min")
        #expect(Format.duration(2 * 86400 + 3600) == "2 d 1 h")
        #expect(Format.duration(.nan) == "–")
    }

    @Test func decimals() {
        #expect(Format.decimal(3, places: 2) == "3.00")
        #expect(Format.decimal(0.05, places: 3) == "0.050")
        #expect(Format.decimal(1234.5678, places: 2) == "1234.57")
        #expect(Format.decimal(0.125, places: 2) == "0.13")
        #expect(Format.decimal(-2.25, places: 1) == "-2.3")
        #expect(Format.decimal(-0.04, places: 1) == "0.0")
        #expect(Format.decimal(7.6, places: 0) == "8")
        #expect(Format.decimal(1e300, places: 2) == "\(1e300)")
        #expect(Format.decimal(.infinity, places: 2) == "–")
    }

    @Test func counts() {
        #expect(Format.count(0) == "0")
        #expect(Format.count(999) == "999")
        #expect(Format.count(1000) == "1,000")
        #expect(Format.count(1_234_567) == "1,234,567")
        #expect(Format.count(-1234) == "-1,234")
    }

    @Test func viewsShortenKeysInTablesAndKeepThemWhole() {
        let key = String(repeating: "ab", count: 32)
        let space = SpaceStatus(
            space: key, trust: "member", writer: true, ready: true, entries: 1200, frontier: [key: 1199],
            stateRoot: String(repeating: "0", count: 64), objects: 3, neighbours: [], newestSnapshot: nil, bootstrap: nil)
        let table = Views.spaces([space])
        #expect(table.contains("abababababab…"))
        #expect(!table.contains(key))
        #expect(table.contains("1,200"))
        #expect(Views.space(space).contains(key))
        let object = ObjectInfo(id: "doc", parent: nil, fields: ["n": .int(1), "s": .string("two words"), "b": .bytes([0xab])])
        #expect(Views.object(object).contains(#"s      "two words""#))
        #expect(Views.page(ObjectPage(objects: [object], next: "doc")).contains(#"b=0xab n=1 s="two words""#))
        let write = WriteResult(space: key, feed: key, seq: 42, entries: 1)
        #expect(Views.write(write, "put doc") == "put doc: wrote 1 entry to feed abababababab… (seq 42)")
    }
}
