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
        detect <images> ... [--model <model>] [--conf <conf>] [--iou <iou>] [--agnostic] [--max-det <max-det>] [--json] [--output <output>] [--no-render]
        detect [<options>] -- <images> ...
        """,
        discussion: """
        Prints one line per detection, `class score x1 y1 x2 y2` in the image's pixels (or one JSON object per image with --json), and writes the image with its boxes drawn to NAME.detections.png beside the input (or to --output). With several images, each image's lines follow a line `# PATH (WxH): N detections`. A class or file name that could be mistaken for another line (one holding a newline or another control character, empty, or starting with `"` or `#`) is printed as a JSON string literal, e.g. "a\\nb.png"; other names are printed as they are.

        A file whose name begins with `-` goes after `--`, which ends the options: detect -- -leading-dash.png

        Without --model it uses $DETECTOR_MODEL, else the shipped tiny-dsc-shapes.safetensors, looked for in this order: models/ under the working directory; $DETECTOR_SHARE (a folder of shipped files); PREFIX/share/detector of the installed binary PREFIX/bin/detect; models/ of the repository a development build (.build/...) was built in; /usr/local/share/detector, but not when $DETECTOR_SHARE is set (it replaces that machine-wide folder).

        Exit status: 0 when every image was processed, 1 when an image or the model could not be read, a file could not be written (the message names the file and what was wrong; the other images are still processed) or an option was wrong.
        """)

    @Argument(help: "PNG or JPEG images (after `--` when a name begins with '-'); at least one.") var images: [String] = []
    @Option(help: "Weights file (.safetensors with its config). Default: see the lookup above.") var model: String?
    @Option(help: "Score threshold (objectness x class probability), in [0, 1].") var conf: Float = 0.25
    @Option(help: "IoU threshold of non-maximum suppression, in [0, 1].") var iou: Float = 0.45
    @Flag(help: "Suppress overlapping boxes across classes, not only within a class.") var agnostic = false
    @Option(help: "At most this many detections per image, in [\(Self.maxDetRange.lowerBound), \(Self.maxDetRange.upperBound)].") var maxDet = 100
    @Flag(help: "One JSON object per image per line on stdout.") var json = false
    @Option(help: "Where to write the annotated PNG: a file for one image, a folder for several (created when missing).") var output: String?
    @Flag(help: "Do not write annotated PNGs.") var noRender = false

    /// A bound far above any real image's objects (the head of the shipped model has 320
    /// boxes) that still catches a typo such as an extra digit run.
    static let maxDetRange = 1...100_000

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
    static let valueOptions: Set = ["--model", "--conf", "--iou", "--max-det", "--output"]

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
        if model?.isEmpty == true { throw ValidationError("--model is empty") }
        if output?.isEmpty == true { throw ValidationError("--output is empty") }
    }

    func run() throws {
        // Checked here and not in validate(): ArgumentParser reports leftover unknown options
        // only after validate() passed, so `detect --bogus` would say "give at least one PNG or
        // JPEG image" (or, with `images` required, "Missing expected argument") instead of
        // naming --bogus.
        if images.isEmpty { throw ValidationError("give at least one PNG or JPEG image") }
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
        let targets = noRender ? [:] : renderTargets()
        let options = NMSOptions(scoreThreshold: conf, iouThreshold: iou, classAgnostic: agnostic, maximumDetections: maxDet)
        var failures = 0
        for imagePath in images {
            do {
                let image = try ImageFile.read(path: imagePath)
                let detections = detector.detect(image, options: options)
                if json {
                    print(detectionJSONLine(image: imagePath, width: image.width, height: image.height, detections: detections,
                                            classNames: detector.classNames))
                } else {
                    if images.count > 1 {
                        print(detectionTextHeader(image: imagePath, width: image.width, height: image.height, count: detections.count))
                    }
                    for line in detectionTextLines(detections, classNames: detector.classNames) { print(line) }
                }
                if let target = targets[imagePath] {
                    try PNG.write(renderDetections(on: image, detections: detections, classNames: detector.classNames, minimumSide: 512), to: target)
                    FileHandle.standardError.write(Data("wrote \(target)\n".utf8))
                }
            } catch {
                log("error: \(error)")
                failures += 1
            }
        }
        if failures > 0 { throw ExitCode(1) }
    }

    /// Where each image's annotated copy goes, checked before any image is read: a missing
    /// output folder is created, and two inputs that would write the same file (a/x.png and
    /// b/x.png into one folder), or an output that is an input, are refused rather than
    /// silently overwritten.
    func renderTargets() -> [String: String] {
        var isFolder: ObjCBool = false
        let outputExists = output.map { FileManager.default.fileExists(atPath: $0, isDirectory: &isFolder) } ?? false
        let outputIsFolder = images.count > 1 || (outputExists && isFolder.boolValue)
        if let output, images.count > 1 {
            if outputExists && !isFolder.boolValue { fail("--output \(output): is a file; with several images it must be a folder") }
            if !outputExists {
                do { try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true) } catch {
                    fail("--output \(output): cannot create the folder: \(error.localizedDescription)")
                }
            }
        }
        var targets: [String: String] = [:]
        var sources: [String: String] = [:]   // standardized target → the image writing it
        let inputs = Set(images.map { URL(fileURLWithPath: $0).standardizedFileURL.path })
        for imagePath in images where targets[imagePath] == nil {
            let stem = URL(fileURLWithPath: imagePath).deletingPathExtension()
            let target: String
            if let output {
                target = outputIsFolder ? output + "/" + stem.lastPathComponent + ".detections.png" : output
            } else {
                target = stem.path + ".detections.png"
            }
            let key = URL(fileURLWithPath: target).standardizedFileURL.path
            if inputs.contains(key) { fail("\(target): is one of the input images; the annotated copy would overwrite it") }
            if let other = sources[key] { fail("\(other) and \(imagePath) would both be written to \(target); give them separate runs or leave out --output") }
            sources[key] = imagePath
            targets[imagePath] = target
        }
        return targets
    }

    func fail(_ message: String) -> Never {
        log("error: \(message)")
        Detect.exit(withError: ExitCode(1))
    }
}
