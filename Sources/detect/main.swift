import ArgumentParser
import CommandSupport
import Detector
import Foundation

@main
struct Detect: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "detect",
        abstract: "Find objects in PNG or JPEG images with a trained detector.",
        // Written out because `images` has a default (see run()), which would print it as
        // optional; the second form is the one for names that begin with '-'.
        usage: """
        detect <images> ... [--model <model>] [--conf <conf>] [--iou <iou>] [--agnostic] [--max-det <max-det>] [--json] [--output <output>] [--no-render] [--save-txt] [--save-conf] [--coco <coco>] [--data <data>] [--batch-size <batch-size>] [--threads <threads>]
        detect [<options>] -- <images> ...
        """,
        discussion: """
        Each source is an image file, a folder (every .png, .jpg and .jpeg file below it, any case, hidden files and folders and NAME.detections.png skipped), a quoted glob ("dir/*.png", "data/**/*.png": ** is any number of folders) or @LIST, a text file naming one source per line (relative to the working directory; blank lines and # comments skipped). Images are processed in that order, each folder and glob sorted by path, a file reached twice once.

        Prints one line per detection, `class score x1 y1 x2 y2` in the image's pixels (or one JSON object per image with --json), and writes the image with its boxes drawn to NAME.detections.png beside the input. With --output DIR, the inputs' folders are mirrored under DIR (a/x.png and b/x.png go to DIR/a/x.detections.png and DIR/b/x.detections.png); for a single image file --output may name the file itself. Except for a single image file, each image's lines follow a line `# PATH (WxH): N detections`. A class or file name that could be mistaken for another line (one holding a newline or another control character, empty, or starting with `"` or `#`) is printed as a JSON string literal, e.g. "a\\nb.png"; other names are printed as they are.

        --save-txt writes YOLO labels, `class cx cy w h` normalised to the image (--save-conf adds the score), to NAME.txt beside the image, or to DIR/labels/... mirrored like the images with --output DIR. --coco FILE writes the detections as COCO results, [{"image_id", "category_id", "bbox": [x, y, w, h], "score"}], and FILE.images.json with each id's file, width and height; ids are the image's position among the inputs (from 0) and the class index, or with --data DIR those of the data set (its image file numbers or positions, and the ids of DIR/categories.json when present).

        A file whose name begins with `-` goes after `--`, which ends the options: detect -- -leading-dash.png

        Without --model it uses $DETECTOR_MODEL, else the shipped tiny-dsc-shapes.safetensors, looked for in this order: models/ under the working directory; $DETECTOR_SHARE (a folder of shipped files); PREFIX/share/detector of the installed binary PREFIX/bin/detect; models/ of the repository a development build (.build/...) was built in; /usr/local/share/detector, but not when $DETECTOR_SHARE is set (it replaces that machine-wide folder).

        Exit status: 0 when every image was processed, 1 when an image, a source (a glob matching nothing, a folder without images, a list) or the model could not be read, a file could not be written (the message names the file and what was wrong; the other images are still processed) or an option was wrong.
        """)

    @Argument(help: "Images, folders, quoted globs or @LIST files (after `--` when a name begins with '-'); at least one.") var images: [String] = []
    @Option(help: "Weights file (.safetensors with its config). Default: see the lookup above.") var model: String?
    @Option(help: "Score threshold (objectness x class probability), in [0, 1].") var conf: Float = 0.25
    @Option(help: "IoU threshold of non-maximum suppression, in [0, 1].") var iou: Float = 0.45
    @Flag(help: "Suppress overlapping boxes across classes, not only within a class.") var agnostic = false
    @Option(help: "At most this many detections per image, in [\(Self.maxDetRange.lowerBound), \(Self.maxDetRange.upperBound)].") var maxDet = 100
    @Flag(help: "One JSON object per image per line on stdout.") var json = false
    @Option(help: "Where to write the outputs: a folder (created when missing) under which the inputs' folders are mirrored, or for a single image file the annotated PNG itself.") var output: String?
    @Flag(help: "Do not write annotated PNGs.") var noRender = false
    @Flag(help: "Write each image's detections as YOLO labels, NAME.txt beside the image (under DIR/labels/ with --output DIR).") var saveTxt = false
    @Flag(help: "With --save-txt, add each detection's score as a sixth field.") var saveConf = false
    @Option(help: "Write the detections as a COCO results JSON file (and FILE.images.json, the images of its ids).") var coco: String?
    @Option(help: "With --coco, the data set folder whose image ids and category ids (categories.json) to use.") var data: String?
    @Option(help: "Images per forward pass, in [\(Self.batchSizeRange.lowerBound), \(Self.batchSizeRange.upperBound)] (memory grows with it; the detections do not change).") var batchSize = 8
    @OptionGroup var engine: EngineOptions

    /// A bound far above any real image's objects (the head of the shipped model has 320
    /// boxes) that still catches a typo such as an extra digit run.
    static let maxDetRange = 1...100_000
    /// A batch holds this many decoded images at once (a 100-megapixel image is 300 MB).
    static let batchSizeRange = 1...256

    /// ArgumentParser reads a word such as `-leading-dash.png` as a cluster of short flags
    /// (-l -e -a ...) and, because the cluster holds `h`, prints the help and exits 0 instead
    /// of reporting anything; a word without an `h` gives "Unknown option" or, with no other
    /// argument, a misleading "Missing expected argument". detect has no short option but -h,
    /// so every other word that starts with a single '-' (before `--`) is refused here, with
    /// the way to pass such a name. A lone `-` is left to the image reader to report.
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if let problem = singleDashProblem(in: arguments) {
            log(fullMessage(for: ValidationError(problem)))
            Foundation.exit(ExitCode.failure.rawValue)
        }
        mainExitingOneOnBadInput(arguments)
    }

    /// The options above that take a value (the word after them is their value).
    static let valueOptions: Set = ["--model", "--conf", "--iou", "--max-det", "--output", "--coco", "--data", "--batch-size", "--threads"]

    /// The message for the first word before `--` that starts with a single '-' and is not
    /// `-h` or a lone `-`, or nil when there is none.
    static func singleDashProblem(in arguments: [String]) -> String? {
        let options = arguments.prefix(while: { $0 != "--" })
        guard let k = options.firstIndex(where: { $0.hasPrefix("-") && !$0.hasPrefix("--") && $0 != "-h" && $0 != "-" }) else { return nil }
        let word = options[k]
        if k > 0, valueOptions.contains(options[k - 1]) {
            let option = options[k - 1]
            return "'\(word)' after \(option): a value that begins with '-' is written \(option)=\(word)"
        }
        return "unknown option '\(word)'. A file name that begins with '-' goes after '--': detect -- \(word)"
    }

    func validate() throws {
        // NaN compares false with everything, so a plain range check would already refuse it;
        // the explicit isFinite says so, and `Float("nan")` / `Float("inf")` do parse.
        if !(conf.isFinite && (0...1).contains(conf)) { throw ValidationError("--conf must be in [0, 1], got \(conf)") }
        if !(iou.isFinite && (0...1).contains(iou)) { throw ValidationError("--iou must be in [0, 1], got \(iou)") }
        if !Self.maxDetRange.contains(maxDet) {
            throw ValidationError("--max-det must be in [\(Self.maxDetRange.lowerBound), \(Self.maxDetRange.upperBound)], got \(maxDet)")
        }
        if !Self.batchSizeRange.contains(batchSize) {
            throw ValidationError("--batch-size must be in [\(Self.batchSizeRange.lowerBound), \(Self.batchSizeRange.upperBound)], got \(batchSize)")
        }
        if model?.isEmpty == true { throw ValidationError("--model is empty") }
        if output?.isEmpty == true { throw ValidationError("--output is empty") }
        if coco?.isEmpty == true { throw ValidationError("--coco is empty") }
        if data?.isEmpty == true { throw ValidationError("--data is empty") }
        if saveConf && !saveTxt { throw ValidationError("--save-conf adds the score to --save-txt's label lines; give --save-txt too") }
        if data != nil && coco == nil { throw ValidationError("--data gives the ids of --coco's results; give --coco FILE too") }
    }

    func run() throws {
        // Checked here and not in validate(): ArgumentParser reports leftover unknown options
        // only after validate() passed, so `detect --bogus` would say "give at least one
        // image" (or, with `images` required, "Missing expected argument") instead of naming
        // --bogus.
        if images.isEmpty { throw ValidationError("give at least one image, folder, glob or @list") }
        do { try engine.apply() } catch { fail("\(error)") }
        // The output folder is not searched: a second run must not detect on the first's pictures.
        let sources = ImageSources.expand(images, excludedFolders: output.map { [$0] } ?? [])
        for error in sources.errors { logError(error) }
        if sources.images.isEmpty { fail("no images to process") }
        if let coco, isFolder(coco) {
            fail("--coco \(coco): is a folder; give the name of the results file")
        }
        let plan: OutputPlan
        do {
            let others = coco.map { [(path: $0, role: "the COCO results (--coco)"), (path: COCOResults.imagesPath(for: $0), role: "the COCO images file (--coco)")] } ?? []
            plan = try OutputPlan(sources: sources, output: output, render: !noRender, saveLabels: saveTxt, otherOutputs: others)
        } catch { fail("\(error)") }

        let environment = ProcessInfo.processInfo.environment
        let modelFromEnvironment = model == nil && !(environment["DETECTOR_MODEL"] ?? "").isEmpty
        guard let path = model ?? defaultModelPath(environment: environment) else {
            let looked = ["$DETECTOR_MODEL (not set)"] + shippedFileCandidates(shippedModelName, environment: environment)
            fail("no model given and none found; looked at: \(looked.joined(separator: ", ")). Pass --model PATH")
        }
        let detector: ObjectDetector
        do { detector = try ObjectDetector(modelPath: path) } catch {
            fail("cannot load the model\(modelFromEnvironment ? " (from $DETECTOR_MODEL)" : ""): \(error)")
        }
        var cocoOutput: (results: COCOResults, imageIDs: [Int])? = nil
        if coco != nil {
            let identifiers: COCOIdentifiers
            do {
                identifiers = try data.map { try COCOIdentifiers.load(dataset: $0, classNames: detector.classNames) }
                    ?? .plain(classCount: detector.classNames.count)
            } catch { fail("--data: \(error)") }
            do { cocoOutput = (COCOResults(identifiers: identifiers), try identifiers.imageIDs(for: sources.images, dataset: data ?? "")) } catch {
                fail("\(error)")
            }
        }
        do { try plan.createOutputFolder() } catch { fail("\(error)") }

        let detection = DetectionRun(images: sources.images, targets: plan.targets, detector: detector,
                                     options: NMSOptions(scoreThreshold: conf, iouThreshold: iou, classAgnostic: agnostic, maximumDetections: maxDet),
                                     batchSize: batchSize, format: json ? .json : .text(headers: !sources.isSingleFile),
                                     labelScores: saveConf, coco: cocoOutput)
        let status = StatusLine(enabled: isatty(STDERR_FILENO) != 0 && sources.images.count > 1)
        let started = Date()
        let summary = detection.run { event in
            switch event {
            case let .output(line): print(line)
            case let .failure(error): status.log(errorLine(error))
            case let .wrote(path): status.log("wrote \(path)")
            case let .progress(done, total):
                status.show(progressText(done: done, total: total, elapsedSeconds: Date().timeIntervalSince(started)))
            }
        }
        status.finish()
        var failures = sources.errors.count + summary.failures
        let labelFiles = summary.labelFiles
        if saveTxt && labelFiles > 0 {
            let place = plan.outputFolder.map { "under \($0)/labels" } ?? (sources.isSingleFile ? "to \(plan.targets[0].labels ?? "")" : "beside the images")
            log("wrote \(labelFiles) label file\(labelFiles == 1 ? "" : "s") \(place)")
        }
        if let results = summary.cocoResults, let coco {
            do {
                try results.write(to: coco)
                log("wrote \(coco) (\(results.results.count) detections of \(results.images.count) images) and \(COCOResults.imagesPath(for: coco))")
            } catch {
                logError(error)
                failures += 1
            }
        }
        if failures > 0 {
            if sources.images.count > 1 {
                logError("\(failures) problem\(failures == 1 ? "" : "s") (see above); the other images were processed")
            }
            throw ExitCode(1)
        }
    }

    func fail(_ message: String) -> Never {
        logError(message)
        Detect.exit(withError: ExitCode(1))
    }
}

/// What detect writes to standard error while a progress line is shown on a terminal: each
/// message first clears the line (carriage return, erase to the end), the progress is drawn
/// again after the next batch, and the last one is left standing.
final class StatusLine {
    let enabled: Bool
    private var shown = false

    init(enabled: Bool) { self.enabled = enabled }

    func log(_ text: String) {
        clear()
        CommandSupport.log(text)
    }

    func show(_ text: String) {
        guard enabled else { return }
        clear()
        FileHandle.standardError.write(Data(text.utf8))
        shown = true
    }

    func finish() {
        if shown { FileHandle.standardError.write(Data("\n".utf8)) }
        shown = false
    }

    private func clear() {
        if shown { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        shown = false
    }
}

/// Whether the path leads (through links) to a folder.
private func isFolder(_ path: String) -> Bool {
    var isFolder: ObjCBool = false
    return FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) && isFolder.boolValue
}
