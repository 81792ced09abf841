import Foundation
import Testing
import Detector

/// `DetectionRun`, detect's body, with the shipped model on the shipped samples: what it
/// prints, what it writes, and that a bad image or output is counted while the others go on.
@Suite struct DetectionRunTests {
    static let modelPath = repositoryRoot.appendingPathComponent("models/tiny-dsc-shapes.safetensors").path
    static func sample(_ name: String) -> ImageInput {
        let path = repositoryRoot.appendingPathComponent("samples/images/\(name)").path
        return ImageInput(path: path, absolutePath: path)
    }

    /// The events of a run, split by kind.
    struct Recorded {
        var lines: [String] = []
        var failures: [String] = []
        var wrote: [String] = []
        var progress: [[Int]] = []

        mutating func record(_ event: DetectionRunEvent) {
            switch event {
            case let .output(line): lines.append(line)
            case let .failure(error): failures.append("\(error)")
            case let .wrote(path): wrote.append(path)
            case let .progress(done, total): progress.append([done, total])
            }
        }
    }

    @Test func printsWritesAndCountsAMissingImage() throws {
        let folder = try Fixtures.temporaryFolder("detection-run")
        defer { try? FileManager.default.removeItem(at: folder) }
        let missing = folder.appendingPathComponent("missing.png").path
        let images = [Self.sample("000011.png"), ImageInput(path: missing, absolutePath: missing), Self.sample("000001.png")]
        let targets = ["a", "missing", "b"].map {
            OutputTargets(annotated: folder.appendingPathComponent("\($0).detections.png").path, labels: folder.appendingPathComponent("\($0).txt").path)
        }
        let detector = try ObjectDetector(modelPath: Self.modelPath)
        let run = DetectionRun(images: images, targets: targets, detector: detector, batchSize: 2, format: .text(headers: true))
        var recorded = Recorded()
        let summary = run.run { recorded.record($0) }

        #expect(summary.failures == 1 && summary.labelFiles == 2 && summary.cocoResults == nil)
        #expect(recorded.failures.count == 1 && recorded.failures[0].contains(missing), "\(recorded.failures)")
        #expect(recorded.progress == [[2, 3], [3, 3]])
        #expect(recorded.wrote == [targets[0].annotated!, targets[2].annotated!])
        #expect(!FileManager.default.fileExists(atPath: targets[1].labels!) && !FileManager.default.fileExists(atPath: targets[1].annotated!))

        // README's example: the shipped model finds five shapes in 000011.png, best first.
        #expect(recorded.lines.first == "# \(images[0].path) (320x240): 5 detections")
        #expect(recorded.lines.dropFirst().first == "triangle 0.916 222.6 143.6 311.7 226.7")
        // Each readable image: its header, then its detections as detect prints them, and the
        // same detections as YOLO labels and drawn on the picture.
        var expected: [String] = []
        for k in [0, 2] {
            let image = try ImageFile.read(path: images[k].path)
            let detections = detector.detect(image)
            expected.append(detectionTextHeader(image: images[k].path, width: image.width, height: image.height, count: detections.count))
            expected += detectionTextLines(detections, classNames: detector.classNames)
            let labels = try String(contentsOfFile: targets[k].labels!, encoding: .utf8)
            #expect(labels == yoloLabelText(detections, width: image.width, height: image.height, includeScore: false))
            let picture = try ImageFile.read(path: targets[k].annotated!)
            #expect(picture.width >= image.width && picture.height >= image.height)
        }
        #expect(recorded.lines == expected)
        #expect(try String(contentsOfFile: targets[0].labels!, encoding: .utf8).split(separator: "\n").count == 5)
    }

    /// One JSON line per image whatever the batch size, and the COCO results of every image
    /// under the ids given.
    @Test(arguments: [1, 3]) func jsonAndCOCOResultsAtBatchSize(_ batchSize: Int) throws {
        let images = ["000011.png", "000001.png", "000002.png"].map(Self.sample)
        let detector = try ObjectDetector(modelPath: Self.modelPath)
        let run = DetectionRun(images: images, targets: images.map { _ in OutputTargets() }, detector: detector, batchSize: batchSize,
                               format: .json, coco: (COCOResults(identifiers: .plain(classCount: detector.classNames.count)), [7, 8, 9]))
        var recorded = Recorded()
        let summary = run.run { recorded.record($0) }

        let pictures = try images.map { try ImageFile.read(path: $0.path) }
        let detections = pictures.map { detector.detect($0) }
        #expect(summary.failures == 0 && summary.labelFiles == 0 && recorded.wrote.isEmpty)
        #expect(recorded.lines.count == 3)
        #expect(recorded.lines.first?.hasPrefix("{\"image\": \"\(images[0].path)\", \"width\": 320, \"height\": 240, ") == true)
        for k in images.indices {
            #expect(recorded.lines[k] == detectionJSONLine(image: images[k].path, width: pictures[k].width, height: pictures[k].height,
                                                           detections: detections[k], classNames: detector.classNames))
        }
        let results = try #require(summary.cocoResults)
        #expect(results.results.count == detections.map(\.count).reduce(0, +))
        #expect(results.images.count == 3 && results.images[0].contains("\"id\": 7") && results.images[2].contains("\"id\": 9"), "\(results.images)")
        #expect(recorded.progress == (batchSize == 1 ? [[1, 3], [2, 3], [3, 3]] : [[3, 3]]))
    }

    /// An output that cannot be written is reported and counted; the next image is still
    /// processed, and a single file's text has no header line.
    @Test func unwritableOutputIsCounted() throws {
        let folder = try Fixtures.temporaryFolder("detection-run")
        defer { try? FileManager.default.removeItem(at: folder) }
        let blocker = folder.appendingPathComponent("file")
        try Data().write(to: blocker)
        let images = ["000011.png", "000001.png"].map(Self.sample)
        let targets = [OutputTargets(annotated: blocker.appendingPathComponent("a.png").path),
                       OutputTargets(annotated: folder.appendingPathComponent("b.png").path)]
        let detector = try ObjectDetector(modelPath: Self.modelPath)
        var recorded = Recorded()
        let summary = DetectionRun(images: images, targets: targets, detector: detector, format: .text(headers: false)).run { recorded.record($0) }
        #expect(summary.failures == 1 && recorded.failures.count == 1)
        #expect(recorded.wrote == [targets[1].annotated!])
        #expect(!recorded.lines.contains { $0.hasPrefix("#") } && recorded.lines.first == "triangle 0.916 222.6 143.6 311.7 226.7")
    }
}
