// swift-tools-version:6.1
import PackageDescription

// Coverage-guided fuzzing of Sheaf's decoders with libFuzzer. Build only with
// `make fuzz` (release, -sanitize=fuzzer,address); the bodies live in the
// main package's SheafFuzzTargets so `make test` replays corpus and
// regressions without a fuzzing toolchain.
let package = Package(
    name: "SheafFuzzTesting",
    dependencies: [.package(name: "Sheaf", path: "..")],
    targets: [
        .executableTarget(name: "FuzzEntry", dependencies: [.product(name: "SheafFuzzTargets", package: "Sheaf")]),
        .executableTarget(name: "FuzzManifest", dependencies: [.product(name: "SheafFuzzTargets", package: "Sheaf")]),
        .executableTarget(name: "FuzzChunk", dependencies: [.product(name: "SheafFuzzTargets", package: "Sheaf")]),
        .executableTarget(name: "FuzzWire", dependencies: [.product(name: "SheafFuzzTargets", package: "Sheaf")]),
        // Writes Corpus/ (built without sanitizers).
        .executableTarget(name: "SeedCorpus", dependencies: [
            .product(name: "SheafFeeds", package: "Sheaf"), .product(name: "SheafModels", package: "Sheaf"),
            .product(name: "SheafSnapshots", package: "Sheaf"), .product(name: "SheafProtocol", package: "Sheaf"),
        ]),
    ],
    swiftLanguageModes: [.v6]
)
