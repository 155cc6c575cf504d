import Foundation
import SheafControl
import SheafModels
import Testing

/// Field values through JSON: every variant comes back as itself (FieldValue's
/// `==` compares doubles bit for bit, so -0 must come back as -0).
@Suite struct FieldValueJSONTests {
    static let values: [FieldValue] = [
        .null, .bool(true), .bool(false), .int(0), .int(-1), .int(42), .int(.max), .int(.min),
        .double(4.0), .double(-0.0), .double(0.1), .double(-2.5), .double(1e300), .double(-1e-300), .double(9.2e18),
        .double(9_223_372_036_854_775_808.0), .double(.infinity), .double(-.infinity),
        .string(""), .string("42"), .string("true"), .string("ünïcødé \"quoted\" \n"), .bytes([]), .bytes([0, 1, 0xfe, 0xff]),
    ]

    @Test(arguments: values) func roundTrips(_ value: FieldValue) throws {
        let data = try JSONEncoder().encode(value)
        let back = try JSONDecoder().decode(FieldValue.self, from: data)
        #expect(back == value, "\(String(decoding: data, as: UTF8.self))")
    }

    @Test func nanRoundTripsAsNaN() throws {
        let data = try JSONEncoder().encode(FieldValue.double(.nan))
        guard case .double(let back) = try JSONDecoder().decode(FieldValue.self, from: data) else {
            Issue.record("NaN did not come back as a double")
            return
        }
        #expect(back.isNaN)
    }

    @Test func wholeDoublesAreBoxedAndOthersPlain() throws {
        #expect(try text(.double(4)) == #"{"double":4}"#)
        #expect(try text(.double(0.5)) == "0.5")
        #expect(try text(.int(4)) == "4")
        #expect(try text(.bytes([0xab])) == #"{"bytes":"ab"}"#)
    }

    @Test func largeIntegersBeyondInt64AreDoubles() throws {
        #expect(try decode("9223372036854775807") == .int(.max))
        #expect(try decode("9223372036854775808") == .double(9_223_372_036_854_775_808.0))
        #expect(try decode("1e20") == .double(1e20))
        #expect(try decode("2.5") == .double(2.5))
        #expect(try decode(#"{"double":4}"#) == .double(4))
        #expect(try decode(#"{"double":"-inf"}"#) == .double(-.infinity))
        #expect(try decode(#"{"bytes":"00ff"}"#) == .bytes([0, 255]))
    }

    @Test func malformedValuesAreRefused() {
        for json in [#"{"bytes":"abc"}"#, #"{"bytes":"zz"}"#, #"{"double":"big"}"#, #"{"other":1}"#, #"{"bytes":"00","double":1}"#, "[1]", "{}"] {
            #expect(throws: (any Error).self, "\(json)") { try decode(json) }
        }
    }

    @Test func bodiesDecodeWithFieldPathsInErrors() throws {
        let body = Data(#"{"fields":{"a":[1]}}"#.utf8)
        do {
            _ = try ControlJSON.decode(PutObjectRequest.self, from: body, what: "the request body")
            Issue.record("an array field value was accepted")
        } catch {
            #expect(error.code == .badRequest)
            #expect(error.message.contains("fields.a"), "\(error.message)")
        }
        let missing = Data(#"{"puts":[{"id":"x"}]}"#.utf8)
        #expect(throws: ControlError.self) { try ControlJSON.decode(PutBatchRequest.self, from: missing, what: "body") }
    }

    private func decode(_ json: String) throws -> FieldValue {
        try JSONDecoder().decode(FieldValue.self, from: Data(json.utf8))
    }

    private func text(_ value: FieldValue) throws -> String {
        String(decoding: try JSONEncoder().encode(value), as: UTF8.self)
    }
}
