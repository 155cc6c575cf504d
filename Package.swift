// swift-tools-version:6.1
import PackageDescription

// Dependencies are kept to what each layer needs (see docs/ARCHITECTURE.md):
// the library core uses only the system libsodium and libzstd; the
// argument parser serves the executables and the CLI, swift-property-based
// the tests; SwiftNIO the daemon's transport and control API (HTTP), and
// swift-metrics with swift-prometheus its /metrics.
let package = Package(
    name: "Sheaf",
    products: [
        .library(name: "SheafFeeds", targets: ["SheafFeeds"]),
        .library(name: "SheafFeedLog", targets: ["SheafFeedLog"]),
        .library(name: "SheafModels", targets: ["SheafModels"]),
        .library(name: "SheafSnapshots", targets: ["SheafSnapshots"]),
        .library(name: "SheafReplica", targets: ["SheafReplica"]),
        .library(name: "SheafFuzzTargets", targets: ["SheafFuzzTargets"]),
        .library(name: "SheafCollections", targets: ["SheafCollections"]),
        .library(name: "SheafProtocol", targets: ["SheafProtocol"]),
        .library(name: "SheafNode", targets: ["SheafNode"]),
        .library(name: "SheafNoise", targets: ["SheafNoise"]),
        .library(name: "SheafTransport", targets: ["SheafTransport"]),
        .library(name: "SheafSimulator", targets: ["SheafSimulator"]),
        .library(name: "SheafControl", targets: ["SheafControl"]),
        .library(name: "SheafMetrics", targets: ["SheafMetrics"]),
        .library(name: "PeerCLI", targets: ["PeerCLI"]),
        .executable(name: "simulate", targets: ["simulate"]),
        .executable(name: "sheaf-bench", targets: ["sheaf-bench"]),
        .executable(name: "transport-bench", targets: ["transport-bench"]),
        .executable(name: "peer", targets: ["peer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.0"),
        // Transport (encrypted TCP sessions) and HTTP (the control API's server and client).
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.81.0"),
        // /metrics: instruments (swift-metrics) kept in a registry that renders Prometheus text.
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.0.0"),
        // Graceful shutdown on SIGTERM/SIGINT for the daemon.
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
    ],
    targets: [
        // C shims: the system libraries, found through pkg-config.
        .systemLibrary(
            name: "CSodium",
            pkgConfig: "libsodium",
            providers: [.apt(["libsodium-dev"])]
        ),
        .systemLibrary(
            name: "CZstd",
            pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"])]
        ),

        // Crypto & codec layer.
        .target(name: "CCRC32C"),
        .target(name: "SheafCodec", dependencies: ["CCRC32C"]),
        .target(name: "SheafCrypto", dependencies: ["CSodium", "SheafCodec"]),
        .target(name: "SheafCompression", dependencies: ["CZstd"]),
        .target(name: "SheafFiles"),
        .target(name: "SheafCollections"),
        .target(name: "SheafRandom"),
        .target(name: "SheafParallel"),

        // Feeds layer.
        .target(name: "SheafFeeds", dependencies: ["SheafCodec", "SheafCrypto", "SheafParallel"]),
        .target(name: "SheafFeedLog", dependencies: ["SheafFeeds", "SheafFiles", "SheafCodec", "SheafCrypto", "SheafParallel"]),

        // Models & snapshots layer.
        .target(name: "SheafModels", dependencies: ["SheafCollections", "SheafCodec", "SheafCrypto"]),
        .target(name: "SheafSnapshots", dependencies: [
            "SheafCollections", "SheafCodec", "SheafCrypto", "SheafCompression", "SheafFeeds", "SheafFiles", "SheafParallel",
        ]),

        // Replica layer.
        .target(name: "SheafReplica", dependencies: [
            "SheafModels", "SheafSnapshots", "SheafFeedLog", "SheafFeeds", "SheafCollections", "SheafCodec",
            "SheafCrypto", "SheafFiles", "SheafParallel", .product(name: "Logging", package: "swift-log"),
        ]),

        // Protocol layer: the sans-IO node (overlay, broadcast, sync, snapshots).
        .target(name: "SheafProtocol", dependencies: [
            "SheafCodec", "SheafCrypto", "SheafCompression", "SheafFeeds", "SheafSnapshots", "SheafRandom",
        ]),

        // The driver that runs a protocol node against real replicas (daemon and simulator).
        .target(name: "SheafNode", dependencies: [
            "SheafProtocol", "SheafReplica", "SheafModels", "SheafSnapshots", "SheafFeeds", "SheafCrypto", "SheafCodec", "SheafFiles",
        ]),

        // Transport layer: the Noise handshake and record layer (pure), then
        // encrypted TCP sessions on SwiftNIO.
        .target(name: "SheafNoise", dependencies: ["SheafCrypto"]),
        .target(name: "SheafTransport", dependencies: [
            "SheafNoise", "SheafCrypto",
            .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),

        // Workloads shared by benchmarks, tests and the simulator.
        .target(name: "SheafWorkloads", dependencies: ["SheafReplica", "SheafModels", "SheafFeeds", "SheafCrypto", "SheafRandom"]),

        // The deterministic network simulator: a protocol-agnostic engine
        // (virtual clock, virtual network with faults) and the scenarios that
        // run real protocol nodes and replicas on it.
        .target(
            name: "SheafSimulator",
            dependencies: [
                "SheafProtocol", "SheafNode", "SheafReplica", "SheafModels", "SheafWorkloads", "SheafFeeds", "SheafSnapshots",
                "SheafCrypto", "SheafCodec", "SheafFiles", "SheafRandom", .product(name: "Logging", package: "swift-log"),
            ],
            path: "Simulations/SheafSimulator"
        ),
        .executableTarget(
            name: "simulate",
            dependencies: ["SheafSimulator", "SheafProtocol", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Simulations/simulate"
        ),

        // The control API's vocabulary (operations, bodies, errors), HTTP server and client.
        .target(name: "SheafControl", dependencies: [
            "SheafCrypto", "SheafFiles", "SheafModels",
            .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"), .product(name: "Logging", package: "swift-log"),
        ]),
        // The daemon's instruments, rendered for GET /metrics.
        .target(name: "SheafMetrics", dependencies: [
            .product(name: "Prometheus", package: "swift-prometheus"), .product(name: "CoreMetrics", package: "swift-metrics"),
        ]),
        // The operator's commands (`peer space|put|get|delete|list|status|snapshot`), talking to the daemon.
        .target(name: "PeerCLI", dependencies: [
            "SheafControl", "SheafModels", "SheafCrypto", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // The daemon: a node runtime driving the protocol over the transport,
        // its data directory, and its life cycle as a service.
        .target(name: "SheafDaemon", dependencies: [
            "SheafControl", "SheafMetrics", "SheafTransport", "SheafNode", "SheafProtocol", "SheafReplica", "SheafSnapshots", "SheafModels", "SheafFeeds",
            "SheafCrypto", "SheafFiles", .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        // Clusters of real `peer` processes: the demo, the network benchmarks, the integration tests.
        .target(name: "PeerCluster", dependencies: [
            "SheafDaemon", "SheafControl", "PeerCLI", "SheafProtocol", "SheafReplica", "SheafModels", "SheafWorkloads", "SheafRandom",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "peer", dependencies: [
            "SheafDaemon", "SheafControl", "PeerCluster", "PeerCLI", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"), .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),

        // Fuzz target bodies, shared by FuzzTesting/ (libFuzzer) and the tests.
        .target(name: "SheafFuzzTargets", dependencies: [
            "SheafCodec", "SheafCollections", "SheafCompression", "SheafCrypto", "SheafFeeds", "SheafModels", "SheafSnapshots",
            "SheafProtocol",
        ]),

        // Executables.
        .executableTarget(
            name: "sheaf-bench",
            dependencies: [
                "SheafCodec", "SheafCrypto", "SheafCompression", "SheafFeeds", "SheafFeedLog", "SheafFiles",
                "SheafModels", "SheafReplica", "SheafSnapshots", "SheafWorkloads", "SheafRandom", "SheafParallel", "PeerCluster",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Benchmarks/sheaf-bench"
        ),
        // Kept apart from sheaf-bench so its release build (make release-check) does not compile SwiftNIO.
        .executableTarget(
            name: "transport-bench",
            dependencies: ["SheafTransport", "SheafCrypto", .product(name: "Logging", package: "swift-log")],
            path: "Benchmarks/transport-bench"
        ),

        // Tests, and the harness they share (temporary directories, raw files).
        .target(name: "SheafTestSupport", dependencies: ["SheafFiles"], path: "Tests/SheafTestSupport"),
        .testTarget(
            name: "SheafCodecTests",
            dependencies: ["SheafCodec", "SheafRandom", .product(name: "PropertyBased", package: "swift-property-based")]
        ),
        .testTarget(
            name: "SheafCryptoTests",
            dependencies: ["SheafTestSupport", "SheafCrypto", "SheafCodec", "SheafRandom"]
        ),
        .testTarget(
            name: "SheafCompressionTests",
            dependencies: ["SheafCompression", "CZstd", "SheafRandom"]
        ),
        .testTarget(
            name: "SheafFeedsTests",
            dependencies: [
                "SheafTestSupport", "SheafFeeds", "SheafCrypto", "SheafCodec", "SheafRandom",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        .testTarget(
            name: "SheafFeedLogTests",
            dependencies: ["SheafTestSupport", "SheafFeedLog", "SheafFeeds", "SheafCrypto", "SheafFiles", "SheafRandom"]
        ),
        .testTarget(name: "SheafReplicaTests", dependencies: ["SheafTestSupport", "SheafReplica", "SheafModels", "SheafSnapshots", "SheafFeedLog", "SheafFeeds", "SheafCollections", "SheafCrypto", "SheafCodec", "SheafFiles", "SheafWorkloads", "SheafRandom", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "SheafFuzzRegressionTests", dependencies: ["SheafFuzzTargets"]),
        .testTarget(name: "SheafParallelTests", dependencies: ["SheafParallel", "SheafRandom"]),
        .testTarget(name: "SheafCollectionsTests", dependencies: ["SheafCollections", "SheafRandom", .product(name: "PropertyBased", package: "swift-property-based")]),
        .testTarget(name: "SheafModelsTests", dependencies: ["SheafModels", "SheafCollections", "SheafCrypto", "SheafCodec", "SheafRandom", .product(name: "PropertyBased", package: "swift-property-based")]),
        .testTarget(name: "SheafSnapshotsTests", dependencies: ["SheafTestSupport", "SheafSnapshots", "SheafModels", "SheafCollections", "SheafCrypto", "SheafCodec", "SheafCompression", "SheafFeeds", "SheafFiles", "SheafRandom", "CZstd", .product(name: "PropertyBased", package: "swift-property-based")]),
        .testTarget(name: "SheafSimulatorTests", dependencies: ["SheafSimulator", "SheafProtocol", "SheafCrypto", "SheafRandom"]),
        .testTarget(name: "SheafNodeTests", dependencies: ["SheafTestSupport", "SheafNode", "SheafProtocol", "SheafReplica", "SheafSnapshots", "SheafModels", "SheafFeeds", "SheafCrypto", "SheafCodec", "SheafFiles", "SheafRandom", .product(name: "Logging", package: "swift-log")]),
        .testTarget(
            name: "SheafNoiseTests",
            dependencies: ["SheafTestSupport", "SheafNoise", "SheafCrypto", "SheafRandom", .product(name: "PropertyBased", package: "swift-property-based")],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "SheafTransportTests",
            dependencies: [
                "SheafTransport", "SheafNoise", "SheafCrypto", "SheafRandom", .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "SheafControlTests", dependencies: [
            "SheafTestSupport", "SheafControl", "SheafModels", "SheafMetrics", "SheafCrypto", .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"), .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "PeerCLITests", dependencies: [
            "PeerCLI", "SheafControl", "SheafModels", "SheafTestSupport", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "PeerIntegrationTests", dependencies: [
            "PeerCluster", "SheafDaemon", "SheafControl", "SheafNoise", "SheafProtocol", "SheafCrypto", "SheafFeeds",
        ]),
        .testTarget(name: "SheafProtocolTests", dependencies: ["SheafProtocol", "SheafCodec", "SheafCollections", "SheafCrypto", "SheafFeeds", "SheafSnapshots", "SheafRandom", .product(name: "PropertyBased", package: "swift-property-based")]),
    ],
    swiftLanguageModes: [.v6]
)
