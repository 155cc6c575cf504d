// Bodies the HTTP API adds around the operations' values: wrappers that
// keep room for more fields, and the error envelope.

/// `GET /v1/health`: answered without a token, so a supervisor can probe.
public struct HealthStatus: Codable, Hashable, Sendable {
    public var ok: Bool
    public init(ok: Bool) { self.ok = ok }
}

/// `GET /v1/spaces`.
public struct SpaceList: Codable, Hashable, Sendable {
    public var spaces: [SpaceStatus]
    public init(spaces: [SpaceStatus]) { self.spaces = spaces }
}

/// `POST /v1/spaces/{space}/writers`.
public struct AdmitRequest: Codable, Hashable, Sendable {
    /// The writer's feed key (hex).
    public var writer: String
    public init(writer: String) { self.writer = writer }
}

/// `DELETE /v1/spaces/{space}`.
public struct DropResult: Codable, Hashable, Sendable {
    public var dropped: String
    public init(dropped: String) { self.dropped = dropped }
}

/// Every non-2xx reply: `{"error": {"code": …, "message": …, "hint": …}}`.
public struct ErrorBody: Codable, Hashable, Sendable {
    public var error: ControlError
    public init(error: ControlError) { self.error = error }
}
