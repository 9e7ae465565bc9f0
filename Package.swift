// swift-tools-version: 6.1
import Foundation
import PackageDescription

// Targets follow docs/ARCHITECTURE.md: C shim → pure core → AMQP / store layers → services → thin CLI.
let package = Package(
    name: "jippnas",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "jippnas", targets: ["jippnas"]),
        .executable(name: "jippnas-bench", targets: ["jippnas-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-configuration", from: "1.4.0", traits: [.defaults, "YAML"]),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/yaslab/CSV.swift", from: "2.5.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-openapi-runtime", from: "1.13.4"),
        .package(url: "https://github.com/hummingbird-project/swift-openapi-hummingbird", from: "2.1.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-openapi-async-http-client", from: "1.5.0"),
    ],
    targets: [
        // rabbitmq-c, reached through a shim of static inline wrappers only.
        .systemLibrary(
            name: "CRabbitMQ",
            pkgConfig: "librabbitmq",
            providers: [.apt(["librabbitmq-dev"])]
        ),
        // Hunspell with Debian's Indonesian dictionary, and Snowball's stemmers: the stems of words for search.
        .systemLibrary(name: "CHunspell", pkgConfig: "hunspell", providers: [.apt(["libhunspell-dev", "hunspell-id"])]),
        .systemLibrary(name: "CSnowball", providers: [.apt(["libstemmer-dev"])]),
        // Records, envelope codec, validation, routing keys and the decision state machines. No I/O, no C.
        .target(
            name: "JippnasCore",
            dependencies: [.product(name: "CSV", package: "CSV.swift")]
        ),
        // The only importer of CRabbitMQ: connection, topology, confirming publisher, consumer.
        .target(
            name: "JippnasAMQP",
            dependencies: ["CRabbitMQ", "JippnasCore"]
        ),
        // Indonesian text analysis for search: the only importer of CHunspell and CSnowball.
        .target(name: "JippnasText", dependencies: ["JippnasCore", "CHunspell", "CSnowball"]),
        // The catalogue's FTS5 rank function, in C against SQLite's extension API (bm25 without IDF).
        .target(name: "CSearchRank", linkerSettings: [.linkedLibrary("sqlite3")]),
        // SQLite (GRDB): the hub store with its transactional outbox, and the national catalogue.
        .target(
            name: "JippnasStore",
            dependencies: ["JippnasCore", "JippnasText", "CSearchRank", .product(name: "GRDB", package: "GRDB.swift")]
        ),
        // Provenance: hub signing keys, the aggregator's trust store and the cross-checks (swift-crypto Ed25519).
        .target(
            name: "JippnasTrust",
            dependencies: ["JippnasCore", .product(name: "Crypto", package: "swift-crypto")]
        ),
        // Config, logging: everything operational that is not a daemon's logic.
        .target(
            name: "JippnasOps",
            dependencies: [
                "JippnasCore",
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The optional HTTP listener: Prometheus /metrics and /healthz.
        .target(
            name: "JippnasHTTP",
            dependencies: [
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The catalogue's read-only HTTP API, spec-first: openapi.json is served as it is, and the server
        // types in Generated/ are generated from it by scripts/generate-api (committed, so that no build
        // compiles the generator; a test checks they match the document).
        .target(
            name: "JippnasAPI",
            dependencies: [
                "JippnasCore", "JippnasStore", "JippnasOps",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
                .product(name: "OpenAPIHummingbird", package: "swift-openapi-hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            exclude: ["openapi-generator-config.yaml"],
            resources: [.embedInCode("openapi.json")]
        ),
        // The catalogue's web pages (Indonesian), server-rendered from Mustache templates compiled in.
        .target(
            name: "JippnasWeb",
            dependencies: [
                "JippnasCore", "JippnasStore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Logging", package: "swift-log"),
            ],
            resources: [
                .embedInCode("Templates/layout.mustache"), .embedInCode("Templates/search.mustache"),
                .embedInCode("Templates/detail.mustache"), .embedInCode("Templates/style.css"),
            ]
        ),
        // The hub relay and the national aggregator as long-running services.
        .target(
            name: "JippnasServices",
            dependencies: [
                "JippnasCore", "JippnasAMQP", "JippnasStore", "JippnasOps", "JippnasTrust",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "jippnas",
            dependencies: [
                "JippnasCore", "JippnasAMQP", "JippnasStore", "JippnasServices", "JippnasOps", "JippnasHTTP",
                "JippnasTrust", "JippnasAPI", "JippnasWeb",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        // Benchmarks live apart from the tests: they print figures, they assert nothing.
        .executableTarget(
            name: "jippnas-bench",
            dependencies: [
                "JippnasCore", "JippnasAMQP", "JippnasStore", "JippnasServices", "JippnasOps", "JippnasTrust",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        .target(
            name: "JippnasTestSupport",
            dependencies: ["JippnasCore", "JippnasAMQP", "JippnasStore", "JippnasServices", "JippnasOps", "JippnasTrust",
                           .product(name: "Logging", package: "swift-log")],
            path: "Tests/Support"
        ),
        .testTarget(name: "JippnasCoreTests", dependencies: ["JippnasCore", "JippnasTrust", "JippnasTestSupport"]),
        .testTarget(name: "JippnasStoreTests", dependencies: ["JippnasStore", "JippnasText", "JippnasTestSupport"]),
        .testTarget(name: "JippnasTextTests", dependencies: ["JippnasText", "JippnasCore"]),
        // The HTTP API and web pages through real HTTP clients against a running aggregator: a client
        // generated from the same openapi.json (Generated/, by scripts/generate-api, over the server's own
        // generated types, so every response is decoded against the document) over async-http-client, and
        // headless Chromium for the pages.
        .testTarget(
            name: "JippnasHTTPTests",
            dependencies: [
                "JippnasCore", "JippnasStore", "JippnasTestSupport", "JippnasOps", "JippnasAPI",
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
                .product(name: "OpenAPIAsyncHTTPClient", package: "swift-openapi-async-http-client"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            exclude: ["openapi-generator-config.yaml"]
        ),
        .testTarget(
            name: "JippnasIntegrationTests",
            dependencies: ["JippnasCore", "JippnasAMQP", "JippnasStore", "JippnasServices", "JippnasTestSupport",
                           "JippnasTrust", "JippnasOps",
                           .product(name: "Logging", package: "swift-log")]
        ),
    ],
    swiftLanguageModes: [.v6]
)

// Micro-benchmarks of the hot functions (package-benchmark, allocations counted): built only when asked
// for, by scripts/micro-bench, so that the tests and CI never resolve or build the harness.
if ProcessInfo.processInfo.environment["JIPPNAS_MICRO_BENCHMARKS"] != nil {
    package.dependencies.append(
        .package(url: "https://github.com/ordo-one/benchmark", exact: "1.38.1", traits: ["MallocInterposer"]))
    package.targets.append(
        .executableTarget(
            name: "HotPaths",
            dependencies: ["JippnasCore", "JippnasStore", "JippnasTrust", .product(name: "Benchmark", package: "benchmark")],
            path: "Benchmarks/HotPaths",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ))
}
