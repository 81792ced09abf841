import Foundation
import Testing
import Detector

@Suite struct AtomicFileTests {
    /// The file appears with exactly the bytes written, its missing folders are created, and no
    /// temporary file is left beside it.
    @Test func writesWholeAndLeavesNothingElse() throws {
        let root = try Fixtures.temporaryFolder("atomic")
        let path = root.appendingPathComponent("a/b/out.bin").path
        let bytes = Data((0..<1000).map { UInt8($0 % 251) })
        try writeAtomically(bytes, to: path)
        #expect(FileManager.default.contents(atPath: path) == bytes)
        #expect(try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("a/b").path) == ["out.bin"])
    }

    /// An existing file is replaced whole, a longer one included (no tail of the old bytes).
    @Test func replacesAnExistingFile() throws {
        let path = try Fixtures.temporaryFolder("atomic").appendingPathComponent("out.txt").path
        try writeAtomically(Data("a much longer first version".utf8), to: path)
        try writeAtomically(Data("short".utf8), to: path)
        #expect(FileManager.default.contents(atPath: path) == Data("short".utf8))
    }

    /// A destination that cannot be written (its folder is a file) is a FileWriteError naming
    /// the path, and leaves no file behind.
    @Test func anUnwritableDestinationIsATypedError() throws {
        let root = try Fixtures.temporaryFolder("atomic")
        let blocker = root.appendingPathComponent("file").path
        try writeAtomically(Data("x".utf8), to: blocker)
        #expect(throws: (any Error).self) { try writeAtomically(Data("y".utf8), to: blocker + "/inside.txt") }
        let existing = root.appendingPathComponent("folder").path
        try FileManager.default.createDirectory(atPath: existing, withIntermediateDirectories: true)
        do {
            try writeAtomically(Data("y".utf8), to: existing)
            Issue.record("writing over a folder succeeded")
        } catch let error as FileWriteError {
            #expect(error.path == existing && error.description.hasPrefix("\(existing): cannot write: "))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: root.path).sorted() == ["file", "folder"])
    }
}
