import Foundation

// MARK: - Reading a regular file

/// Why a path could not be read as a regular file. Each reader words it in its own error
/// type (`ImageError`, `LabelError`, `DatasetError`) with the path.
enum FileProblem: Error, Equatable {
    /// Nothing at the path (not even a symbolic link).
    case missing
    /// A symbolic link whose target does not exist.
    case danglingLink(target: String)
    /// Symbolic links that lead back to themselves (ELOOP).
    case linkLoop
    /// A folder, FIFO, device or socket: "a folder", "a FIFO (named pipe)", ...
    case notRegular(kind: String)
    /// Larger than the reader's bound: `size` as stat reports it, or nil when the file grew
    /// past the bound while being read (or reported a size of 0, as files in /proc do).
    case tooLarge(size: Int?, limit: Int)
    /// open, stat or read failed: the system's message (permission denied, I/O error, ...).
    case unreadable(String)

    /// The path leads to a folder.
    var isFolder: Bool { self == .notRegular(kind: RegularFile.folder) }

    /// A sentence fragment after "path: "; `limitName` names what the size bound is for
    /// ("a label file").
    func reason(limitName: String) -> String {
        switch self {
        case .missing: return "no such file"
        case .danglingLink(let target): return "is a symbolic link to \"\(target)\", which does not exist"
        case .linkLoop: return "is a symbolic link that loops (too many levels of links)"
        case .notRegular(let kind): return "is \(kind), not a regular file"
        case .tooLarge(let size, let limit):
            return "is too large (\(size.map { "\($0)" } ?? "more than \(limit)") bytes; \(limitName) may have at most \(RegularFile.readable(limit)))"
        case .unreadable(let message): return "cannot read: \(message)"
        }
    }
}

/// Reads files with the checks a data loader needs before trusting a path: the path must lead
/// (through symbolic links) to a regular file. The kind is found with stat(2) before the file
/// is opened, so a FIFO is never opened (opening one blocks until a writer appears) and a
/// device is never touched; the file is then opened with O_NONBLOCK and checked again with
/// fstat(2), so a path swapped between the two calls cannot make a read block either.
enum RegularFile {
    /// What is at `path`, following symbolic links: `nil` for a regular file.
    static func problem(at path: String) -> FileProblem? {
        var status = stat()
        guard stat(path, &status) == 0 else {
            let code = errno
            if code == ELOOP { return .linkLoop }
            if code == ENOENT {
                var link = stat()
                if lstat(path, &link) == 0 && link.st_mode & S_IFMT == S_IFLNK {
                    return .danglingLink(target: (try? FileManager.default.destinationOfSymbolicLink(atPath: path)) ?? "?")
                }
                return .missing
            }
            if code == ENOTDIR { return .unreadable("a folder on the path is a file") }
            return .unreadable(String(cString: strerror(code)))
        }
        return kindName(status.st_mode).map { .notRegular(kind: $0) }
    }

    static let folder = "a folder"

    /// `nil` for a regular file, else what the mode says it is.
    static func kindName(_ mode: mode_t) -> String? {
        switch mode & S_IFMT {
        case S_IFREG: return nil
        case S_IFDIR: return folder
        case S_IFIFO: return "a FIFO (named pipe)"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        case S_IFSOCK: return "a socket"
        default: return "not a file"
        }
    }

    /// The whole file, refused beyond `limit` bytes without reading past `limit + 1` (the
    /// size stat reports is only a hint: files in /proc report 0, a file may grow).
    static func read(path: String, limit: Int) throws(FileProblem) -> Data {
        try withOpenFile(path) { (fd, size) throws(FileProblem) -> Data in
            guard size <= limit else { throw .tooLarge(size: size, limit: limit) }
            var data = Data(count: size + 1)
            var filled = 0
            while true {
                if filled == data.count {
                    guard data.count <= limit else { throw .tooLarge(size: nil, limit: limit) }
                    data.count = min(max(2 * data.count, 1 << 16), limit + 1)
                }
                let count = data.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + filled, $0.count - filled) }
                if count < 0 {
                    if errno == EINTR { continue }
                    throw .unreadable(String(cString: strerror(errno)))
                }
                if count == 0 { break }
                filled += count
            }
            data.count = filled
            return data
        }
    }

    /// At most the first `prefix` bytes (fewer for a shorter file).
    static func read(path: String, prefix: Int) throws(FileProblem) -> Data {
        try withOpenFile(path) { (fd, _) throws(FileProblem) -> Data in
            var data = Data(count: prefix)
            var filled = 0
            while filled < prefix {
                let count = data.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + filled, prefix - filled) }
                if count < 0 {
                    if errno == EINTR { continue }
                    throw .unreadable(String(cString: strerror(errno)))
                }
                if count == 0 { break }
                filled += count
            }
            data.count = filled
            return data
        }
    }

    /// Opens a regular file (checked before and after opening) and passes its descriptor and
    /// reported size to `body`.
    private static func withOpenFile<T>(_ path: String, _ body: (Int32, Int) throws(FileProblem) -> T) throws(FileProblem) -> T {
        if let problem = problem(at: path) { throw problem }
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw .unreadable(String(cString: strerror(errno))) }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw .unreadable(String(cString: strerror(errno))) }
        if let kind = kindName(status.st_mode) { throw .notRegular(kind: kind) }
        return try body(fd, Int(status.st_size))
    }

    /// 67108864 → "64 MiB"; other sizes in bytes.
    static func readable(_ bytes: Int) -> String {
        if bytes >= 1 << 30 && bytes % (1 << 30) == 0 { return "\(bytes >> 30) GiB" }
        if bytes >= 1 << 20 && bytes % (1 << 20) == 0 { return "\(bytes >> 20) MiB" }
        return "\(bytes) bytes"
    }
}
