import Foundation
import SheafCrypto
import Testing
@_exported import SheafRandom
@_exported import SheafTestSupport

func bytes32(_ text: String) -> Bytes32 { Bytes32(hexBytes(text))! }

/// One vector of Fixtures/cacophony-25519-ChaChaPoly-BLAKE2b.json.
struct NoiseVector: Decodable, Sendable, CustomStringConvertible {
    struct Message: Decodable, Sendable {
        var payload: String
        var ciphertext: String
    }

    var protocol_name: String
    var init_prologue: String
    var init_psks: [String]?
    var init_static: String?
    var init_ephemeral: String
    var init_remote_static: String?
    var resp_prologue: String
    var resp_psks: [String]?
    var resp_static: String?
    var resp_ephemeral: String?
    var resp_remote_static: String?
    var handshake_hash: String
    var messages: [Message]

    var description: String { protocol_name }

    static let all: [NoiseVector] = {
        struct File: Decodable { var vectors: [NoiseVector] }
        let url = Bundle.module.url(forResource: "Fixtures/cacophony-25519-ChaChaPoly-BLAKE2b", withExtension: "json")!
        return try! JSONDecoder().decode(File.self, from: Data(contentsOf: url)).vectors
    }()
}

/// The error of type `E` that `body` throws; nil (and a recorded issue for
/// any other error) otherwise.
func thrown<E: Error>(_ type: E.Type, _ body: () throws -> Void) -> E? {
    do {
        try body()
        return nil
    } catch let error as E {
        return error
    } catch {
        Issue.record("unexpected error \(error)")
        return nil
    }
}
