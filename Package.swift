// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "attachd",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "attachd", targets: ["attachd"]),
        .executable(name: "attachctl", targets: ["attachctl"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CSystemd",
            pkgConfig: "libsystemd",
            providers: [.apt(["libsystemd-dev"])]
        ),
        // epoll(7) and eventfd(2), which the Glibc module does not import (header only).
        .systemLibrary(name: "CLinux"),
        .target(
            name: "AttachProtocol",
            exclude: ["io.attachd.Broker.varlink"]
        ),
        .target(
            name: "AttachCore",
            dependencies: ["AttachProtocol"]
        ),
        // The only module that calls the kernel; it links no libsystemd, so attachctl can be
        // one static executable.
        .target(name: "AttachSystem", dependencies: ["CLinux"]),
        // libsystemd for the daemon: sd-daemon (activation, notify, fd store) and the journal.
        .target(
            name: "AttachSystemd",
            dependencies: ["AttachSystem", "CSystemd"]
        ),
        .target(
            name: "AttachDaemon",
            dependencies: [
                "AttachProtocol", "AttachCore", "AttachSystem", "AttachSystemd",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "AttachClient",
            dependencies: ["AttachProtocol", "AttachSystem"]
        ),
        // attachctl's presentation: tables, times, messages for people, doctor's findings.
        .target(
            name: "AttachCtlKit",
            dependencies: ["AttachClient", "AttachProtocol", "AttachSystem"]
        ),
        .executableTarget(
            name: "attachd",
            dependencies: [
                "AttachDaemon", "AttachSystem", "AttachSystemd", "AttachProtocol",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "attachctl",
            dependencies: [
                "AttachClient", "AttachCtlKit", "AttachProtocol", "AttachSystem",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "attachbench",
            dependencies: [
                "AttachClient", "AttachProtocol", "AttachSystem",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "AttachProtocolTests", dependencies: ["AttachProtocol"]),
        .testTarget(name: "AttachCoreTests", dependencies: ["AttachCore", "AttachProtocol"]),
        .testTarget(name: "AttachSystemTests", dependencies: ["AttachSystem", "AttachSystemd"]),
        .testTarget(
            name: "AttachDaemonTests",
            dependencies: [
                "AttachDaemon", "AttachCore", "AttachProtocol", "AttachSystem", "AttachSystemd",
                .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(name: "AttachClientTests", dependencies: ["AttachClient", "AttachProtocol"]),
        .testTarget(
            name: "attachctlTests",
            dependencies: ["attachctl", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .testTarget(name: "AttachCtlKitTests", dependencies: ["AttachCtlKit", "AttachClient", "AttachProtocol"]),
    ]
)
