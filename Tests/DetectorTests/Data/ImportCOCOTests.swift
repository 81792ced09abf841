import Foundation
import Testing
@testable import Detector

/// Folders of images and annotation files for the import tests.
enum ImportFixture {
    enum File {
        /// A black PNG of this size (imports read only the header).
        case png(Int, Int)
        case text(String)
    }

    /// A fresh folder holding `files` (relative path → contents).
    static func folder(_ label: String, _ files: [(String, File)]) throws -> String {
        let root = try Fixtures.temporaryFolder(label).path
        for (path, file) in files {
            let full = root + "/" + path
            try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            switch file {
            case let .png(w, h): try PNG.write(Image(width: w, height: h), to: full)
            case let .text(s): try Data(s.utf8).write(to: URL(fileURLWithPath: full))
            }
        }
        return root
    }

    /// JSON text of a Foundation value (keys sorted).
    static func json(_ value: Any) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys]), as: UTF8.self)
    }

    /// A COCO document.
    static func coco(images: [[String: Any]], annotations: [[String: Any]], categories: [[String: Any]] = [["id": 1, "name": "thing"]]) throws -> String {
        try json(["images": images, "annotations": annotations, "categories": categories])
    }

    /// An output path beside nothing yet (in a fresh folder).
    static func output(_ label: String = "import-out") throws -> String { try Fixtures.temporaryFolder(label).path + "/out" }

    /// The objects of a written label file.
    static func labels(_ path: String, classCount: Int) throws -> [LabeledObject] { try readLabels(path: path, classCount: classCount) }

    /// Whether two boxes are equal within `tolerance` in every coordinate.
    static func close(_ a: BoundingBox, _ b: BoundingBox, _ tolerance: Float = 1e-5) -> Bool {
        abs(a.x1 - b.x1) <= tolerance && abs(a.y1 - b.y1) <= tolerance && abs(a.x2 - b.x2) <= tolerance && abs(a.y2 - b.y2) <= tolerance
    }
}

@Suite struct ImportCOCOTests {
    // MARK: round trip

    /// A YOLO set (labels read by the loader) exported as COCO JSON here, then imported: the same
    /// labels come back, category ids that are not contiguous and not in order included.
    @Test func yoloToCOCOAndBackGivesTheSameLabels() throws {
        let sizes = [(320, 240), (200, 300), (64, 64), (256, 256), (97, 31)]
        var rng = SplitMix64(seed: 42)
        var files: [(String, ImportFixture.File)] = [("classes.txt", .text("cat\ndog\nbird\n"))]
        for (i, (w, h)) in sizes.enumerated() {
            files.append(("train/images/\(i).png", .png(w, h)))
            let objects = i == 2 ? [] : (0..<(1 + i)).map { _ -> LabeledObject in
                let bw = rng.nextFloat(in: 0.05..<0.5), bh = rng.nextFloat(in: 0.05..<0.5)
                return LabeledObject(classIndex: rng.nextInt(below: 3),
                                     box: BoundingBox(centerX: rng.nextFloat(in: bw / 2..<(1 - bw / 2)), centerY: rng.nextFloat(in: bh / 2..<(1 - bh / 2)), width: bw, height: bh))
            }
            files.append(("train/labels/\(i).txt", .text(formatLabels(objects))))
        }
        let yoloRoot = try ImportFixture.folder("yolo", files)
        let original = try Dataset.load(path: yoloRoot, strict: true)

        // COCO ids 12, 3, 7 listed in that order: class k must be the k-th smallest id, so
        // cat (class 0) gets id 3, dog id 7, bird id 12.
        let ids = [3, 7, 12]
        var images: [[String: Any]] = [], annotations: [[String: Any]] = []
        for (i, item) in original.train.items.enumerated() {
            let (w, h) = try PNG.size(path: item.imagePath)
            images.append(["id": 100 + i, "file_name": (item.imagePath as NSString).lastPathComponent, "width": w, "height": h])
            for o in item.objects {
                let b = o.box
                annotations.append(["id": annotations.count + 1, "image_id": 100 + i, "category_id": ids[o.classIndex], "iscrowd": 0,
                                    "bbox": [Double(b.x1) * Double(w), Double(b.y1) * Double(h), Double(b.width) * Double(w), Double(b.height) * Double(h)]])
            }
        }
        let categories: [[String: Any]] = [["id": 12, "name": "bird"], ["id": 3, "name": "cat"], ["id": 7, "name": "dog"]]
        let folder = try ImportFixture.folder("coco", [("annotations.json", .text(try ImportFixture.coco(images: images, annotations: annotations, categories: categories)))])
        let out = try ImportFixture.output()
        let summary = try COCOImport.importDataset(from: COCOSource(annotations: folder + "/annotations.json", images: yoloRoot + "/train/images"), to: out)

        let imported = try Dataset.load(path: out, strict: true)
        #expect(imported.classNames == ["cat", "dog", "bird"])
        #expect(imported.train.items.count == original.train.items.count)
        for (a, b) in zip(imported.train.items, original.train.items) {
            #expect((a.imagePath as NSString).lastPathComponent == (b.imagePath as NSString).lastPathComponent)
            #expect(a.objects.count == b.objects.count)
            for (x, y) in zip(a.objects, b.objects) {
                #expect(x.classIndex == y.classIndex)
                #expect(ImportFixture.close(x.box, y.box), "\(a.labelPath): \(x.box) against \(y.box)")
            }
        }
        // The image without annotations has an empty label file, not none.
        #expect(try String(contentsOfFile: out + "/train/labels/2.txt", encoding: .utf8) == "")
        #expect(summary.imagesWithoutBoxes == 1)
        #expect(summary.boxes == annotations.count && summary.boxesWritten == annotations.count)
        #expect(summary.boxesClipped == 0 && summary.boxesDropped == 0)
        // The mapping back to COCO ids.
        let mapping = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/categories.json"))) as! [String: Any]
        let entries = mapping["categories"] as! [[String: Any]]
        #expect(entries.map { $0["class"] as! Int } == [0, 1, 2])
        #expect(entries.map { $0["id"] as! Int } == [3, 7, 12])
        #expect(entries.map { $0["name"] as! String } == ["cat", "dog", "bird"])
    }

    /// The crops of DeepForest's OSBS_029 and SOAP_061 (real annotations, committed) give the
    /// labels real_detection_data.py wrote for them (an independent Python conversion).
    @Test func deepForestTilesMatchThePythonConversion() throws {
        let json = try Fixtures.data("import/deepforest_tiles.coco.json")
        let expected = try JSONSerialization.jsonObject(with: Fixtures.data("import/expected_labels.json")) as! [String: String]
        let document = try JSONSerialization.jsonObject(with: json) as! [String: Any]
        let images = document["images"] as! [[String: Any]]
        let folder = try ImportFixture.folder("trees", [("annotations.coco.json", .text(String(decoding: json, as: UTF8.self)))]
            + images.map { ("images/" + ($0["file_name"] as! String), .png($0["width"] as! Int, $0["height"] as! Int)) })
        let out = try ImportFixture.output()
        // No --images: images/ beside the annotation file.
        let summary = try COCOImport.importDataset(from: COCOSource(annotations: folder + "/annotations.coco.json"), to: out)
        #expect(summary.images == 8 && summary.missingImages == 0)
        #expect(try Dataset.readClassNames(path: out + "/classes.txt") == ["Alive", "Dead", "Tree"])
        for image in images {
            let stem = ((image["file_name"] as! String) as NSString).deletingPathExtension
            let ours = try ImportFixture.labels(out + "/train/labels/\(stem).txt", classCount: 3)
            let theirs = try parseLabels(expected[stem]!, source: stem, classCount: 3)
            #expect(ours.count == theirs.count, "\(stem)")
            for (a, b) in zip(ours, theirs) {
                #expect(a.classIndex == b.classIndex)
                #expect(ImportFixture.close(a.box, b.box, 2e-6), "\(stem): \(a.box) against \(b.box)")
            }
        }
    }

    // MARK: boxes

    @Test func boxesAreClippedDroppedAndCounted() throws {
        let annotations: [[String: Any]] = [
            ["id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 20]],                 // inside
            ["id": 2, "image_id": 1, "category_id": 1, "bbox": [-10, 5, 30, 10]],                 // left part outside: clipped
            ["id": 3, "image_id": 1, "category_id": 1, "bbox": [150, 10, 10, 10]],                // wholly outside: dropped
            ["id": 4, "image_id": 1, "category_id": 1, "bbox": [10, 10, 0, 5]],                   // zero width: dropped
            ["id": 5, "image_id": 1, "category_id": 1, "bbox": [90, 40, 10.004, 10.004]],         // rounding overhang: not "clipped"
            ["id": 6, "image_id": 1, "category_id": 1, "bbox": [0, 0, 50, 50], "iscrowd": 1],     // crowd: left out
        ]
        let json = try ImportFixture.coco(images: [["id": 1, "file_name": "a.png", "width": 100, "height": 50],
                                                   ["id": 2, "file_name": "b.png", "width": 100, "height": 50]],
                                          annotations: annotations)
        let folder = try ImportFixture.folder("boxes", [("c.json", .text(json)), ("a.png", .png(100, 50)), ("b.png", .png(100, 50))])
        let out = try ImportFixture.output()
        let summary = try COCOImport.importDataset(from: COCOSource(annotations: folder + "/c.json"), to: out)
        #expect(summary.boxes == 6)
        #expect(summary.boxesWritten == 3)
        #expect(summary.boxesClipped == 1)
        #expect(summary.boxesDropped == 2)
        #expect(summary.crowdSkipped == 1)
        #expect(summary.imagesWithoutBoxes == 1)  // b.png: a negative
        #expect(summary.boxes == summary.boxesWritten + summary.boxesDropped + summary.crowdSkipped + summary.boxesOfSkippedImages)
        let clipped = summary.issues.filter { $0.kind == .clipped }
        #expect(clipped.map(\.location) == ["annotation id 2 (image id 1)"])
        let dropped = summary.issues.filter { $0.kind == .dropped }
        #expect(dropped.map(\.location) == ["annotation id 3 (image id 1)", "annotation id 4 (image id 1)"])
        #expect(dropped[0].reason.contains("no area inside the 100 x 50 image"))
        #expect(dropped[1].reason.contains("zero width or height"))
        #expect(summary.issues.first { $0.kind == .crowd }?.location == "annotation id 6 (image id 1)")

        let objects = try ImportFixture.labels(out + "/train/labels/a.txt", classCount: 1)
        #expect(objects.count == 3)
        // [-10, 5, 30, 10] clipped to x 0...20, y 5...15 of 100 x 50: cx 0.1, cy 0.2, w 0.2, h 0.2.
        #expect(ImportFixture.close(objects[1].box, BoundingBox(centerX: 0.1, centerY: 0.2, width: 0.2, height: 0.2)))
        #expect(ImportFixture.close(objects[2].box, BoundingBox(x1: 0.9, y1: 0.8, x2: 1, y2: 1)))

        let kept = try COCOImport.importDataset(from: COCOSource(annotations: folder + "/c.json"), to: try ImportFixture.output(), keepCrowd: true)
        #expect(kept.boxesWritten == 4 && kept.crowdSkipped == 0)
    }

    @Test func convertBoxStatesTheFormula() {
        // (x0 + x1) / 2W, (y0 + y1) / 2H, (x1 − x0) / W, (y1 − y0) / H.
        #expect(convertBox(x0: 10, y0: 20, x1: 30, y1: 60, width: 100, height: 200)
            == .kept(BoundingBox(centerX: 0.2, centerY: 0.2, width: 0.2, height: 0.2), clipped: false))
        #expect(convertBox(x0: 0, y0: 0, x1: 1e-5, y1: 10, width: 100_000, height: 10)
            == .dropped(reason: "smaller than 1e-6 of the image (1e-05 x 10 pixels), which a label file cannot hold"))
        #expect(convertBox(x0: 100, y0: 0, x1: 120, y1: 10, width: 100, height: 10)
            == .dropped(reason: "no area inside the 100 x 10 image (box 100, 0 to 120, 10)"))
        // Clipped: -10...30 of 100 becomes 0...30.
        #expect(convertBox(x0: -10, y0: 0, x1: 30, y1: 10, width: 100, height: 10)
            == .kept(BoundingBox(centerX: 0.15, centerY: 0.5, width: 0.3, height: 1), clipped: true))
    }

    // MARK: images

    @Test func missingImagesAreNamedAndCountedAndTheRestWritten() throws {
        let json = try ImportFixture.coco(images: [["id": 1, "file_name": "a.png", "width": 8, "height": 8],
                                                   ["id": 9, "file_name": "gone.png", "width": 8, "height": 8]],
                                          annotations: [["id": 1, "image_id": 9, "category_id": 1, "bbox": [1, 1, 2, 2]]])
        let folder = try ImportFixture.folder("missing", [("c.json", .text(json)), ("img/a.png", .png(8, 8))])
        let summary = try COCOImport.importDataset(from: COCOSource(annotations: folder + "/c.json", images: folder + "/img"), to: try ImportFixture.output())
        #expect(summary.missingImages == 1)
        #expect(summary.trainImages == 1)
        #expect(summary.boxesOfSkippedImages == 1)
        let issue = try #require(summary.issues.first { $0.kind == .missingImage })
        #expect(issue.description == "\(folder)/c.json: image id 9 (gone.png): image not found (looked for \(folder)/img/gone.png)")

        // None found: an error that suggests --images.
        let error = try #require(throws: ImportError.self) {
            try COCOImport.importDataset(from: COCOSource(annotations: folder + "/c.json", images: folder), to: try ImportFixture.output())
        }
        #expect(error.reason.contains("none of the 2 images was found"))
    }

    @Test func imagesWithTheSameNameInDifferentFoldersGetDistinctNames() throws {
        let json = try ImportFixture.coco(images: [["id": 1, "file_name": "a/x.png"], ["id": 2, "file_name": "b/x.png"], ["id": 3, "file_name": "y.png"]],
                                          annotations: [])
        let folder = try ImportFixture.folder("names", [("c.json", .text(json)), ("a/x.png", .png(4, 4)), ("b/x.png", .png(5, 5)), ("y.png", .png(6, 6))])
        let out = try ImportFixture.output()
        let summary = try COCOImport.importDataset(from: COCOSource(annotations: folder + "/c.json", images: folder), to: out)
        #expect(try FileManager.default.contentsOfDirectory(atPath: out + "/train/images").sorted() == ["a_x.png", "b_x.png", "y.png"])
        let size = try PNG.size(path: out + "/train/images/b_x.png")
        #expect(size.width == 5 && size.height == 5)
        #expect(summary.issues.filter { $0.kind == .note }.count == 2)
        // Sizes came from the headers (the JSON gives none).
    }

    @Test(arguments: ImportOptions.ImageLink.allCases)
    func imagesAreCopiedOrLinked(_ link: ImportOptions.ImageLink) throws {
        let json = try ImportFixture.coco(images: [["id": 1, "file_name": "a.png", "width": 8, "height": 8]], annotations: [])
        let folder = try ImportFixture.folder("link", [("c.json", .text(json)), ("a.png", .png(8, 8))])
        let out = try ImportFixture.output()
        var options = ImportOptions()
        options.imageLink = link
        _ = try COCOImport.importDataset(from: COCOSource(annotations: folder + "/c.json"), to: out, options: options)
        let written = out + "/train/images/a.png"
        let source = URL(fileURLWithPath: folder + "/a.png").resolvingSymlinksInPath().path
        let attributes = try FileManager.default.attributesOfItem(atPath: written)
        switch link {
        case .copy:
            #expect(attributes[.type] as? FileAttributeType == .typeRegular)
            #expect(try Data(contentsOf: URL(fileURLWithPath: written)) == Data(contentsOf: URL(fileURLWithPath: source)))
            #expect((attributes[.systemFileNumber] as? Int) != (try FileManager.default.attributesOfItem(atPath: source)[.systemFileNumber] as? Int))
        case .symlink:
            #expect(attributes[.type] as? FileAttributeType == .typeSymbolicLink)
            #expect(try FileManager.default.destinationOfSymbolicLink(atPath: written) == source)
        case .hard:
            #expect((attributes[.systemFileNumber] as? Int) == (try FileManager.default.attributesOfItem(atPath: source)[.systemFileNumber] as? Int))
        }
        #expect(try Dataset.load(path: out).train.items.count == 1)
    }

    // MARK: splits and output

    /// Eight images, a quarter to val/: the same seed gives the same split whatever the order
    /// of the images in the file; another seed another split (for this seed pair).
    @Test func validationFractionIsDeterministic() throws {
        let images: [[String: Any]] = (0..<8).map { ["id": $0 + 1, "file_name": "\($0).png", "width": 4, "height": 4] }
        let folder = try ImportFixture.folder("split", [("c.json", .text(try ImportFixture.coco(images: images, annotations: []))),
                                                        ("r.json", .text(try ImportFixture.coco(images: images.reversed(), annotations: [])))]
                                                       + (0..<8).map { ("\($0).png", .png(4, 4)) })
        func valImages(_ file: String, seed: UInt64) throws -> [String] {
            var options = ImportOptions()
            options.validationFraction = 0.25
            options.seed = seed
            let out = try ImportFixture.output()
            let summary = try COCOImport.importDataset(from: COCOSource(annotations: folder + "/" + file), to: out, options: options)
            #expect(summary.trainImages == 6 && summary.validationImages == 2)
            return try FileManager.default.contentsOfDirectory(atPath: out + "/val/images").sorted()
        }
        let first = try valImages("c.json", seed: 1)
        #expect(try valImages("c.json", seed: 1) == first)
        #expect(try valImages("r.json", seed: 1) == first)
        #expect(try valImages("c.json", seed: 2) != first)
        #expect(first == ["0.png", "3.png"])  // pinned: a change of the split rule must be deliberate
    }

    @Test func aValidationFileGoesToValAndMustHaveTheSameCategories() throws {
        let train = try ImportFixture.coco(images: [["id": 1, "file_name": "a.png"]], annotations: [["id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 2, 2]]])
        let val = try ImportFixture.coco(images: [["id": 1, "file_name": "b.png"]], annotations: [])
        let otherVal = try ImportFixture.coco(images: [["id": 1, "file_name": "b.png"]], annotations: [], categories: [["id": 2, "name": "thing"]])
        let folder = try ImportFixture.folder("val", [("t/c.json", .text(train)), ("t/a.png", .png(4, 4)),
                                                      ("v/c.json", .text(val)), ("v/other.json", .text(otherVal)), ("v/b.png", .png(4, 4))])
        let out = try ImportFixture.output()
        let summary = try COCOImport.importDataset(from: COCOSource(annotations: folder + "/t/c.json"), validation: COCOSource(annotations: folder + "/v/c.json"), to: out)
        #expect(summary.trainImages == 1 && summary.validationImages == 1)
        let dataset = try Dataset.load(path: out)
        #expect(dataset.validation?.items.map { ($0.imagePath as NSString).lastPathComponent } == ["b.png"])

        let error = try #require(throws: ImportError.self) {
            try COCOImport.importDataset(from: COCOSource(annotations: folder + "/t/c.json"), validation: COCOSource(annotations: folder + "/v/other.json"), to: try ImportFixture.output())
        }
        #expect(error.reason.hasPrefix("\(folder)/v/other.json: its categories [2: thing] differ from those of \(folder)/t/c.json, [1: thing]"))
    }

    @Test func aNonEmptyOutputIsRefusedUnlessReplacing() throws {
        let json = try ImportFixture.coco(images: [["id": 1, "file_name": "a.png"]], annotations: [])
        let folder = try ImportFixture.folder("out", [("c.json", .text(json)), ("a.png", .png(4, 4)), ("out/keep.txt", .text("x"))])
        let error = try #require(throws: ImportError.self) {
            try COCOImport.importDataset(from: COCOSource(annotations: folder + "/c.json", images: folder), to: folder + "/out")
        }
        #expect(error.reason == "\(folder)/out: already exists and is not empty; pass --force to replace it, or choose another --out")
        var options = ImportOptions()
        options.replacing = true
        _ = try COCOImport.importDataset(from: COCOSource(annotations: folder + "/c.json", images: folder), to: folder + "/out", options: options)
        #expect(!FileManager.default.fileExists(atPath: folder + "/out/keep.txt"))
        #expect(FileManager.default.fileExists(atPath: folder + "/out/train/labels/a.txt"))
    }

    // MARK: bad input

    /// (name, the annotation file, what the error must say). Each case has an image a.png (8 x 8)
    /// beside it.
    static let badFiles: [(String, String, [String])] = [
        ("not JSON", "{\"images\": [", [":1:13: images[0]: not valid JSON"]),
        ("not an object", "[]", ["the file holds a list, not a COCO object"]),
        ("no annotations", #"{"images": [], "categories": [{"id": 1, "name": "a"}]}"#, [#"no "annotations" list"#, "image-info file"]),
        ("images not a list", #"{"images": {}, "annotations": [], "categories": [{"id": 1, "name": "a"}]}"#, [#""images" is an object, expected a list"#]),
        ("image id a string", #"{"images": [{"id": "1", "file_name": "a.png"}], "annotations": [], "categories": [{"id": 1, "name": "a"}]}"#,
         [#"images[0]: "id" is a string ("1"), expected an integer"#]),
        ("image id fractional", #"{"images": [{"id": 1.5, "file_name": "a.png"}], "annotations": [], "categories": [{"id": 1, "name": "a"}]}"#,
         [#"images[0]: "id" is 1.5, expected an integer"#]),
        ("duplicate image id", #"{"images": [{"id": 1, "file_name": "a.png"}, {"id": 1, "file_name": "b.png"}], "annotations": [], "categories": [{"id": 1, "name": "a"}]}"#,
         ["image id 1: id 1 is also that of images[0]"]),
        ("duplicate file_name", #"{"images": [{"id": 1, "file_name": "a.png"}, {"id": 2, "file_name": "a.png"}], "annotations": [], "categories": [{"id": 1, "name": "a"}]}"#,
         ["image id 2 (a.png): file_name a.png is also that of images[0] (image id 1)"]),
        ("no file_name", #"{"images": [{"id": 1}], "annotations": [], "categories": [{"id": 1, "name": "a"}]}"#, [#"image id 1: no "file_name""#]),
        ("zero width", #"{"images": [{"id": 1, "file_name": "a.png", "width": 0, "height": 8}], "annotations": [], "categories": [{"id": 1, "name": "a"}]}"#,
         [#"image id 1 (a.png): "width" is 0, not a positive number of pixels"#]),
        ("size differs", #"{"images": [{"id": 1, "file_name": "a.png", "width": 64, "height": 64}], "annotations": [], "categories": [{"id": 1, "name": "a"}]}"#,
         ["image id 1 (a.png): the annotation says 64 x 64 but the image", "a.png is 8 x 8"]),
        ("unknown category", #"{"images": [{"id": 1, "file_name": "a.png"}], "annotations": [{"id": 5, "image_id": 1, "category_id": 99, "bbox": [1, 1, 2, 2]}], "categories": [{"id": 1, "name": "a"}]}"#,
         ["annotation id 5 (image id 1): category_id 99 is not the id of any category in \"categories\" ([1: a])"]),
        ("unknown image", #"{"images": [{"id": 1, "file_name": "a.png"}], "annotations": [{"id": 5, "image_id": 42, "category_id": 1, "bbox": [1, 1, 2, 2]}], "categories": [{"id": 1, "name": "a"}]}"#,
         ["annotation id 5 (image id 42): image_id 42 is not the id of any image"]),
        ("negative width", #"{"images": [{"id": 1, "file_name": "a.png"}], "annotations": [{"id": 5, "image_id": 1, "category_id": 1, "bbox": [1, 1, -3, 2]}], "categories": [{"id": 1, "name": "a"}]}"#,
         ["annotation id 5 (image id 1): bbox width -3 is negative"]),
        ("three numbers", #"{"images": [{"id": 1, "file_name": "a.png"}], "annotations": [{"id": 5, "image_id": 1, "category_id": 1, "bbox": [1, 1, 2]}], "categories": [{"id": 1, "name": "a"}]}"#,
         [#"annotation id 5 (image id 1): "bbox" is a list of 3 values, expected a list of 4 numbers"#]),
        ("bbox a string", #"{"images": [{"id": 1, "file_name": "a.png"}], "annotations": [{"id": 5, "image_id": 1, "category_id": 1, "bbox": "1 1 2 2"}], "categories": [{"id": 1, "name": "a"}]}"#,
         [#"annotation id 5 (image id 1): "bbox" is a string ("1 1 2 2")"#]),
        ("coordinate a string", #"{"images": [{"id": 1, "file_name": "a.png"}], "annotations": [{"id": 5, "image_id": 1, "category_id": 1, "bbox": [1, "1", 2, 2]}], "categories": [{"id": 1, "name": "a"}]}"#,
         [#"annotation id 5 (image id 1): bbox y is a string ("1"), not a number"#]),
        ("no bbox", #"{"images": [{"id": 1, "file_name": "a.png"}], "annotations": [{"id": 5, "image_id": 1, "category_id": 1}], "categories": [{"id": 1, "name": "a"}]}"#,
         [#"annotation id 5 (image id 1): no "bbox""#]),
        ("NaN", "{\"images\": [{\"id\": 1, \"file_name\": \"a.png\"}],\n \"annotations\": [{\"id\": 5, \"image_id\": 1, \"category_id\": 1, \"bbox\": [1, 1, NaN, 2]}], \"categories\": [{\"id\": 1, \"name\": \"a\"}]}",
         [":2:76: annotations[0].bbox[2]: not valid JSON", "(NaN and Infinity are not JSON numbers)"]),
        ("duplicate key", #"{"images": [], "images": [], "annotations": [], "categories": []}"#, ["duplicate key \"images\""]),
        ("duplicate annotation id", #"{"images": [{"id": 1, "file_name": "a.png"}], "annotations": [{"id": 5, "image_id": 1, "category_id": 1, "bbox": [1, 1, 2, 2]}, {"id": 5, "image_id": 1, "category_id": 1, "bbox": [1, 1, 2, 2]}], "categories": [{"id": 1, "name": "a"}]}"#,
         ["annotation id 5 (image id 1): id 5 is also that of annotations[0]"]),
        ("no annotation id", #"{"images": [{"id": 1, "file_name": "a.png"}], "annotations": [{"image_id": 1, "category_id": 1, "bbox": [1, 1, 2, 2]}], "categories": [{"id": 1, "name": "a"}]}"#,
         [#"annotations[0]: no "id""#]),
        ("iscrowd a word", #"{"images": [{"id": 1, "file_name": "a.png"}], "annotations": [{"id": 5, "image_id": 1, "category_id": 1, "bbox": [1, 1, 2, 2], "iscrowd": "yes"}], "categories": [{"id": 1, "name": "a"}]}"#,
         [#"annotation id 5 (image id 1): "iscrowd" is a string ("yes"), expected 0 or 1"#]),
        ("duplicate category id", #"{"images": [], "annotations": [], "categories": [{"id": 1, "name": "a"}, {"id": 1, "name": "b"}]}"#,
         ["category id 1: id 1 is also that of categories[0]"]),
        ("category name with a line break", #"{"images": [], "annotations": [], "categories": [{"id": 1, "name": "a\nb"}]}"#,
         ["category names that classes.txt cannot hold", #"category id 1: the class name "a\nb" holds a line break"#]),
        ("two categories, one name", #"{"images": [], "annotations": [], "categories": [{"id": 1, "name": "a"}, {"id": 2, "name": "a"}]}"#,
         [#"category id 2: the class name "a" is also the name of category id 1"#]),
        ("no categories", #"{"images": [], "annotations": [], "categories": []}"#, ["no usable category"]),
        ("image not a PNG", #"{"images": [{"id": 1, "file_name": "c.json"}], "annotations": [], "categories": [{"id": 1, "name": "a"}]}"#,
         ["image id 1 (c.json): cannot read the image:", "not a PNG or JPEG file"]),
        ("image a folder", #"{"images": [{"id": 1, "file_name": "sub"}], "annotations": [], "categories": [{"id": 1, "name": "a"}]}"#,
         ["image id 1 (sub):", "/sub is a folder, not a regular file"]),
    ]

    @Test(arguments: badFiles.indices)
    func badAnnotationFilesAreErrorsNamingFileAndId(_ index: Int) throws {
        let (name, text, expected) = Self.badFiles[index]
        let folder = try ImportFixture.folder("bad", [("c.json", .text(text)), ("a.png", .png(8, 8)), ("b.png", .png(8, 8)), ("sub/x", .text(""))])
        let out = try ImportFixture.output()
        let error = try #require(throws: ImportError.self, "\(name)") {
            try COCOImport.importDataset(from: COCOSource(annotations: folder + "/c.json", images: folder), to: out)
        }
        #expect(error.description.contains(folder + "/c.json"), "\(name): \(error)")
        for part in expected { #expect(error.description.contains(part), "\(name): \(error)") }
        // Nothing written, no temporary folder left.
        #expect(!FileManager.default.fileExists(atPath: out))
        #expect(try FileManager.default.contentsOfDirectory(atPath: (out as NSString).deletingLastPathComponent).isEmpty)
    }

    @Test func everyProblemIsListedAndSkipInvalidImportsTheRest() throws {
        let json = try ImportFixture.coco(images: [["id": 1, "file_name": "a.png"], ["id": 2, "file_name": "b.png"], ["id": 3, "file_name": "c.png"]],
                                          annotations: [["id": 1, "image_id": 1, "category_id": 7, "bbox": [1, 1, 2, 2]],
                                                        ["id": 2, "image_id": 2, "category_id": 1, "bbox": [1, 1, -2, 2]],
                                                        ["id": 3, "image_id": 3, "category_id": 1, "bbox": [1, 1, 2, 2]],
                                                        ["id": 4, "image_id": 77, "category_id": 1, "bbox": [1, 1, 2, 2]]])
        let folder = try ImportFixture.folder("skip", [("j.json", .text(json)), ("a.png", .png(8, 8)), ("b.png", .png(8, 8)), ("c.png", .png(8, 8))])
        let error = try #require(throws: ImportError.self) {
            try COCOImport.importDataset(from: COCOSource(annotations: folder + "/j.json"), to: try ImportFixture.output())
        }
        #expect(error.issues.map(\.location) == ["annotation id 1 (image id 1)", "annotation id 2 (image id 2)", "annotation id 4 (image id 77)"])
        #expect(error.reason.contains("3 problems (nothing written; --skip-invalid"))
        #expect(error.summary?.written == false)

        var options = ImportOptions()
        options.skipInvalid = true
        let out = try ImportFixture.output()
        let summary = try COCOImport.importDataset(from: COCOSource(annotations: folder + "/j.json"), to: out, options: options)
        #expect(summary.skippedImages == 2)
        #expect(summary.trainImages == 1)
        #expect(summary.boxesWritten == 1)
        #expect(summary.boxes == summary.boxesWritten + summary.boxesOfSkippedImages)
        #expect(try FileManager.default.contentsOfDirectory(atPath: out + "/train/images") == ["c.png"])
    }

    @Test func summaryJSONHasTheCountsAndEveryIssue() throws {
        let json = try ImportFixture.coco(images: [["id": 1, "file_name": "a.png", "width": 10, "height": 10]],
                                          annotations: [["id": 1, "image_id": 1, "category_id": 1, "bbox": [-5, 0, 10, 10]]])
        let folder = try ImportFixture.folder("json", [("j.json", .text(json)), ("a.png", .png(10, 10))])
        let summary = try COCOImport.importDataset(from: COCOSource(annotations: folder + "/j.json"), to: try ImportFixture.output())
        let object = try JSONSerialization.jsonObject(with: Data(summary.jsonText.utf8)) as! [String: Any]
        #expect(object["format"] as? String == "coco")
        #expect(object["written"] as? Bool == true)
        #expect(object["boxes_clipped"] as? Int == 1)
        #expect(object["train_images"] as? Int == 1)
        let issues = object["issues"] as! [[String: Any]]
        #expect(issues.map { $0["kind"] as! String } == ["clipped"])
        #expect(issues.first?["location"] as? String == "annotation id 1 (image id 1)")
        #expect(summary.textLines()[2] == "boxes: 1 in the annotations, 1 written, 1 clipped to the image, 0 dropped (no area inside the image), 0 crowd skipped")
    }
}
