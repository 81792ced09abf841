// swift-tools-version:6.0
import PackageDescription

// Hot numeric loops need optimisation even in debug builds, or the tests that train a tiny
// network would take minutes. `-Ounchecked` is not used: bounds checks stay on everywhere.
let optimised: [SwiftSetting] = [.unsafeFlags(["-O"]), .swiftLanguageMode(.v5)]

let package = Package(
    name: "Detector",
    products: [
        .library(name: "Detector", targets: ["Detector"]),
        .executable(name: "detect", targets: ["detect"]),
        .executable(name: "train-detector", targets: ["train-detector"]),
        .executable(name: "detector-bench", targets: ["detector-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(name: "CPNG", path: "Sources/CPNG", pkgConfig: "libpng",
                       providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .target(name: "Detector", dependencies: ["CPNG", "COpenBLAS"], swiftSettings: optimised),
        .executableTarget(name: "detect", dependencies: [
            "Detector", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "train-detector", dependencies: [
            "Detector", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "detector-bench", dependencies: [
            "Detector", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: optimised),
        .testTarget(name: "DetectorTests", dependencies: ["Detector"], resources: [.copy("Fixtures")]),
    ]
)
