import Foundation

/// The built-in data set: the synthetic shapes that `train-detector` trains, evaluates and
/// fits anchors on when it is given no `--data`, generated into `folder` on first use, and what
/// `train-detector generate` writes by default. The one place of its numbers: the command's
/// defaults are these constants, and the Makefile's `samples`, `demo` and `model` targets call
/// `generate` with those defaults instead of repeating them (scripts/accuracy.py too).
public enum BuiltInDataset {
    /// Where it is generated and looked for, relative to the working directory.
    public static let folder = "data/shapes"
    /// Training images.
    public static let trainCount = 2000
    /// Validation images.
    public static let valCount = 200
    /// The generator's seed.
    public static let seed: UInt64 = 1

    /// Why the built-in data set cannot be used.
    public struct Failure: Error, CustomStringConvertible, Sendable, Equatable {
        public var folder: String
        public var description: String {
            "\(folder) exists but is not a complete data set (no classes.txt); delete it to have the built-in synthetic shapes generated there, or pass --data"
        }
    }

    /// Generates the built-in set into `folder` unless it is there, saying what it does through
    /// `log`. The folder appears only once complete (`SyntheticShapes.writeDataset` writes a
    /// temporary sibling and renames it), so an interrupted generation leaves no folder that
    /// looks complete, and the next run generates it again. A folder that holds `classes.txt`
    /// is used as it is (with `incompleteWarning` when it holds other counts); another
    /// non-empty folder is refused (`Failure`). When another process finishes generating the
    /// same folder first, its set is used.
    public static func ensure(in folder: String = folder, log: (String) -> Void) throws {
        let fm = FileManager.default
        if fm.fileExists(atPath: folder + "/classes.txt") {
            if let warning = incompleteWarning(folder) { log(warning) }
            return
        }
        if isNonEmptyFolder(folder) { throw Failure(folder: folder) }
        log("generating the synthetic shapes data set in \(folder) (\(trainCount) train + \(valCount) val images, seed \(seed))...")
        let start = Date()
        do {
            try SyntheticShapes.writeDataset(to: folder, trainCount: trainCount, valCount: valCount, seed: seed)
        } catch let error as FolderWriteError where error.kind == .notEmpty && fm.fileExists(atPath: folder + "/classes.txt") {
            log("\(folder) was generated meanwhile by another process; using that one")
            return
        }
        log(String(format: "generated in %.1f s", Date().timeIntervalSince(start)))
    }

    /// A warning when `folder` holds other than `trainCount` training and `valCount`
    /// validation PNG images: most likely left by an older version's interrupted generation
    /// (which wrote classes.txt first). Nil when the counts are right.
    public static func incompleteWarning(_ folder: String) -> String? {
        func pngCount(_ split: String) -> Int {
            ((try? FileManager.default.contentsOfDirectory(atPath: "\(folder)/\(split)/images")) ?? []).filter { $0.hasSuffix(".png") }.count
        }
        let (train, val) = (pngCount("train"), pngCount("val"))
        guard train != trainCount || val != valCount else { return nil }
        return "warning: \(folder) holds \(train) training and \(val) validation images, not the \(trainCount) + \(valCount) of the built-in set (perhaps an interrupted generation); delete the folder to generate it again"
    }

    /// The data set at `path`, or without one the built-in set (`ensure`d first); its first ten
    /// warnings and the count of skipped images go to `log`.
    public static func load(_ path: String?, log: (String) -> Void) throws -> Dataset {
        let folder = path ?? self.folder
        if path == nil { try ensure(in: folder, log: log) }
        let dataset = try Dataset.load(path: folder)
        for w in dataset.warnings.prefix(10) { log("warning: \(w)") }
        if dataset.skippedImages > 0 { log("warning: \(dataset.skippedImages) image(s) skipped (bad label files or image entries; the warnings above name them)") }
        return dataset
    }
}
