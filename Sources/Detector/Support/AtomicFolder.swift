import Foundation

/// Writes a whole folder so that `path` never holds a partial result: `fill` writes into a
/// temporary sibling, `.NAME.partial-PID-RANDOM`, which is renamed to `path` only once `fill`
/// has returned. A process killed midway leaves only the temporary folder, which nothing reads
/// and which the next write beside it deletes (when its pid is no longer running).
///
/// - An existing `path` that is an empty folder is replaced (rename(2) allows that).
/// - A non-empty existing `path` is refused with `FolderWriteError.Kind.notEmpty` before
///   anything is written, unless `replacing`: then the old folder is renamed aside, the new one
///   renamed into place and the old one deleted. At no moment does `path` hold a mix of the
///   two; between the two renames it does not exist.
/// - If `path` appears (non-empty) while `fill` runs, e.g. written by another process, the
///   result is refused with `.notEmpty` too (unless `replacing`), and the temporary folder is
///   deleted.
public func writeFolderAtomically(at path: String, replacing: Bool = false, _ fill: (String) throws -> Void) throws {
    let fm = FileManager.default
    let url = URL(fileURLWithPath: path).standardizedFileURL
    let parent = url.deletingLastPathComponent().path
    let name = url.lastPathComponent
    if let problem = destinationProblem(path), !(replacing && problem == .notEmpty) {
        throw FolderWriteError(path: path, kind: problem)
    }
    do { try fm.createDirectory(atPath: parent, withIntermediateDirectories: true) } catch {
        throw FolderWriteError(path: path, kind: .cannotCreate, reason: "cannot create \(parent): \(error.localizedDescription)")
    }
    removeStalePartialFolders(in: parent, name: name)
    let temporary = parent + "/" + partialPrefix(name) + "\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
    guard mkdir(temporary, 0o755) == 0 else {
        throw FolderWriteError(path: path, kind: .cannotCreate, reason: "cannot create \(temporary): \(String(cString: strerror(errno)))")
    }
    do {
        try fill(temporary)
        try moveIntoPlace(temporary, path, parent: parent, name: name, replacing: replacing)
    } catch {
        try? fm.removeItem(atPath: temporary)
        throw error
    }
}

public struct FolderWriteError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: Sendable, Equatable { case notEmpty, notAFolder, cannotCreate, cannotRename }
    public var path: String
    public var kind: Kind
    public var reason: String
    public init(path: String, kind: Kind, reason: String = "") { self.path = path; self.kind = kind; self.reason = reason }
    public var description: String {
        switch kind {
        case .notEmpty: return "\(path): already exists and is not empty"
        case .notAFolder: return "\(path): exists and is not a folder"
        case .cannotCreate, .cannotRename: return "\(path): cannot write: \(reason)"
        }
    }
}

/// Whether a folder exists at `path` and holds anything (hidden files count).
public func isNonEmptyFolder(_ path: String) -> Bool {
    var folder: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &folder), folder.boolValue else { return false }
    return !((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).isEmpty
}

private func partialPrefix(_ name: String) -> String { ".\(name).partial-" }

private func destinationProblem(_ path: String) -> FolderWriteError.Kind? {
    var folder: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &folder) else { return nil }
    if !folder.boolValue { return .notAFolder }
    return isNonEmptyFolder(path) ? .notEmpty : nil
}

private func moveIntoPlace(_ temporary: String, _ path: String, parent: String, name: String, replacing: Bool) throws {
    if rename(temporary, path) == 0 { return }
    let code = errno
    guard code == ENOTEMPTY || code == EEXIST else {
        throw FolderWriteError(path: path, kind: code == ENOTDIR ? .notAFolder : .cannotRename, reason: String(cString: strerror(code)))
    }
    guard replacing else { throw FolderWriteError(path: path, kind: .notEmpty) }
    let old = parent + "/.\(name).old-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
    guard rename(path, old) == 0 else {
        throw FolderWriteError(path: path, kind: .cannotRename, reason: "cannot move the old folder aside: \(String(cString: strerror(errno)))")
    }
    guard rename(temporary, path) == 0 else {
        let reason = String(cString: strerror(errno))
        _ = rename(old, path)   // put the old one back
        throw FolderWriteError(path: path, kind: .cannotRename, reason: reason)
    }
    try? FileManager.default.removeItem(atPath: old)
}

/// Deletes `.NAME.partial-PID-*` and `.NAME.old-PID-*` folders in `parent` whose process is
/// gone (left by a writer that was killed). Folders of running processes, this one included,
/// are left alone.
private func removeStalePartialFolders(in parent: String, name: String) {
    let prefixes = [partialPrefix(name), ".\(name).old-"]
    for entry in (try? FileManager.default.contentsOfDirectory(atPath: parent)) ?? [] {
        guard let prefix = prefixes.first(where: { entry.hasPrefix($0) }) else { continue }
        guard let pid = Int32(entry.dropFirst(prefix.count).prefix { $0 != "-" }), pid > 0, pid != getpid() else { continue }
        if kill(pid, 0) != 0 && errno == ESRCH {
            try? FileManager.default.removeItem(atPath: parent + "/" + entry)
        }
    }
}
