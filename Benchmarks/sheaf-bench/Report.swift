#if canImport(Glibc)
import Glibc
#endif
import SheafFiles
@_exported import SheafRandom

/// One benchmark result: printed as a single JSON line, keys in insertion order.
struct Report {
    private var fields: [(String, String)] = []

    init(bench: String) { add("bench", bench) }

    mutating func add(_ key: String, _ value: String) { fields.append((key, "\"\(value)\"")) }
    mutating func add(_ key: String, _ value: Int) { fields.append((key, String(value))) }
    mutating func add(_ key: String, _ value: Double) {
        fields.append((key, value.isFinite ? String(format3(value)) : "null"))
    }
    mutating func add(_ key: String, _ value: Bool) { fields.append((key, value ? "true" : "false")) }

    var json: String { "{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}" }

    func print() { Swift.print(json) }

    private func format3(_ v: Double) -> String {
        let scaled = (v * 1000).rounded() / 1000
        return scaled == scaled.rounded() && abs(scaled) < 1e15 ? String(Int(scaled)) : String(scaled)
    }
}

/// Progress for humans, on standard error so stdout stays machine-readable.
func progress(_ message: String) {
    var line = message + "\n"
    line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}

/// Peak resident set size of this process, in MB: VmHWM from
/// /proc/self/status (per address space, so a child spawned from a large
/// parent reports its own peak; getrusage's ru_maxrss survives exec).
func peakRSSMegabytes() -> Double {
    if let file = fopen("/proc/self/status", "r") {
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 256)
        while fgets(&line, Int32(line.count), file) != nil {
            let bytes = line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
            let text = String(decoding: bytes, as: UTF8.self)
            let fields = text.dropFirst(6).split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" })
            if text.hasPrefix("VmHWM:"), let kb = Double(fields.first ?? "") {
                return kb / 1024
            }
        }
    }
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
}

func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}

/// Times `body` on the continuous clock.
func measure<R>(_ body: () throws -> R) rethrows -> (R, Double) {
    let clock = ContinuousClock()
    let start = clock.now
    let result = try body()
    return (result, seconds(clock.now - start))
}

/// A temporary directory removed when the benchmark ends.
struct TemporaryDirectory: ~Copyable {
    let path: String

    init(prefix: String) {
        var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "cannot create a temporary directory in /tmp")
        path = String(cString: template.withUnsafeBufferPointer { $0.baseAddress! })
    }

    deinit { try? Directory.removeTree(path) }
}

import SheafCrypto

/// Known answers checked in the build being measured (release), so an
/// optimizer that miscompiles a primitive fails loudly instead of producing
/// fast, wrong figures. Values computed independently with Python's hashlib.
func checkKnownAnswers() throws {
    let entryDomain = Hash.of(Array("abc".utf8), domain: HashDomain("sheaf/entry/v1"))
    let boundary = Hash.of(Array("oobj-0".utf8), domain: HashDomain("sheaf/boundary"))
    let streamed = Hasher(domain: HashDomain("sheaf/entry/v1"))
    streamed.update(Array("ab".utf8))
    streamed.update(Array("c".utf8))
    guard entryDomain.hex == "07fcd15a3cd0947b787ef96ed2bf971e7771a5b06c4d0797a3be15aad78a1204",
          boundary.hex == "727fdf791ea560bca1cd79a3de930a8b13cc9b7791e5998eba5f179480d550cc",
          streamed.finalize() == entryDomain,
          boundary.raw.bytes.prefix(8).reversed().reduce(UInt64(0), { $0 << 8 | UInt64($1) }) % 8 == 2
    else {
        progress("BLAKE2b known-answer check FAILED in this build: refusing to report figures")
        throw KnownAnswerFailure()
    }
}

struct KnownAnswerFailure: Error {}
