// swift-tools-version:6.0
import PackageDescription

// Fedgate: a Dex-compatible OpenID Connect issuer that federates pluggable connectors.
// Dependencies point one way: FedgateCore <- {Connectors, ClaimMapping, Storage, Signing} <- Gateway <- fedgate.

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "fedgate",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "fedgate", targets: ["fedgate"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        .package(url: "https://github.com/vapor/jwt-kit", from: "5.7.1"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/vapor/sqlite-nio", from: "1.13.2"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.32.0"),
    ],
    targets: [
        // System libraries
        .systemLibrary(name: "CCrypt", path: "Sources/CCrypt", providers: [.apt(["libcrypt-dev"])]),
        .systemLibrary(name: "COpenSSL", path: "Sources/COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CLDAP", path: "Sources/CLDAP", pkgConfig: "ldap", providers: [.apt(["libldap2-dev"])]),
        .systemLibrary(name: "CCurl", path: "Sources/CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CSysRandom", path: "Sources/CSysRandom"),

        // Shared seam types: identities, scopes, IDs, Dex wire encodings. Foundation (and glibc's getrandom) only.
        .target(name: "FedgateCore", dependencies: [.target(name: "CSysRandom", condition: .when(platforms: [.linux]))], swiftSettings: swiftSettings),

        .target(name: "ClaimMapping", dependencies: ["FedgateCore"], swiftSettings: swiftSettings),

        .target(
            name: "Connectors",
            dependencies: ["FedgateCore", "CCrypt", "CLDAP", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),

        .target(
            name: "Storage",
            dependencies: [
                "FedgateCore", "CCurl",
                .product(name: "SQLiteNIO", package: "sqlite-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The conformance suite every backend runs. A plain target (test targets cannot depend on test targets).
        .target(name: "StorageConformance", dependencies: ["Storage", "FedgateCore"], swiftSettings: swiftSettings),

        .target(
            name: "Signing",
            dependencies: [
                "FedgateCore", "Storage", "COpenSSL",
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        .target(
            name: "Gateway",
            dependencies: [
                "FedgateCore", "Storage", "Connectors", "ClaimMapping", "Signing",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            resources: [.copy("Web")],
            swiftSettings: swiftSettings
        ),

        // Sets Swift Concurrency's global-enqueue hook by symbol at link time (see EventLoopExecutor.swift).
        .target(name: "CExecutorHook"),

        .executableTarget(
            name: "fedgate",
            dependencies: [
                "Gateway", "Storage", "CExecutorHook",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        // Bounded child processes for the tests that start real services (slapd, postgres, etcd).
        .target(name: "TestProcessSupport", path: "Tests/TestProcessSupport", swiftSettings: swiftSettings),

        .testTarget(name: "FedgateCoreTests", dependencies: ["FedgateCore"]),
        .testTarget(name: "ClaimMappingTests", dependencies: ["ClaimMapping", "FedgateCore"]),
        .testTarget(name: "ConnectorsTests", dependencies: ["Connectors", "FedgateCore", "TestProcessSupport", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "StorageTests", dependencies: ["Storage", "StorageConformance", "FedgateCore", "TestProcessSupport", .product(name: "Logging", package: "swift-log"), .product(name: "SQLiteNIO", package: "sqlite-nio"), .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio")]),
        .testTarget(name: "SigningTests", dependencies: ["Signing", "Storage", "FedgateCore", .product(name: "JWTKit", package: "jwt-kit"), .product(name: "_CryptoExtras", package: "swift-crypto"), .product(name: "Logging", package: "swift-log")]),
        .testTarget(
            name: "GatewayTests",
            dependencies: [
                "Gateway", "Storage", "Connectors", "Signing", "FedgateCore",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            resources: [.copy("Fixtures")]
        ),
    ]
)
