import PeerCLI
import SheafControl
import SheafModels
import Testing

/// `peer put`'s value syntax, both ways.
@Suite struct FieldSyntaxTests {
    @Test(arguments: [
        ("42", FieldValue.int(42)), ("-7", .int(-7)), ("0", .int(0)), ("9223372036854775807", .int(.max)),
        ("4.2", .double(4.2)), ("-0.5", .double(-0.5)), ("1e6", .double(1e6)), ("2.5E-3", .double(0.0025)), ("4.0", .double(4)),
        ("true", .bool(true)), ("false", .bool(false)), ("null", .null),
        ("0x00ff", .bytes([0, 255])), ("0x", .bytes([])),
        ("\"42\"", .string("42")), ("\"true\"", .string("true")), ("\"\"", .string("")),
        ("hello", .string("hello")), ("", .string("")), ("4.", .string("4.")), (".5", .string(".5")), ("1e", .string("1e")),
        ("nan", .string("nan")), ("inf", .string("inf")), ("True", .string("True")), ("a=b", .string("a=b")), ("\"", .string("\"")),
    ])
    func parsesValues(_ text: String, _ expected: FieldValue) throws {
        #expect(try FieldSyntax.parseValue(text) == expected)
    }

    @Test func refusesWhatItCannotRead() {
        #expect(throws: ControlError.self) { try FieldSyntax.parseValue("0xabc") }
        #expect(throws: ControlError.self) { try FieldSyntax.parseValue("0xzz") }
        #expect(throws: ControlError.self) { try FieldSyntax.parseValue("99999999999999999999") }
        #expect(throws: ControlError.self) { try FieldSyntax.parseAssignment("novalue") }
        #expect(throws: ControlError.self) { try FieldSyntax.parseAssignment("=5") }
    }

    @Test func assignmentsSplitAtTheFirstEquals() throws {
        let (name, value) = try FieldSyntax.parseAssignment("url=a=b")
        #expect(name == "url")
        #expect(value == .string("a=b"))
        #expect(try FieldSyntax.parseAssignment("empty=") == ("empty", .string("")))
    }

    @Test(arguments: [
        FieldValue.int(42), .double(4), .double(4.25), .double(1e300), .double(-0.0), .bool(true), .null, .bytes([1, 2]),
        .string("hello"), .string("two words"), .string("42"), .string("true"), .string(""), .string("0x12"), .string("null"), .string("4.5"),
    ])
    func renderedValuesParseBack(_ value: FieldValue) throws {
        let text = FieldSyntax.render(value)
        // FieldValue compares doubles by bit pattern, so -0.0 must come back as -0.0.
        #expect(try FieldSyntax.parseValue(text) == value, "\(text)")
    }
}
