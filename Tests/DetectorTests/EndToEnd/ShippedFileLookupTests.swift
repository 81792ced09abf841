import Foundation
import Testing
import Detector
import CommandSupport

/// Where the commands find `models/` files, on fake layouts built in temporary
/// folders: a repository with SwiftPM's `.build` (including its `debug` → triple/debug
/// symlinks), an installed PREFIX, DETECTOR_SHARE, and a stand-in for /usr/local/share/detector.
/// Every call passes the working directory, the environment and the system share folder, so
/// nothing of this machine or of the developer's shell takes part.
@Suite struct ShippedFileLookupTests {
    static let name = "probe.json"

    /// A fake checkout: Package.swift, models/probe.json, and binaries where `swift build`
    /// puts them, with `.build/debug` and `.build/release` as the symlinks SwiftPM makes.
    static func fakeRepository() throws -> URL {
        let root = try Fixtures.temporaryFolder("lookup-repo")
        let files = FileManager.default
        try Data("// swift-tools-version:6.0\n".utf8).write(to: root.appendingPathComponent("Package.swift"))
        try files.createDirectory(at: root.appendingPathComponent("models"), withIntermediateDirectories: true)
        try Data("{}".utf8).write(to: root.appendingPathComponent("models/\(name)"))
        for configuration in ["debug", "release"] {
            let products = root.appendingPathComponent(".build/x86_64-unknown-linux-gnu/\(configuration)")
            try files.createDirectory(at: products, withIntermediateDirectories: true)
            try Data().write(to: products.appendingPathComponent("detect"))
            try files.createSymbolicLink(atPath: root.appendingPathComponent(".build/\(configuration)").path,
                                         withDestinationPath: "x86_64-unknown-linux-gnu/\(configuration)")
        }
        return root
    }

    /// A folder holding probe.json: the stand-in for /usr/local/share/detector or a share folder.
    static func shareFolder(_ label: String) throws -> URL {
        let folder = try Fixtures.temporaryFolder(label)
        try Data("{}".utf8).write(to: folder.appendingPathComponent(name))
        return folder
    }

    static func resolved(_ url: URL) -> String { url.resolvingSymlinksInPath().path }

    /// The case that once failed: `.build/debug/detect` resolves to
    /// `.build/x86_64-unknown-linux-gnu/debug/detect`, two folders above which is `.build`;
    /// the walk up to Package.swift finds the repository from every spelling, debug and release.
    @Test(arguments: [".build/debug/detect", ".build/release/detect",
                      ".build/x86_64-unknown-linux-gnu/debug/detect", ".build/x86_64-unknown-linux-gnu/release/detect"])
    func developmentBuildFindsItsRepository(binary: String) throws {
        let repository = try Self.fakeRepository()
        let elsewhere = try Fixtures.temporaryFolder("lookup-cwd")
        let system = try Fixtures.temporaryFolder("lookup-system")   // empty: must not matter
        let found = shippedFilePath(Self.name, executablePath: repository.appendingPathComponent(binary).path,
                                    environment: [:], workingDirectory: elsewhere.path, systemShare: system.path)
        let expected = Self.resolved(repository.appendingPathComponent("models/\(Self.name)"))
        #expect(found.map { URL(fileURLWithPath: $0).resolvingSymlinksInPath().path } == expected)
    }

    /// The built binary of this very test run finds this repository's models/ (without an
    /// installed copy, which could hide a broken lookup).
    @Test func thisBuildFindsThisRepository() throws {
        let elsewhere = try Fixtures.temporaryFolder("lookup-cwd")
        let empty = try Fixtures.temporaryFolder("lookup-empty")
        for command in ["detect", "train-detector"] {
            let found = shippedFilePath("tiny-dsc.json", executablePath: productsFolder.appendingPathComponent(command).path,
                                        environment: ["DETECTOR_SHARE": empty.path], workingDirectory: elsewhere.path,
                                        systemShare: empty.path)
            #expect(found.map { URL(fileURLWithPath: $0).resolvingSymlinksInPath().path }
                    == Self.resolved(repositoryRoot.appendingPathComponent("models/tiny-dsc.json")), "\(command)")
        }
    }

    /// An installed binary (PREFIX/bin/detect, or a symlink to it elsewhere) takes
    /// PREFIX/share/detector, before the machine-wide folder.
    @Test func installedBinaryFindsItsPrefix() throws {
        let prefix = try Fixtures.temporaryFolder("lookup-prefix")
        let files = FileManager.default
        try files.createDirectory(at: prefix.appendingPathComponent("bin"), withIntermediateDirectories: true)
        try files.createDirectory(at: prefix.appendingPathComponent("share/detector"), withIntermediateDirectories: true)
        try Data().write(to: prefix.appendingPathComponent("bin/detect"))
        try Data("{}".utf8).write(to: prefix.appendingPathComponent("share/detector/\(Self.name)"))
        let links = try Fixtures.temporaryFolder("lookup-links")
        try files.createSymbolicLink(at: links.appendingPathComponent("detect"), withDestinationURL: prefix.appendingPathComponent("bin/detect"))
        let system = try Self.shareFolder("lookup-system")
        let elsewhere = try Fixtures.temporaryFolder("lookup-cwd")
        let expected = Self.resolved(prefix.appendingPathComponent("share/detector/\(Self.name)"))
        for binary in [prefix.appendingPathComponent("bin/detect"), links.appendingPathComponent("detect")] {
            let found = shippedFilePath(Self.name, executablePath: binary.path, environment: [:],
                                        workingDirectory: elsewhere.path, systemShare: system.path)
            #expect(found.map { URL(fileURLWithPath: $0).resolvingSymlinksInPath().path } == expected, "\(binary.path)")
        }
    }

    /// The machine-wide folder is the last resort without DETECTOR_SHARE, and is never looked
    /// at with it (an empty DETECTOR_SHARE counts as not set, as an empty DETECTOR_MODEL does).
    @Test func detectorShareReplacesTheSystemFolder() throws {
        let system = try Self.shareFolder("lookup-system")
        let share = try Self.shareFolder("lookup-share")
        let empty = try Fixtures.temporaryFolder("lookup-empty")
        let elsewhere = try Fixtures.temporaryFolder("lookup-cwd")
        let binary = elsewhere.appendingPathComponent("bin/detect").path   // no share/, no repository
        func lookup(_ environment: [String: String]) -> String? {
            shippedFilePath(Self.name, executablePath: binary, environment: environment,
                            workingDirectory: elsewhere.path, systemShare: system.path)
        }
        #expect(lookup([:]) == system.appendingPathComponent(Self.name).path)
        #expect(lookup(["DETECTOR_SHARE": ""]) == system.appendingPathComponent(Self.name).path)
        #expect(lookup(["DETECTOR_SHARE": share.path]) == share.appendingPathComponent(Self.name).path)
        #expect(lookup(["DETECTOR_SHARE": empty.path]) == nil)
        let candidates = shippedFileCandidates(Self.name, executablePath: binary, environment: ["DETECTOR_SHARE": empty.path],
                                               workingDirectory: elsewhere.path, systemShare: system.path)
        #expect(candidates.contains(empty.appendingPathComponent(Self.name).path))
        #expect(!candidates.contains { $0.hasPrefix(system.path) } && !candidates.contains { $0.hasPrefix("/usr/local") })
        // A relative DETECTOR_SHARE is relative to the working directory.
        let relative = try Self.shareFolder("lookup-relative")
        let found = shippedFilePath(Self.name, executablePath: binary, environment: ["DETECTOR_SHARE": relative.lastPathComponent],
                                    workingDirectory: relative.deletingLastPathComponent().path, systemShare: system.path)
        #expect(found == relative.appendingPathComponent(Self.name).path)
    }

    /// The order: the working directory's models/, then DETECTOR_SHARE, then the binary's
    /// own share folder, then the repository of a development build.
    @Test func lookupOrder() throws {
        let repository = try Self.fakeRepository()
        let binary = repository.appendingPathComponent(".build/debug/detect").path
        let share = try Self.shareFolder("lookup-share")
        let system = try Self.shareFolder("lookup-system")
        let working = try Fixtures.temporaryFolder("lookup-cwd")
        try FileManager.default.createDirectory(at: working.appendingPathComponent("models"), withIntermediateDirectories: true)
        try Data("{}".utf8).write(to: working.appendingPathComponent("models/\(Self.name)"))
        let candidates = shippedFileCandidates(Self.name, executablePath: binary, environment: ["DETECTOR_SHARE": share.path],
                                               workingDirectory: working.path, systemShare: system.path)
            .map { URL(fileURLWithPath: $0).resolvingSymlinksInPath().path }
        #expect(candidates == [
            Self.resolved(working.appendingPathComponent("models/\(Self.name)")),
            Self.resolved(share.appendingPathComponent(Self.name)),
            Self.resolved(repository.appendingPathComponent(".build/x86_64-unknown-linux-gnu/share/detector/\(Self.name)")),
            Self.resolved(repository.appendingPathComponent("models/\(Self.name)")),
        ])
        #expect(shippedFilePath(Self.name, executablePath: binary, environment: ["DETECTOR_SHARE": share.path],
                                workingDirectory: working.path, systemShare: system.path)
                == working.appendingPathComponent("models/\(Self.name)").path)
    }

    /// The walk stops at the nearest Package.swift: a binary built in a package without
    /// models/ does not take the files of a package around it.
    @Test func nearestPackageWithoutModelsIsNoRepository() throws {
        let outer = try Self.fakeRepository()
        let inner = outer.appendingPathComponent("vendor/other")
        try FileManager.default.createDirectory(at: inner.appendingPathComponent(".build/debug"), withIntermediateDirectories: true)
        try Data().write(to: inner.appendingPathComponent("Package.swift"))
        let empty = try Fixtures.temporaryFolder("lookup-empty")
        let found = shippedFilePath(Self.name, executablePath: inner.appendingPathComponent(".build/debug/detect").path,
                                    environment: [:], workingDirectory: empty.path, systemShare: empty.path)
        #expect(found == nil)
    }

    /// DETECTOR_MODEL wins over every shipped file; empty, it is ignored.
    @Test func detectorModelComesFirst() throws {
        let share = try Fixtures.temporaryFolder("lookup-share")
        try Data().write(to: share.appendingPathComponent(shippedModelName))
        let elsewhere = try Fixtures.temporaryFolder("lookup-cwd")
        let binary = elsewhere.appendingPathComponent("detect").path
        #expect(defaultModelPath(executablePath: binary, environment: ["DETECTOR_MODEL": "/x/m.safetensors", "DETECTOR_SHARE": share.path],
                                 workingDirectory: elsewhere.path) == "/x/m.safetensors")
        #expect(defaultModelPath(executablePath: binary, environment: ["DETECTOR_MODEL": "", "DETECTOR_SHARE": share.path],
                                 workingDirectory: elsewhere.path) == share.appendingPathComponent(shippedModelName).path)
    }

    /// A config path that exists is kept; a missing default `models/NAME` becomes the shipped
    /// file; any other missing path is kept for the loader to report.
    @Test func configPathsResolve() throws {
        let share = try Self.shareFolder("lookup-share")
        let working = try Fixtures.temporaryFolder("lookup-cwd")
        try Data("{}".utf8).write(to: working.appendingPathComponent("mine.json"))
        let binary = working.appendingPathComponent("detect").path
        func resolve(_ path: String) -> String {
            resolveConfigPath(path, executablePath: binary, environment: ["DETECTOR_SHARE": share.path], workingDirectory: working.path)
        }
        #expect(resolve("mine.json") == "mine.json")
        #expect(resolve("models/\(Self.name)") == share.appendingPathComponent(Self.name).path)
        #expect(resolve("models/absent.json") == "models/absent.json")
        #expect(resolve("other/\(Self.name)") == "other/\(Self.name)")
    }
}
