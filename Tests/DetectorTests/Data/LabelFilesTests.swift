import Foundation
import Testing
import Detector

/// `readLabels` on files that are not plain UTF-8 label files: each a `LabelError` naming the
/// file (and the line, for a problem inside it) and saying what is really wrong.
@Suite struct LabelFilesTests {
    static func error(_ path: String) throws -> LabelError {
        try #require(throws: LabelError.self) { try readLabels(path: path, classCount: 3) }
    }

    @Test func invalidUTF8GivesTheLineAndByteOffset() throws {
        let path = try Fixtures.temporaryFolder().appendingPathComponent("latin1.txt").path
        // Line 2, "0 caf\xE9": 0xE9 (Latin-1 é) is at byte 18 + 5 = 23 of the file.
        try Data(Array("0 0.5 0.5 0.2 0.2\n0 caf".utf8) + [0xE9] + Array(" 0.5 0.2 0.2\n".utf8)).write(to: URL(fileURLWithPath: path))
        let error = try Self.error(path)
        #expect(error.kind == .notUTF8)
        #expect(error.line == 2)
        #expect(error.description == "\(path):2: not UTF-8 text: invalid byte sequence 0xE9 at byte offset 23 of the file (column 6 of the line)")
        // UTF-16 with its byte-order mark: the first byte already is not UTF-8.
        try Data([0xFF, 0xFE] + Array("0 0.5".utf16).flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }).write(to: URL(fileURLWithPath: path))
        #expect(try Self.error(path).reason.contains("0xFF at byte offset 0"))
        // Without the mark, UTF-16 shows as NUL bytes.
        try Data(Array("0 0.5".utf16).flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }).write(to: URL(fileURLWithPath: path))
        #expect(try Self.error(path).reason == "contains a NUL byte at column 2 (a binary or UTF-16 file?)")
        // Valid multi-byte UTF-8 is fine in itself (here it fails as a number, not as text).
        try Data("0 0,5½ 0.5 0.2 0.2\n".utf8).write(to: URL(fileURLWithPath: path))
        #expect(try Self.error(path).kind == .notANumber)
    }

    @Test func fifoFolderAndDeviceSayWhatTheyAre() throws {
        let folder = try Fixtures.temporaryFolder()
        let fifo = folder.appendingPathComponent("pipe.txt").path
        try SpecialFiles.fifo(at: fifo)
        let fifoError = try Self.error(fifo)  // returns at all: the FIFO was not opened
        #expect(fifoError.kind == .notARegularFile)
        #expect(fifoError.description == "\(fifo): is a FIFO (named pipe), not a regular file")
        let sub = folder.appendingPathComponent("sub.txt").path
        try FileManager.default.createDirectory(atPath: sub, withIntermediateDirectories: false)
        #expect(try Self.error(sub).description == "\(sub): is a folder, not a regular file")
        #expect(try Self.error("/dev/null").description == "/dev/null: is a character device, not a regular file")
    }

    @Test func danglingAndLoopingLinksAreErrorsNotBackground() throws {
        let folder = try Fixtures.temporaryFolder()
        let dangling = folder.appendingPathComponent("a.txt").path
        try SpecialFiles.link(at: dangling, to: "../elsewhere/a.txt")
        let danglingError = try Self.error(dangling)
        #expect(danglingError.kind == .brokenLink)
        #expect(danglingError.description == "\(dangling): is a symbolic link to \"../elsewhere/a.txt\", which does not exist")
        let loop = folder.appendingPathComponent("b.txt").path
        try SpecialFiles.link(at: loop, to: folder.appendingPathComponent("c.txt").path)
        try SpecialFiles.link(at: folder.appendingPathComponent("c.txt").path, to: loop)
        let loopError = try Self.error(loop)
        #expect(loopError.kind == .brokenLink)
        #expect(loopError.reason == "is a symbolic link that loops (too many levels of links)")
        // A good link is followed.
        let target = folder.appendingPathComponent("real.txt")
        try Data("2 0.5 0.5 0.2 0.2\n".utf8).write(to: target)
        let link = folder.appendingPathComponent("good.txt").path
        try SpecialFiles.link(at: link, to: target.path)
        #expect(try readLabels(path: link, classCount: 3).map(\.classIndex) == [2])
    }

    /// Beyond maximumLabelFileBytes the file is refused from its size, before any byte is read
    /// (a sparse file: 64 MiB + 1 of zeros that take no disk space).
    @Test func hugeFileIsRefusedFromItsSize() throws {
        let path = try Fixtures.temporaryFolder().appendingPathComponent("huge.txt").path
        try SpecialFiles.sparse(at: path, size: maximumLabelFileBytes + 1)
        let error = try Self.error(path)
        #expect(error.kind == .tooLarge)
        #expect(error.description == "\(path): is too large (67108865 bytes; a label file may have at most 64 MiB)")
    }
}
