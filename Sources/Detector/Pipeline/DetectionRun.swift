import Foundation

/// What a `DetectionRun` reports as it goes, in the order it happens.
public enum DetectionRunEvent {
    /// A line for standard output: an image's JSON object, or its header and detection lines.
    case output(String)
    /// An image that could not be read, or an output of an image that could not be written;
    /// the run goes on with the other images (and counts it in `DetectionRunSummary.failures`).
    case failure(any Error)
    /// An annotated image was written to this path.
    case wrote(String)
    /// A batch is done: `done` of `total` images have been processed.
    case progress(done: Int, total: Int)
}

/// What a `DetectionRun` did.
public struct DetectionRunSummary {
    /// Images that could not be read plus outputs that could not be written.
    public var failures: Int
    /// YOLO label files written.
    public var labelFiles: Int
    /// Every processed image's detections, when the run collected COCO results.
    public var cocoResults: COCOResults?
}

/// The body of `detect` once its inputs are known: each image read, its detections printed
/// (through `report`) and its outputs written, a batch at a time (the network sees several
/// images per forward pass, and no more than a batch of decoded images is held). A missing or
/// broken image, or an output that cannot be written, is reported and counted; the other
/// images are still processed.
public struct DetectionRun {
    /// How each image's detections are printed.
    public enum Format: Sendable, Equatable {
        /// `detectionTextLines`, after a `detectionTextHeader` line when `headers` (every run
        /// but one over a single image file).
        case text(headers: Bool)
        /// One `detectionJSONLine` per image.
        case json
    }

    public var images: [ImageInput]
    /// Where each image's outputs go (`OutputPlan.targets`, one per image).
    public var targets: [OutputTargets]
    public var detector: ObjectDetector
    public var options: NMSOptions
    /// Images per forward pass; the detections do not change with it.
    public var batchSize: Int
    public var format: Format
    /// Add each detection's score to its label line.
    public var labelScores: Bool
    /// The results to add each image's detections to, and the COCO image id of each image.
    public var coco: (results: COCOResults, imageIDs: [Int])?

    public init(images: [ImageInput], targets: [OutputTargets], detector: ObjectDetector, options: NMSOptions = NMSOptions(),
                batchSize: Int = 8, format: Format = .text(headers: true), labelScores: Bool = false,
                coco: (results: COCOResults, imageIDs: [Int])? = nil) {
        precondition(targets.count == images.count, "one OutputTargets per image")
        precondition(coco.map { $0.imageIDs.count == images.count } ?? true, "one COCO image id per image")
        self.images = images
        self.targets = targets
        self.detector = detector
        self.options = options
        self.batchSize = max(1, batchSize)
        self.format = format
        self.labelScores = labelScores
        self.coco = coco
    }

    /// The one place detect reads an image (PNG or JPEG, by its first bytes).
    public static func readImage(_ path: String) throws -> Image { try ImageFile.read(path: path) }

    public func run(report: (DetectionRunEvent) -> Void) -> DetectionRunSummary {
        var summary = DetectionRunSummary(failures: 0, labelFiles: 0, cocoResults: coco?.results)
        let classNames = detector.classNames
        for start in stride(from: 0, to: images.count, by: batchSize) {
            let batch = start..<min(start + batchSize, images.count)
            var loaded: [(index: Int, image: Image)] = []
            for k in batch {
                do { loaded.append((k, try Self.readImage(images[k].path))) } catch {
                    report(.failure(error))
                    summary.failures += 1
                }
            }
            let detections = detector.detect(loaded.map(\.image), options: options)
            for ((k, image), detections) in zip(loaded, detections) {
                let input = images[k]
                switch format {
                case .json:
                    report(.output(detectionJSONLine(image: input.path, width: image.width, height: image.height,
                                                     detections: detections, classNames: classNames)))
                case let .text(headers):
                    if headers {
                        report(.output(detectionTextHeader(image: input.path, width: image.width, height: image.height,
                                                           count: detections.count)))
                    }
                    for line in detectionTextLines(detections, classNames: classNames) { report(.output(line)) }
                }
                if let coco {
                    summary.cocoResults?.add(imageID: coco.imageIDs[k], path: input.path, width: image.width, height: image.height,
                                             detections: detections)
                }
                do {
                    if let target = targets[k].labels {
                        let text = yoloLabelText(detections, width: image.width, height: image.height, includeScore: labelScores)
                        try writeAtomically(Data(text.utf8), to: target)
                        summary.labelFiles += 1
                    }
                    if let target = targets[k].annotated {
                        try PNG.write(renderDetections(on: image, detections: detections, classNames: classNames, minimumSide: 512),
                                      to: target)
                        report(.wrote(target))
                    }
                } catch {
                    report(.failure(error))
                    summary.failures += 1
                }
            }
            report(.progress(done: batch.upperBound, total: images.count))
        }
        return summary
    }
}
