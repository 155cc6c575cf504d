import SheafCodec
import Testing
@_exported import SheafRandom

/// Runs `body` and returns the `DecodingError` it throws, or nil if it
/// succeeds. Any other error is recorded as a test failure.
func decodingError<R>(_ body: () throws -> R, sourceLocation: SourceLocation = #_sourceLocation) -> DecodingError? {
    do {
        _ = try body()
        return nil
    } catch let error as DecodingError {
        return error
    } catch {
        Issue.record("expected a DecodingError, got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}
