import Foundation
#if canImport(Glibc)
import Glibc
#endif

// What `detect` is given on its command line, expanded into the images to read: files,
// folders (searched recursively), quoted globs (`"dir/*.png"`, `"**/*.jpg"`) and lists
// (`@list.txt`). The order is deterministic and every image comes once.

/// The file-name extensions (compared in lower case) that a folder or a glob takes as images:
/// those of `ImageFile`. An explicitly named file is read whatever its name.
public var imageFileExtensions: [String] { ImageFile.extensions }

/// The end of the name of `detect`'s own annotated copies (`NAME.detections.png`): a folder or
/// a glob does not take them as images, so a second run over a folder does not detect on the
/// first run's pictures.
public let annotatedImageSuffix = ".detections.png"

/// Whether a file name ends with one of `imageFileExtensions` (any case), after a non-empty stem.
public func hasImageFileExtension(_ name: String) -> Bool { ImageFile.isImagePath(name) }

/// One image to process.
public struct ImageInput: Sendable, Hashable {
    /// The path as the user wrote it, or as the folder, glob or list it came from leads to it
    /// (`imgs/sub/a.png` for the folder `imgs`); relative paths stay relative to the working
    /// directory. This is the path printed and read.
    public var path: String
    /// The absolute path with `.` and `..` removed (symbolic links are kept): where its output
    /// files are mirrored from.
    public var absolutePath: String

    public init(path: String, absolutePath: String) { self.path = path; self.absolutePath = absolutePath }
}

/// A source that gave no image: a glob that matches none, a folder without images, a list
/// that cannot be read.
public struct SourceError: Error, CustomStringConvertible, Sendable, Equatable {
    public var source: String
    public var reason: String
    public init(source: String, reason: String) { self.source = source; self.reason = reason }
    public var description: String { "\(source): \(reason)" }
}

/// The images that the command-line sources expand to.
public struct ImageSources: Sendable {
    /// Every image once, in order: the sources in the order given, each source's images
    /// sorted by path (compared folder by folder, name by name).
    public var images: [ImageInput]
    /// The sources that gave nothing or could not be read; the other sources still count.
    public var errors: [SourceError]
    /// The deepest folder that holds every source (a file's folder, a folder given, a glob's
    /// folder before its first wildcard): outputs are mirrored relative to it.
    public var root: String
    /// Exactly one argument, a file (not a folder, glob or list): the form whose `--output`
    /// may name a file and whose text output has no header line.
    public var isSingleFile: Bool
    /// The list files read (absolute paths): outputs must not overwrite them either.
    public var listFiles: [String]

    /// Expands `arguments`:
    ///
    /// - `@FILE`: a list, one source per line (a file, folder or glob; not another list),
    ///   surrounding spaces trimmed, blank lines and lines starting with `#` skipped. Relative
    ///   paths in it are relative to the working directory, as if they had been typed on the
    ///   command line (gcc's and javac's `@file`s, darknet's lists); write `./@name` for a file
    ///   whose name starts with `@`.
    /// - a folder: every image under it (`imageFileExtensions`, any case), recursively;
    ///   hidden files and folders (`.NAME`) and detect's own `NAME.detections.png` skipped,
    ///   other files ignored; symbolic links followed, each folder searched once (by its real
    ///   path), so a link loop ends; a folder in `excludedFolders` (the output folder) is not
    ///   entered. A folder without images is an error.
    /// - an existing path (anything but a folder): that file, whatever its name (a bad one is
    ///   reported when it is read).
    /// - a path holding `*`, `?` or `[` that does not exist as written: a glob, matched
    ///   component by component with fnmatch(3) (a wildcard does not match a leading `.`);
    ///   a `**` component matches zero or more folders, and a final `**` every image below.
    ///   Matches are filtered as a folder's files are, and matching folders are not searched.
    ///   A glob matching no image is an error.
    /// - anything else: a file, reported as missing when it is read.
    ///
    /// A file reached twice (the same real path, through `./a.png`, a link, two sources) is
    /// kept once, at its first place.
    public static func expand(_ arguments: [String], workingDirectory: String = FileManager.default.currentDirectoryPath,
                              excludedFolders: [String] = []) -> ImageSources {
        var expander = SourceExpander(workingDirectory: workingDirectory,
                                      excluded: Set(excludedFolders.compactMap { realPath(absolutePath($0, workingDirectory: workingDirectory)) }))
        for argument in arguments {
            if argument.hasPrefix("@") && argument.count > 1 {
                expander.expandList(path: String(argument.dropFirst()), argument: argument)
            } else {
                expander.expand(argument)
            }
        }
        let single = arguments.count == 1 && expander.kinds == [.file]
        return ImageSources(images: expander.images, errors: expander.errors, root: commonFolder(expander.anchors),
                            isSingleFile: single, listFiles: expander.lists)
    }
}

/// A path as printed and as opened.
private typealias Entry = (display: String, absolute: String)

/// The state of one expansion: what was found, what was already seen.
private struct SourceExpander {
    enum Kind { case file, folder, glob, list }

    let workingDirectory: String
    let excluded: Set<String>
    var images: [ImageInput] = []
    var errors: [SourceError] = []
    /// Folders that contain the sources (absolute), for the common root.
    var anchors: [String] = []
    var kinds: [Kind] = []
    var lists: [String] = []
    /// The `fileKey`s (real paths) of the images kept.
    var seenFiles: Set<String> = []

    init(workingDirectory: String, excluded: Set<String>) {
        self.workingDirectory = workingDirectory
        self.excluded = excluded
    }

    func absolute(_ path: String) -> String { absolutePath(path, workingDirectory: workingDirectory) }

    mutating func add(_ entry: Entry) {
        // Lexically normalised: a glob's `..` components are joined as written.
        let absolute = absolutePath(entry.absolute, workingDirectory: "/")
        if seenFiles.insert(fileKey(absolute)).inserted {
            images.append(ImageInput(path: entry.display, absolutePath: absolute))
        }
    }

    /// One source that is not a list.
    mutating func expand(_ source: String) {
        let path = absolute(source)
        if isFolder(path) {
            kinds.append(.folder)
            anchors.append(path)
            let found = imagesBelow((source, path))
            if found.isEmpty { errors.append(SourceError(source: source, reason: "no images in the folder (\(imageExtensionList))")) }
            for entry in found { add(entry) }
        } else if pathExists(path) || !isGlob(source) {
            kinds.append(.file)
            anchors.append(parentFolder(path))
            add((source, path))
        } else {
            kinds.append(.glob)
            expandGlob(source)
        }
    }

    mutating func expandList(path written: String, argument: String) {
        kinds.append(.list)
        let path = absolute(written)
        lists.append(path)
        let data: Data
        do { data = try RegularFile.read(path: path, limit: maximumLabelFileBytes) } catch {
            errors.append(SourceError(source: argument, reason: error == .missing ? "no such list file" : error.reason(limitName: "a list file")))
            return
        }
        var entries: [String] = []
        do {
            try data.withUnsafeBytes { raw in
                try forEachLine(of: raw.bindMemory(to: UInt8.self)) { _, line in
                    let entry = String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespaces)
                    if !entry.isEmpty && !entry.hasPrefix("#") { entries.append(entry) }
                }
            }
        } catch let fault as TextFault {
            errors.append(SourceError(source: "\(argument), line \(fault.line)", reason: fault.reason))
            return
        } catch {
            errors.append(SourceError(source: argument, reason: "\(error)"))
            return
        }
        if entries.isEmpty {
            errors.append(SourceError(source: argument, reason: "the list names no image (blank lines and # comments are skipped)"))
        }
        for entry in entries { expand(entry) }
    }

    /// The image files under a folder, depth first in name order (a folder's files and
    /// subfolders interleaved by name, which is the order of their paths compared component
    /// by component). Each real folder is entered once, so a link back up ends.
    mutating func imagesBelow(_ folder: Entry) -> [Entry] {
        var found: [Entry] = []
        var visited: Set<String> = []
        func walk(_ folder: Entry, _ expander: inout SourceExpander) {
            guard let real = realPath(folder.absolute), visited.insert(real).inserted else { return }
            let names: [String]
            do { names = try folderEntries(folder.absolute) } catch {
                expander.errors.append(SourceError(source: folder.display, reason: "\(error)"))
                return
            }
            for name in names.sorted() where !name.hasPrefix(".") {
                let child = (joined(folder.display, name), joined(folder.absolute, name))
                if isFolder(child.1) {
                    if let real = realPath(child.1), expander.excluded.contains(real) { continue }
                    walk(child, &expander)
                } else if isImageCandidate(name) {
                    // Dangling links, FIFOs and the like are kept: reading them reports what they are.
                    found.append(child)
                }
            }
        }
        walk(folder, &self)
        return found
    }

    /// `folder` and the folders below it, depth first in name order (hidden and excluded ones
    /// left out, each real folder once): what a `**` component stands for.
    func foldersBelow(_ folder: Entry) -> [Entry] {
        var found: [Entry] = []
        var visited: Set<String> = []
        func walk(_ folder: Entry) {
            guard let real = realPath(folder.absolute), visited.insert(real).inserted else { return }
            found.append(folder)
            guard let names = try? folderEntries(folder.absolute) else { return }
            for name in names.sorted() where !name.hasPrefix(".") {
                let child = (joined(folder.display, name), joined(folder.absolute, name))
                if isFolder(child.1), !(realPath(child.1).map(excluded.contains) ?? false) { walk(child) }
            }
        }
        walk(folder)
        return found
    }

    /// Matches a glob component by component.
    mutating func expandGlob(_ pattern: String) {
        let isAbsolute = pattern.hasPrefix("/")
        let components = pattern.split(separator: "/").map(String.init)
        // The literal folders before the first wildcard are the glob's anchor.
        let literal = components.prefix { !isGlob($0) }
        anchors.append(absolute((isAbsolute ? "/" : "") + literal.joined(separator: "/")))
        var folders: [Entry] = [isAbsolute ? ("/", "/") : ("", workingDirectory)]
        var matches: [Entry] = []
        for (k, component) in components.enumerated() {
            let last = k == components.count - 1
            var next: [Entry] = []
            for folder in folders {
                if component == "**" {
                    if last {
                        // A final `**`: every image below, as for a folder given.
                        matches += imagesBelow(folder)
                    } else {
                        next += foldersBelow(folder)
                    }
                    continue
                }
                let names: [String]
                if isGlob(component) {
                    names = ((try? folderEntries(folder.absolute)) ?? []).filter { fnmatch(component, $0, FNM_PERIOD) == 0 }.sorted()
                } else {
                    names = [component]
                }
                for name in names {
                    let child = (joined(folder.display, name), joined(folder.absolute, name))
                    if !last {
                        if isFolder(child.1) { next.append(child) }
                    } else if pathExists(child.1) && !isFolder(child.1) && isImageCandidate(name) {
                        matches.append(child)
                    }
                }
            }
            folders = next
        }
        if matches.isEmpty {
            errors.append(SourceError(source: pattern, reason: "no image matches the pattern (\(imageExtensionList))"))
            return
        }
        // `**` can reach a file along two routes (a/**/**/x); `add` keeps it once.
        matches.sort { $0.display.split(separator: "/").lexicographicallyPrecedes($1.display.split(separator: "/")) }
        for match in matches { add(match) }
    }

    var imageExtensionList: String { imageFileExtensions.map { "." + $0 }.joined(separator: " ") }
}

/// A name that a folder or a glob takes as an image: not hidden, an image extension, not one
/// of detect's annotated copies.
func isImageCandidate(_ name: String) -> Bool {
    !name.hasPrefix(".") && hasImageFileExtension(name) && !name.hasSuffix(annotatedImageSuffix)
}

/// Whether a path (or a path component) holds a glob wildcard.
func isGlob(_ text: String) -> Bool { text.contains { $0 == "*" || $0 == "?" || $0 == "[" } }

/// `base/name` without a doubled slash (`/` + `x` is `/x`); an empty base gives `name`.
func joined(_ base: String, _ name: String) -> String {
    if base.isEmpty { return name }
    return base.hasSuffix("/") ? base + name : base + "/" + name
}

/// `path` made absolute against `workingDirectory`, with empty and `.` components removed and
/// each `..` taking away the component before it (lexically: symbolic links are not resolved,
/// as a shell's `cd` treats them).
public func absolutePath(_ path: String, workingDirectory: String) -> String {
    let full = path.hasPrefix("/") ? path : workingDirectory + "/" + path
    var parts: [Substring] = []
    for part in full.split(separator: "/", omittingEmptySubsequences: true) {
        if part == "." { continue }
        if part == ".." { _ = parts.popLast(); continue }
        parts.append(part)
    }
    return "/" + parts.joined(separator: "/")
}

/// The folder of an absolute path (`/` for `/x`).
func parentFolder(_ path: String) -> String {
    guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return "/" }
    return String(path[..<slash])
}

/// The deepest folder that is, or holds, every one of the absolute `folders` (`/` for none).
func commonFolder(_ folders: [String]) -> String {
    guard var common = folders.first?.split(separator: "/") else { return "/" }
    for folder in folders.dropFirst() {
        let parts = folder.split(separator: "/")
        common = Array(zip(common, parts).prefix { $0 == $1 }.map(\.0))
    }
    return "/" + common.joined(separator: "/")
}

/// The real path (links resolved) of an existing path, or nil.
func realPath(_ path: String) -> String? {
    guard let resolved = Glibc.realpath(path, nil) else { return nil }
    defer { free(resolved) }
    return String(cString: resolved)
}

/// Whether the path leads (through links) to a folder.
func isFolder(_ path: String) -> Bool {
    var status = stat()
    return stat(path, &status) == 0 && status.st_mode & S_IFMT == S_IFDIR
}

/// Whether anything is at the path, a dangling link included.
func pathExists(_ path: String) -> Bool {
    var status = stat()
    return lstat(path, &status) == 0
}

/// The names in a folder (without `.` and `..`), or a `SourceError`-ready message.
func folderEntries(_ path: String) throws -> [String] {
    guard let folder = opendir(path) else {
        throw FolderListingError("cannot list the folder: \(String(cString: strerror(errno)))")
    }
    defer { closedir(folder) }
    var names: [String] = []
    while let entry = readdir(folder) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        if name != "." && name != ".." { names.append(name) }
    }
    return names
}

struct FolderListingError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
