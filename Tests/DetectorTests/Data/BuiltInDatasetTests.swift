import Foundation
import Testing
@testable import Detector

/// The built-in data set's first-use logic (`BuiltInDataset`), on folders that need no generation.
@Suite struct BuiltInDatasetTests {
    @Test func theNumbersOfTheBuiltInSet() {
        #expect(BuiltInDataset.folder == "data/shapes")
        #expect(BuiltInDataset.trainCount == 2000 && BuiltInDataset.valCount == 200 && BuiltInDataset.seed == 1)
    }

    /// A non-empty folder without classes.txt is refused, naming it, and left as it is.
    @Test func aFolderThatIsNotADataSetIsRefused() throws {
        let folder = try Fixtures.temporaryFolder("builtin").appendingPathComponent("shapes").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try Data("x".utf8).write(to: URL(fileURLWithPath: folder + "/notes.txt"))
        var logged: [String] = []
        #expect(throws: BuiltInDataset.Failure(folder: folder)) { try BuiltInDataset.ensure(in: folder) { logged.append($0) } }
        #expect(logged.isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["notes.txt"])
        #expect("\(BuiltInDataset.Failure(folder: folder))".hasPrefix("\(folder) exists but is not a complete data set"))
    }

    /// A folder with classes.txt is used as it is; other image counts than the built-in set's
    /// are warned about (a leftover of an interrupted generation).
    @Test func aSetWithOtherCountsIsUsedWithAWarning() throws {
        let folder = try Fixtures.temporaryFolder("builtin").appendingPathComponent("shapes").path
        for split in ["train", "val"] {
            try FileManager.default.createDirectory(atPath: "\(folder)/\(split)/images", withIntermediateDirectories: true)
        }
        try Data("circle\n".utf8).write(to: URL(fileURLWithPath: folder + "/classes.txt"))
        for k in 0..<3 { try Data().write(to: URL(fileURLWithPath: "\(folder)/train/images/\(k).png")) }
        var logged: [String] = []
        try BuiltInDataset.ensure(in: folder) { logged.append($0) }
        #expect(logged == ["warning: \(folder) holds 3 training and 0 validation images, not the 2000 + 200 of the built-in set (perhaps an interrupted generation); delete the folder to generate it again"])
        #expect(BuiltInDataset.incompleteWarning(folder) == logged.first)
    }
}
