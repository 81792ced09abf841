// swift-tools-version:6.0
import PackageDescription

// Hot numeric loops need optimisation even in debug builds, or the tests that train a tiny
// network would take minutes. `-Ounchecked` is not used: bounds checks stay on everywhere.
// Haswell's instruction set (AVX2, FMA: every x86 server since 2015, and this project's machines) lets the
// SIMD kernels use 8-wide vectors and fused multiply-adds instead of baseline SSE2.
// Swift 5 language mode: the parallel kernels capture raw pointers in `concurrentPerform`
// closures, which the Swift 6 checker rejects as non-Sendable; each worker writes its own
// disjoint range instead.
#if arch(x86_64)
let cpuFlags = ["-target-cpu", "haswell"]
#else
let cpuFlags: [String] = []
#endif
let optimised: [SwiftSetting] = [.unsafeFlags(["-O"] + cpuFlags), .swiftLanguageMode(.v5)]
// The AVX-512 kernels (C, intrinsics): each function carries its own target attribute, so the
// target is compiled for the baseline CPU and `KernelISA` calls them only where they can run.
// Optimised in debug builds too, for the same reason as the Swift kernels.
let optimisedC: [CSetting] = [.unsafeFlags(["-O3"])]

let package = Package(
    name: "Detector",
    products: [
        .library(name: "Detector", targets: ["Detector"]),
        .executable(name: "detect", targets: ["detect"]),
        .executable(name: "train-detector", targets: ["train-detector"]),
        .executable(name: "detector-bench", targets: ["detector-bench"]),
        .executable(name: "detector-fuzz", targets: ["detector-fuzz"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(name: "CPNG", path: "Sources/CPNG", pkgConfig: "libpng",
                       providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CJPEG", path: "Sources/CJPEG", pkgConfig: "libturbojpeg",
                       providers: [.apt(["libturbojpeg0-dev"])]),
        .systemLibrary(name: "CFreeType", path: "Sources/CFreeType", pkgConfig: "freetype2",
                       providers: [.apt(["libfreetype-dev"])]),
        .target(name: "CKernels", path: "Sources/CKernels", cSettings: optimisedC),
        .target(name: "Detector", dependencies: ["CPNG", "CJPEG", "COpenBLAS", "CFreeType", "CKernels"], swiftSettings: optimised),
        .target(name: "CommandSupport", dependencies: [
            "Detector", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "detect", dependencies: [
            "Detector", "CommandSupport", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "train-detector", dependencies: [
            "Detector", "CommandSupport", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "detector-bench", dependencies: [
            "Detector", "CommandSupport", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: optimised),
        // The loaders' fuzz driver (`make fuzz`; the tests run it for a bounded number of cases).
        // CommandSupport for the shipped files (the seeds include models/).
        .executableTarget(name: "detector-fuzz", dependencies: [
            "Detector", "CommandSupport", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // CommandSupport for the lookup of the shipped files (ShippedFiles.swift), which the tests check directly.
        .testTarget(name: "DetectorTests", dependencies: ["Detector", "CommandSupport"], resources: [.copy("Fixtures")]),
    ]
)
