import ArgumentParser
import Detector
import Foundation

@main
struct Detect: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "detect",
        abstract: "Find objects in PNG images with a trained detector.",
        discussion: """
        Prints one line per detection, `class score x1 y1 x2 y2` in the image's pixels (or one JSON object per image with --json), and writes the image with its boxes drawn to NAME.detections.png beside the input (or to --output).

        Without --model it uses $DETECTOR_MODEL, else models/tiny-dsc-shapes.safetensors under the working directory, else the one `make install` put in PREFIX/share/detector.
        """)

    @Argument(help: "PNG images.") var images: [String]
    @Option(help: "Weights file (.safetensors with its config).") var model: String?
    @Option(help: "Score threshold (objectness x class probability).") var conf: Float = 0.25
    @Option(help: "IoU threshold of non-maximum suppression.") var iou: Float = 0.45
    @Flag(help: "Suppress overlapping boxes across classes, not only within a class.") var agnostic = false
    @Option(help: "At most this many detections per image.") var maxDet = 100
    @Flag(help: "One JSON object per image per line on stdout.") var json = false
    @Option(help: "Where to write the annotated PNG: a file for one image, a folder for several.") var output: String?
    @Flag(help: "Do not write annotated PNGs.") var noRender = false

    func validate() throws {
        if images.isEmpty { throw ValidationError("give at least one PNG image") }
        if !(0...1).contains(conf) { throw ValidationError("--conf must be in [0, 1]") }
        if !(0...1).contains(iou) { throw ValidationError("--iou must be in [0, 1]") }
        if maxDet < 1 { throw ValidationError("--max-det must be at least 1") }
    }

    func run() throws {
        guard let path = model ?? defaultModelPath() else {
            fail("no model given and none found (looked at $DETECTOR_MODEL, ./models/tiny-dsc-shapes.safetensors and the installed share/detector); pass --model PATH")
        }
        let detector: ObjectDetector
        do { detector = try ObjectDetector(modelPath: path) } catch { fail("cannot load the model: \(error)") }
        let options = NMSOptions(scoreThreshold: conf, iouThreshold: iou, classAgnostic: agnostic, maximumDetections: maxDet)
        var failures = 0
        var isFolder: ObjCBool = false
        let outputIsFolder = images.count > 1 || (output.map { FileManager.default.fileExists(atPath: $0, isDirectory: &isFolder) && isFolder.boolValue } ?? false)
        for imagePath in images {
            do {
                let image = try PNG.read(path: imagePath)
                let detections = detector.detect(image, options: options)
                if json {
                    print(detectionJSONLine(image: imagePath, width: image.width, height: image.height, detections: detections,
                                            classNames: detector.classNames))
                } else {
                    if images.count > 1 { print("# \(imagePath) (\(image.width)x\(image.height)): \(detections.count) detections") }
                    for line in detectionTextLines(detections, classNames: detector.classNames) { print(line) }
                }
                if !noRender {
                    let stem = URL(fileURLWithPath: imagePath).deletingPathExtension()
                    let target: String
                    if let output {
                        target = outputIsFolder ? output + "/" + stem.lastPathComponent + ".detections.png" : output
                    } else {
                        target = stem.path + ".detections.png"
                    }
                    try PNG.write(renderDetections(on: image, detections: detections, classNames: detector.classNames, minimumSide: 512), to: target)
                    FileHandle.standardError.write(Data("wrote \(target)\n".utf8))
                }
            } catch {
                FileHandle.standardError.write(Data("error: \(error)\n".utf8))
                failures += 1
            }
        }
        if failures > 0 { throw ExitCode(1) }
    }

    func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("error: \(message)\n".utf8))
        Detect.exit(withError: ExitCode(1))
    }
}
