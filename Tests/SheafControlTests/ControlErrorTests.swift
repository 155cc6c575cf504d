import SheafControl
import Testing

/// Codes and HTTP statuses: one table, read both ways.
@Suite struct ControlErrorTests {
    @Test func everyCodeComesBackFromItsStatus() {
        let statuses = ControlError.Code.allCases.map { ControlError($0, "").httpStatus }
        #expect(Set(statuses).count == ControlError.Code.allCases.count)
        for code in ControlError.Code.allCases {
            #expect(ControlError.code(forHTTPStatus: ControlError(code, "").httpStatus) == code)
        }
        #expect(ControlError(.notFound, "").httpStatus == 404)
        #expect(ControlError(.unavailable, "").httpStatus == 503)
    }

    @Test func otherStatusesAreInternal() {
        for status in [200, 418, 429, 502, 504] {
            #expect(ControlError.code(forHTTPStatus: status) == .internal)
        }
    }
}
