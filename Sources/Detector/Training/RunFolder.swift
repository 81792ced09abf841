import Foundation

/// A training run's output folder, held exclusively (an flock on `.lock` inside it) from `init`
/// to `unlock()`: a second trainer writing into the same folder would interleave
/// results.jsonl and overwrite best.safetensors, so it is refused instead, naming the folder
/// and the pid of the holder.
public final class RunFolder {
    public let path: String
    private let lock: FileLock

    public static let lockName = ".lock"
    /// Files whose presence marks a folder as holding a run (one that --resume could continue).
    public static let runFiles = ["last.safetensors", "results.jsonl"]
    /// Everything a run writes, deleted before a new run overwrites an old one.
    public static let outputs = ["last.safetensors", "best.safetensors", "results.jsonl", "loss.png", "predictions", "overfit"]

    /// Creates the folder (and its parents) if needed and takes its lock, or throws
    /// `TrainingError` of kind `.folderInUse` at once.
    public init(path: String) throws {
        self.path = path
        do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) } catch {
            throw TrainingError(.cannotWrite, "cannot create the output folder \(path): \(error.localizedDescription)")
        }
        do { lock = try FileLock(path: path + "/" + RunFolder.lockName) } catch let error as FileLockError where error.kind == .held {
            let holder = error.holder.map { " (pid \($0))" } ?? ""
            throw TrainingError(.folderInUse, "\(path) is in use by another training\(holder): two runs cannot write one folder; wait for it to finish or choose another output folder")
        } catch {
            throw TrainingError(.cannotWrite, "\(error)")
        }
    }

    public func unlock() { lock.unlock() }

    /// The files of `runFiles` present in the folder at `path`.
    public static func existingRunFiles(at path: String) -> [String] {
        runFiles.filter { FileManager.default.fileExists(atPath: path + "/" + $0) }
    }

    /// Deletes the outputs of an earlier run (for a new run that may overwrite it).
    func removeOutputs() throws {
        for name in RunFolder.outputs where FileManager.default.fileExists(atPath: path + "/" + name) {
            do { try FileManager.default.removeItem(atPath: path + "/" + name) } catch {
                throw TrainingError(.cannotWrite, "cannot delete \(path)/\(name) of the earlier run: \(error.localizedDescription)")
            }
        }
    }

    /// Creates `PREFIX1`, or `PREFIX2`, ...: the first N whose folder does not exist, and returns
    /// its path. Each try is one mkdir(2), which fails with EEXIST if the folder exists (or
    /// another process created it a moment ago), so two processes never get the same folder.
    public static func createNumbered(prefix: String) throws -> String {
        let parent = URL(fileURLWithPath: prefix + "1").deletingLastPathComponent().path
        do { try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true) } catch {
            throw TrainingError(.cannotWrite, "cannot create \(parent): \(error.localizedDescription)")
        }
        for n in 1...1_000_000 {
            let path = prefix + String(n)
            if mkdir(path, 0o777) == 0 { return path }
            let code = errno
            guard code == EEXIST else {
                throw TrainingError(.cannotWrite, "cannot create the output folder \(path): \(String(cString: strerror(code)))")
            }
        }
        throw TrainingError(.cannotWrite, "no free output folder \(prefix)N for N up to 1000000")
    }
}

/// How a stored config differs from another, one entry per difference, e.g.
/// `anchors [1.5, 1.5], [3.0, 3.0] → [1.0, 1.0], [3.0, 3.0]` or `loss.object 5.0 → 2.0`.
public func configDifferences(_ old: ModelConfig, _ new: ModelConfig) -> [String] {
    var found: [String] = []
    func note<T: Equatable>(_ name: String, _ a: T, _ b: T, _ text: (T) -> String = { "\($0)" }) {
        if a != b { found.append("\(name) \(text(a)) → \(text(b))") }
    }
    note("name", old.name, new.name) { "\"\($0)\"" }
    note("input", [old.inputWidth, old.inputHeight, old.inputChannels], [new.inputWidth, new.inputHeight, new.inputChannels]) {
        $0.map(String.init).joined(separator: "x")
    }
    note("classes", old.classes, new.classes)
    note("anchors", old.anchors, new.anchors) { $0.map { "[\($0.width), \($0.height)]" }.joined(separator: ", ") }
    let (a, b) = (old.loss, new.loss)
    note("loss.coord", a.coordScale, b.coordScale)
    note("loss.object", a.objectScale, b.objectScale)
    note("loss.noobject", a.noObjectScale, b.noObjectScale)
    note("loss.class", a.classScale, b.classScale)
    note("loss.ignore_threshold", a.ignoreThreshold, b.ignoreThreshold)
    note("loss.warmup_images", a.warmupImages, b.warmupImages)
    note("loss.rescore", a.rescore, b.rescore)
    note("layer count", old.layers.count, new.layers.count)
    for (k, (x, y)) in zip(old.layers, new.layers).enumerated() where x != y {
        found.append("layer \(k) \(x.json.text) → \(y.json.text)")
    }
    if found.isEmpty && old.jsonString() != new.jsonString() { found.append("the config's JSON text") }
    return found
}
