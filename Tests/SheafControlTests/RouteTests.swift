import SheafControl
import Testing

/// The route table both ways: what the client renders, the server matches back.
@Suite struct RouteTests {
    let space = RecordingControl.space
    static let ids = ["plain", "a/b", "with space", "100%", "plus+sign", "ü-ñ-日本", "q?x=1&y#frag", ".", "..", "%2F"]

    @Test func everyRouteRoundTrips() throws {
        var routes: [ControlRoute] = [
            .health, .metrics, .status, .listSpaces, .createSpace, .joinSpace, .space(space), .dropSpace(space),
            .admitWriter(space: space), .putBatch(space: space), .snapshot(space: space),
            .listObjects(space: space, query: ListQuery()),
            .listObjects(space: space, query: ListQuery(parent: "p/1 2", after: "a&b=c", limit: 10)),
        ]
        for id in Self.ids {
            routes += [.putObject(space: space, id: id), .getObject(space: space, id: id), .deleteObject(space: space, id: id)]
        }
        for route in routes {
            #expect(try ControlRoute.match(method: route.method.rawValue, target: route.target) == route, "\(route.target)")
        }
    }

    @Test func idsAreOneEncodedSegment() {
        let target = ControlRoute.getObject(space: space, id: "a/b c").target
        #expect(target == "/v1/spaces/\(space)/objects/a%2Fb%20c")
    }

    @Test func unknownPathIsNotFound() {
        for target in ["/", "/v2/status", "/v1/spaces/\(space)/nothing", "/v1/spaces/\(space)/objects/a/b", "v1/status"] {
            #expect(throws: ControlError.self) { try ControlRoute.match(method: "GET", target: target) }
            #expect(code(method: "GET", target) == .notFound, "\(target)")
        }
    }

    @Test func wrongMethodIsNotAllowed() {
        #expect(code(method: "DELETE", "/v1/status") == .methodNotAllowed)
        #expect(code(method: "GET", "/v1/spaces/join") == .methodNotAllowed)
        #expect(code(method: "PATCH", "/v1/spaces") == .methodNotAllowed)
        #expect(ControlRoute.allowedMethods(target: "/v1/spaces/\(space)/objects/x") == [.get, .put, .delete])
    }

    @Test func badKeysIdsAndQueriesAreBadRequests() {
        #expect(code(method: "GET", "/v1/spaces/xyz") == .badRequest)
        #expect(code(method: "GET", "/v1/spaces/\(space)/objects/%zz") == .badRequest)
        #expect(code(method: "GET", "/v1/spaces/\(space)/objects/%C3") == .badRequest)  // half a UTF-8 sequence
        #expect(code(method: "GET", "/v1/spaces/\(space)/objects?limit=0") == .badRequest)
        #expect(code(method: "GET", "/v1/spaces/\(space)/objects?limit=10001") == .badRequest)
        #expect(code(method: "GET", "/v1/spaces/\(space)/objects?limit=ten") == .badRequest)
        #expect(code(method: "GET", "/v1/spaces/\(space)/objects?parnet=a") == .badRequest)
    }

    @Test func spaceKeysAreCanonicalisedToLowercase() throws {
        let route = try ControlRoute.match(method: "GET", target: "/v1/spaces/\(space.uppercased())")
        #expect(route == .space(space))
    }

    @Test func onlyHealthAndMetricsGoWithoutToken() {
        #expect(!ControlRoute.health.requiresToken)
        #expect(!ControlRoute.metrics.requiresToken)
        #expect(ControlRoute.status.requiresToken)
        #expect(ControlRoute.putBatch(space: space).requiresToken)
    }

    @Test func percentEncodingRoundTrips() {
        for text in Self.ids + ["", "~-._", "\u{0}"] {
            #expect(PercentEncoding.decode(PercentEncoding.encode(text)) == text)
        }
        #expect(PercentEncoding.decode("a+b") == "a+b")
        #expect(PercentEncoding.decode("%4") == nil)
    }

    private func code(method: String, _ target: String) -> ControlError.Code? {
        do {
            _ = try ControlRoute.match(method: method, target: target)
            return nil
        } catch {
            return error.code
        }
    }
}
