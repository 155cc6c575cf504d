import SheafTransport
import Testing

@Suite("Reconnect backoff")
struct BackoffTests {
    @Test("doubles from the initial delay, caps at the maximum, jitters within bounds")
    func schedule() {
        let backoff = ReconnectBackoff()
        #expect(backoff.delay(attempt: 0, unit: 0.5) == .milliseconds(100))
        #expect(backoff.delay(attempt: 1, unit: 0.5) == .milliseconds(200))
        #expect(backoff.delay(attempt: 3, unit: 0.5) == .milliseconds(800))
        #expect(backoff.delay(attempt: 7, unit: 0.5) == .seconds(10))
        #expect(backoff.delay(attempt: 1000, unit: 0.5) == .seconds(10))
        #expect(backoff.delay(attempt: 0, unit: 0) == .milliseconds(80))
        #expect(backoff.delay(attempt: 7, unit: 0.999_999) < .seconds(12))
        #expect(backoff.delay(attempt: 7, unit: 0.999_999) > .milliseconds(11_999))
    }
}
