// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "wdpost",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "wdpost", targets: ["wdpost"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/LebJe/TOMLKit.git", from: "0.6.0"),
        // Both daemons are groups of services started and stopped in order on SIGTERM/SIGINT.
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
    ],
    targets: [
        // C: hashing (OpenSSL) and, later, the proof/compute kernels.
        .target(
            name: "CKernels",
            // Debug builds compile C at -O0, which makes a GEMM or tree build
            // tens of times slower in the tests; the kernels are always optimised.
            cSettings: [.unsafeFlags(["-O2"], .when(configuration: .debug))],
            linkerSettings: [.linkedLibrary("crypto"), .linkedLibrary("pthread")]
        ),
        .systemLibrary(name: "CSQLite", providers: [.apt(["libsqlite3-dev"])]),
        // The MariaDB/MySQL client (production store).
        .systemLibrary(name: "CMariaDB", providers: [.apt(["libmariadb-dev"])]),
        .target(
            name: "Shared",
            dependencies: [
                "CKernels",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "TOMLKit", package: "TOMLKit"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "Master",
            dependencies: [
                "Shared", "CSQLite", "CMariaDB",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "Slave",
            dependencies: [
                "Shared",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                // The chain check's JSON-RPC over HTTP (DBC rent confirmation).
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "wdpost",
            dependencies: [
                "Shared", "Master", "Slave",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // Benchmark load generator for scripts/bench.sh: emulated slaves and admin
        // clients speaking the real protocol (handshake, heartbeats, parked pulls).
        .executableTarget(
            name: "wdpost-bench",
            dependencies: [
                "Shared",
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "WdpostTests",
            dependencies: ["Shared", "Master", "Slave", "wdpost", .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                           .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["Shared", "Master", "Slave", .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio")]
        ),
    ],
    swiftLanguageModes: [.v5]
)
