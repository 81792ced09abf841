import Foundation
import Testing
import Detector

/// `PNG.read` and `PNG.size` on paths that are not a good PNG file: each gives an
/// `ImageError` "PATH: reason" saying what the path really is, without blocking on a FIFO,
/// reading a huge file, or allocating for huge declared dimensions.
@Suite struct PNGFileTests {
    static func message(_ body: () throws -> Any) -> String? {
        do { _ = try body(); return nil } catch let error as ImageError { return "\(error)" } catch { return "wrong error type: \(error)" }
    }

    /// Both readers, so each check covers `read` and `size`.
    static func messages(_ path: String) -> [String?] {
        [message { try PNG.read(path: path) }, message { try PNG.size(path: path) }]
    }

    @Test func fifoIsRefusedWithoutBlocking() throws {
        let path = try Fixtures.temporaryFolder().appendingPathComponent("pipe.png").path
        try SpecialFiles.fifo(at: path)
        // Opening a FIFO for reading would wait for a writer forever: this returning at all is the test.
        for message in Self.messages(path) { #expect(message == "\(path): is a FIFO (named pipe), not a regular file") }
    }

    @Test func folderDeviceAndBrokenLinksAreNamed() throws {
        let folder = try Fixtures.temporaryFolder()
        let sub = folder.appendingPathComponent("images.png").path
        try FileManager.default.createDirectory(atPath: sub, withIntermediateDirectories: false)
        for message in Self.messages(sub) { #expect(message == "\(sub): is a folder, not a regular file") }
        for message in Self.messages("/dev/null") { #expect(message == "/dev/null: is a character device, not a regular file") }
        let dangling = folder.appendingPathComponent("dangling.png").path
        try SpecialFiles.link(at: dangling, to: "gone.png")
        for message in Self.messages(dangling) { #expect(message == "\(dangling): is a symbolic link to \"gone.png\", which does not exist") }
        let loop = folder.appendingPathComponent("loop.png").path
        try SpecialFiles.link(at: loop, to: loop)
        for message in Self.messages(loop) { #expect(message == "\(loop): is a symbolic link that loops (too many levels of links)") }
        let missing = folder.appendingPathComponent("none.png").path
        for message in Self.messages(missing) { #expect(message == "\(missing): no such file") }
        // A link to a good file is followed.
        let link = folder.appendingPathComponent("link.png").path
        try SpecialFiles.link(at: link, to: Fixtures.url("png_rgb8.png").path)
        #expect(try PNG.read(path: link) == PNG.read(path: Fixtures.url("png_rgb8.png").path))
    }

    @Test func zeroByteTruncatedAndHugeFilesOnDisk() throws {
        let folder = try Fixtures.temporaryFolder()
        let empty = folder.appendingPathComponent("empty.png").path
        #expect(FileManager.default.createFile(atPath: empty, contents: Data()))
        for message in Self.messages(empty) { #expect(message == "\(empty): empty file") }

        let good = try Fixtures.data("png_rgb8.png")
        let truncated = folder.appendingPathComponent("truncated.png").path
        try good.prefix(good.count - 20).write(to: URL(fileURLWithPath: truncated))
        let message = try #require(Self.message { try PNG.read(path: truncated) })
        #expect(message.hasPrefix("\(truncated): invalid or truncated PNG: "), "\(message)")

        // Larger than PNG.maximumFileBytes (a sparse file: no disk space, and it is not read).
        let huge = folder.appendingPathComponent("huge.png").path
        try SpecialFiles.sparse(at: huge, size: PNG.maximumFileBytes + 1)
        #expect(Self.message { try PNG.read(path: huge) } == "\(huge): is too large (1073741825 bytes; a PNG file may have at most 1 GiB)")
    }

    /// IHDR declares 100000 x 100000: refused from the header, before the 30 GB of pixels
    /// would be allocated, with the limits in the message.
    @Test func hugeDeclaredDimensionsAreRefusedBeforeAllocating() throws {
        let path = try Fixtures.temporaryFolder().appendingPathComponent("huge-header.png").path
        try PNGBadInputTests.header(width: 100_000, height: 100_000).write(to: URL(fileURLWithPath: path))
        #expect(Self.message { try PNG.read(path: path) }
            == "\(path): image too large (100000 x 100000; the limit is \(PNG.maximumSide) per side and \(PNG.maximumPixels / 1_000_000) megapixels)")
    }
}
