import SheafFuzzTargets
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Replays every committed fuzz input (the seed corpus and each crash the
/// fuzzers ever found, under FuzzTesting/Regressions) through the same
/// bodies libFuzzer runs, so a fixed crash stays fixed.
@Suite("Fuzz corpus and regressions")
struct FuzzRegressionTests {
    static let fuzzRoot: String = {
        // Tests/SheafFuzzRegressionTests/<this file> → package root.
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        return parts.joined(separator: "/") + "/FuzzTesting"
    }()

    static func inputs(_ target: String) -> [(String, [UInt8])] {
        ["Corpus", "Regressions"].flatMap { kind -> [(String, [UInt8])] in
            let dir = "\(fuzzRoot)/\(kind)/\(target)"
            guard let handle = opendir(dir) else { return [] }
            defer { closedir(handle) }
            var files: [(String, [UInt8])] = []
            while let entry = readdir(handle) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                guard !name.hasPrefix("."), let file = fopen("\(dir)/\(name)", "rb") else { continue }
                var bytes: [UInt8] = []
                var buffer = [UInt8](repeating: 0, count: 65536)
                while true {
                    let n = fread(&buffer, 1, buffer.count, file)
                    if n <= 0 { break }
                    bytes.append(contentsOf: buffer[0..<n])
                }
                fclose(file)
                files.append(("\(kind)/\(target)/\(name)", bytes))
            }
            return files
        }
    }

    @Test("every target has a seed corpus", arguments: FuzzTargets.all.map(\.name))
    func corpusExists(_ target: String) {
        #expect(Self.inputs(target).contains { $0.0.hasPrefix("Corpus/") }, "FuzzTesting/Corpus/\(target) is empty")
    }

    @Test("every committed input runs without a crash", arguments: FuzzTargets.all.map(\.name))
    func replay(_ target: String) throws {
        let body = try #require(FuzzTargets.all.first { $0.name == target }?.body)
        for (_, bytes) in Self.inputs(target) {
            body(bytes)
            // Every prefix too: truncations are the commonest hostile input.
            for cut in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 64)) { body(Array(bytes[0..<cut])) }
        }
    }
}
