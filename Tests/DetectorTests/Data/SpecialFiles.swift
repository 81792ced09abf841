import Foundation

/// Paths that are not plain files, for the readers' checks: FIFOs, symbolic links (dangling
/// or looping) and sparse files whose size is large but which take no disk space.
enum SpecialFiles {
    struct Failure: Error, CustomStringConvertible { var description: String }

    static func fifo(at path: String) throws {
        guard mkfifo(path, 0o644) == 0 else { throw Failure(description: "mkfifo \(path): \(String(cString: strerror(errno)))") }
    }

    /// A symbolic link at `path` pointing to `target` (which need not exist).
    static func link(at path: String, to target: String) throws {
        try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: target)
    }

    /// A file of `size` bytes, all zero, holding no data blocks (ftruncate of an empty file).
    static func sparse(at path: String, size: Int) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil) else { throw Failure(description: "cannot create \(path)") }
        guard truncate(path, off_t(size)) == 0 else { throw Failure(description: "truncate \(path): \(String(cString: strerror(errno)))") }
    }
}
