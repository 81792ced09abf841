import Foundation
#if canImport(Glibc)
import Glibc
#endif

// Where `detect` writes what it makes of each image: the annotated copy and the label file.
// With a folder as --output the input tree is mirrored under it, so that a/x.png and b/x.png
// cannot write the same file; every target is checked before any image is read.

/// The files one image's results go to (nil: not written).
public struct OutputTargets: Sendable, Equatable {
    /// The image with its boxes drawn, `NAME.detections.png`.
    public var annotated: String?
    /// YOLO label lines, `NAME.txt`.
    public var labels: String?

    public init(annotated: String? = nil, labels: String? = nil) { self.annotated = annotated; self.labels = labels }
}

/// An output that cannot be written as asked, found before any image is read.
public struct OutputPlanError: Error, CustomStringConvertible, Sendable, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The output files of every image of an expansion.
///
/// - Without `--output`: beside the image, `DIR/NAME.detections.png` and `DIR/NAME.txt` for
///   `DIR/NAME.png` (darknet's `-save_labels` writes its labels beside the image too).
/// - `--output FILE` with a single file given (not a folder, glob or list) and FILE not an
///   existing folder: the annotated image is FILE, its labels FILE without its extension
///   plus `.txt`.
/// - `--output DIR` otherwise: the image's path relative to the sources' common root
///   (`ImageSources.root`) is mirrored under DIR, `DIR/REL/NAME.detections.png`, and the
///   labels go under `DIR/labels/` (Ultralytics' `runs/detect/predict/labels/`),
///   `DIR/labels/REL/NAME.txt`.
///
/// Refused, naming the files: a DIR that exists as a file; two images whose outputs would be
/// one file (with mirroring only `x.png` beside `x.jpg` can: they share the name without
/// the extension); an output that is one of the input images or lists, or one of
/// `otherOutputs` (the COCO results file; `role` names it in messages, "the COCO results
/// (--coco)").
public struct OutputPlan: Sendable {
    /// `targets[k]` for `sources.images[k]`.
    public var targets: [OutputTargets]
    /// The folder that `--output` names and is written into (nil without it, or for the
    /// file form).
    public var outputFolder: String?

    public init(sources: ImageSources, output: String?, render: Bool, saveLabels: Bool,
                otherOutputs: [(path: String, role: String)] = [],
                workingDirectory: String = FileManager.default.currentDirectoryPath) throws {
        let absoluteOutput = output.map { absolutePath($0, workingDirectory: workingDirectory) }
        let outputIsFolder = absoluteOutput.map(isFolder) ?? false
        let fileForm = output != nil && sources.isSingleFile && !outputIsFolder
        if let output, let absoluteOutput, !fileForm, pathExists(absoluteOutput), !outputIsFolder {
            throw OutputPlanError("--output \(output): is a file; with several images (or a folder, glob or list) it must be a folder")
        }
        outputFolder = fileForm ? nil : output
        targets = sources.images.map { image in
            var targets = OutputTargets()
            switch output {
            case nil:
                let stem = removingExtension(image.path)
                if render { targets.annotated = stem + annotatedImageSuffix }
                if saveLabels { targets.labels = stem + ".txt" }
            case let output? where fileForm:
                if render { targets.annotated = output }
                if saveLabels { targets.labels = removingExtension(output) + ".txt" }
            case let output?:
                let relative = removingExtension(mirroredPath(image.absolutePath, under: sources.root))
                if render { targets.annotated = joined(output, relative + annotatedImageSuffix) }
                if saveLabels { targets.labels = joined(output, "labels/" + relative + ".txt") }
            }
            return targets
        }

        // Inputs, by real path: a target that resolves to one would overwrite it.
        var inputs: Set<String> = []
        for image in sources.images { inputs.insert(fileKey(image.absolutePath)) }
        for list in sources.listFiles { inputs.insert(fileKey(list)) }
        var writers: [String: String] = [:]   // target → what writes it
        func claim(_ target: String, by owner: String, what: String) throws {
            let key = fileKey(absolutePath(target, workingDirectory: workingDirectory))
            if inputs.contains(key) { throw OutputPlanError("\(target): is one of the input images or lists; \(what) would overwrite it") }
            if let other = writers[key] {
                throw OutputPlanError("\(other) and \(owner) would both be written to \(target); rename one of them or give them separate runs")
            }
            writers[key] = owner
        }
        for other in otherOutputs { try claim(other.path, by: other.role, what: other.role) }
        for (image, target) in zip(sources.images, targets) {
            if let annotated = target.annotated { try claim(annotated, by: image.path, what: "the annotated copy") }
            if let labels = target.labels { try claim(labels, by: image.path, what: "the label file") }
        }
    }

    /// Creates the output folder when it is missing, so that a folder that cannot be made is
    /// reported before any image is read (the writes would create it too).
    public func createOutputFolder() throws {
        guard let outputFolder else { return }
        do { try FileManager.default.createDirectory(atPath: outputFolder, withIntermediateDirectories: true) } catch {
            throw OutputPlanError("--output \(outputFolder): cannot create the folder: \((error as NSError).localizedFailureReason ?? error.localizedDescription)")
        }
    }
}

/// `path` without the extension of its last component (`a/x.png` → `a/x`; `a/x` and
/// `a/.x` unchanged).
public func removingExtension(_ path: String) -> String {
    let nameStart = path.lastIndex(of: "/").map(path.index(after:)) ?? path.startIndex
    guard let dot = path[nameStart...].lastIndex(of: "."), dot != nameStart else { return path }
    return String(path[..<dot])
}

/// The part of the absolute `path` below the folder `root` (`/d/a/x.png` under `/d` is
/// `a/x.png`); the last component when `path` is not below `root`.
public func mirroredPath(_ path: String, under root: String) -> String {
    let parts = path.split(separator: "/"), rootParts = root.split(separator: "/")
    if parts.count > rootParts.count && parts.starts(with: rootParts) {
        return parts.dropFirst(rootParts.count).joined(separator: "/")
    }
    return parts.last.map(String.init) ?? path
}

/// What identifies the file a path leads to: its real path when it exists, else its folder's
/// real path and its name, else the path itself.
func fileKey(_ absolute: String) -> String {
    if let real = realPath(absolute) { return real }
    if let real = realPath(parentFolder(absolute)), let name = absolute.split(separator: "/").last { return joined(real, String(name)) }
    return absolute
}
