import Foundation
import Testing
import Detector

/// Data sets appear whole or not at all (else an interrupted first-use generation would later
/// be trained on as if complete).
@Suite(.serialized) struct DataGenerationTests {
    struct Stop: Error {}

    static let config = repositoryRoot.appendingPathComponent("models/tiny-dsc.json").path

    /// The pid of a process that has exited (and been reaped).
    static func deadPid() throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/true")
        try process.run()
        process.waitUntilExit()
        return process.processIdentifier
    }

    @Test func aFailedWriteLeavesNothing() throws {
        let root = try Fixtures.temporaryFolder("atomic")
        let target = root.appendingPathComponent("set").path
        #expect(throws: Stop.self) {
            try writeFolderAtomically(at: target) { folder in
                try Data("half".utf8).write(to: URL(fileURLWithPath: folder + "/classes.txt"))
                throw Stop()
            }
        }
        #expect(!FileManager.default.fileExists(atPath: target))
        #expect(try FileManager.default.contentsOfDirectory(atPath: root.path).isEmpty)
    }

    @Test func aNonEmptyFolderIsRefusedBeforeWritingOrReplacedWhole() throws {
        let root = try Fixtures.temporaryFolder("atomic")
        let target = root.appendingPathComponent("set").path
        try writeFolderAtomically(at: target) { try Data("1".utf8).write(to: URL(fileURLWithPath: $0 + "/a.txt")) }
        var called = false
        #expect(throws: FolderWriteError(path: target, kind: .notEmpty)) {
            try writeFolderAtomically(at: target) { _ in called = true }
        }
        #expect(!called)
        try writeFolderAtomically(at: target, replacing: true) { try Data("2".utf8).write(to: URL(fileURLWithPath: $0 + "/b.txt")) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: target) == ["b.txt"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: root.path) == ["set"])
        // An existing empty folder is simply filled.
        let empty = try Fixtures.temporaryFolder("atomic-empty").path
        try writeFolderAtomically(at: empty) { try Data("3".utf8).write(to: URL(fileURLWithPath: $0 + "/c.txt")) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: empty) == ["c.txt"])
    }

    @Test func partialFoldersOfDeadWritersAreDeletedOthersKept() throws {
        let root = try Fixtures.temporaryFolder("atomic")
        let dead = root.appendingPathComponent(".set.partial-\(try Self.deadPid())-7").path
        let alive = root.appendingPathComponent(".set.partial-\(getppid())-7").path
        for folder in [dead, alive] { try FileManager.default.createDirectory(atPath: folder + "/train", withIntermediateDirectories: true) }
        try SyntheticShapes.writeDataset(to: root.appendingPathComponent("set").path, trainCount: 2, valCount: 1, seed: 1)
        #expect(!FileManager.default.fileExists(atPath: dead))
        #expect(FileManager.default.fileExists(atPath: alive))
        #expect(FileManager.default.fileExists(atPath: root.appendingPathComponent("set/classes.txt").path))
    }

    @Test func impossibleCountsAreErrors() throws {
        let root = try Fixtures.temporaryFolder("atomic")
        #expect(throws: SyntheticShapesError(parameter: "trainCount", value: -1)) {
            try SyntheticShapes.writeDataset(to: root.path + "/set", trainCount: -1, valCount: 1, seed: 1)
        }
        #expect(throws: SyntheticShapesError(parameter: "count", value: SyntheticShapes.maximumImageCount + 1)) {
            try SyntheticShapes.writeSamples(to: root.path + "/set", count: SyntheticShapes.maximumImageCount + 1, seed: 1)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: root.path).isEmpty)
    }

    /// The first-use generation of the built-in set, killed after its first images: no
    /// data/shapes (so nothing will train on it), only a hidden temporary folder, which the next
    /// generation beside it deletes.
    @Test func aKilledFirstUseGenerationLeavesNoDataSet() throws {
        let folder = try Fixtures.temporaryFolder("first-use")
        let process = Process()
        process.executableURL = productsFolder.appendingPathComponent("train-detector")
        process.arguments = ["anchors", "1", "--config", Self.config]   // no --data: generates data/shapes first
        process.currentDirectoryURL = folder
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = folder.appendingPathComponent("data")
        func partials() -> [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: data.path)) ?? []).filter { $0.hasPrefix(".shapes.partial-") }
        }
        func imagesWritten() -> Int {
            guard let partial = partials().first else { return 0 }
            return ((try? FileManager.default.contentsOfDirectory(atPath: data.path + "/" + partial + "/train/images")) ?? []).count
        }
        let deadline = Date().addingTimeInterval(120)
        while imagesWritten() < 5 && process.isRunning && Date() < deadline { usleep(10_000) }
        let wasRunning = process.isRunning
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(wasRunning, "the generation ended before it could be interrupted")
        #expect(!FileManager.default.fileExists(atPath: data.path + "/shapes"))
        #expect(partials().count == 1)

        let r = try runCommand("train-detector", ["generate", "--out", "data/shapes", "--train", "3", "--val", "1"], in: folder)
        #expect(r.status == 0, "\(r.err)")
        #expect(partials().isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: data.path + "/shapes/train/images").count == 3)
    }

    /// The built-in folder present but not a data set (no classes.txt): an error, not a silent use.
    @Test func aDefaultDataFolderWithoutClassesIsAnError() throws {
        let folder = try Fixtures.temporaryFolder("first-use-broken")
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("data/shapes/train/images"), withIntermediateDirectories: true)
        let r = try runCommand("train-detector", ["anchors", "1", "--config", Self.config], in: folder)
        #expect(r.status == 1)
        #expect(r.err.contains("data/shapes exists but is not a complete data set"), "\(r.err)")
    }
}
