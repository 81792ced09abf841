import Foundation
import Testing
@testable import Detector

@Suite struct ImportVOCTests {
    /// A VOC annotation for `filename` of `width` x `height` with objects (name, xmin, ymin,
    /// xmax, ymax, difficult).
    static func xml(_ filename: String?, _ width: Int?, _ height: Int?, _ objects: [(String, Double, Double, Double, Double, Bool)]) -> String {
        var text = "<annotation>\n    <folder>VOC</folder>\n"
        if let filename { text += "    <filename>\(filename)</filename>\n" }
        if let width, let height { text += "    <size>\n        <width>\(width)</width>\n        <height>\(height)</height>\n        <depth>3</depth>\n    </size>\n" }
        for (name, x0, y0, x1, y1, difficult) in objects {
            text += """
                <object>
                    <name>\(name)</name>
                    <pose>Unspecified</pose>
                    <truncated>0</truncated>
                    <difficult>\(difficult ? 1 : 0)</difficult>
                    <bndbox><xmin>\(pixels(x0))</xmin><ymin>\(pixels(y0))</ymin><xmax>\(pixels(x1))</xmax><ymax>\(pixels(y1))</ymax></bndbox>
                </object>

            """
        }
        return text + "</annotation>\n"
    }

    /// VOC's 1-based inclusive pixel indices, by hand on a 100 x 50 image: xmin 1..xmax 100 is the
    /// whole width (0 to 100); xmin 11..xmax 30 is x 10 to 30 (cx 0.2, w 0.2), ymin 21..ymax 30
    /// is y 20 to 30 (cy 0.5, h 0.2). With --zero-based, x 11 to 30 (cx 0.205, w 0.19) and y 21
    /// to 30 (cy 0.51, h 0.18).
    @Test(arguments: [false, true])
    func coordinatesFollowVOCsConventionOrZeroBased(_ zeroBased: Bool) throws {
        let folder = try ImportFixture.folder("voc", [
            ("Annotations/a.xml", .text(Self.xml("a.png", 100, 50, [("dog", 1, 1, 100, 50, false), ("cat", 11, 21, 30, 30, false)]))),
            ("JPEGImages/a.png", .png(100, 50)),
        ])
        let out = try ImportFixture.output()
        let summary = try VOCImport.importDataset(from: VOCSource(folder: folder), to: out, zeroBased: zeroBased)
        #expect(summary.classes == ["cat", "dog"])  // sorted
        #expect(summary.boxesClipped == 0)
        let objects = try ImportFixture.labels(out + "/train/labels/a.txt", classCount: 2)
        #expect(objects.map(\.classIndex) == [1, 0])
        if zeroBased {
            #expect(ImportFixture.close(objects[0].box, BoundingBox(x1: 0.01, y1: 0.02, x2: 1, y2: 1)))
            #expect(ImportFixture.close(objects[1].box, BoundingBox(centerX: 0.205, centerY: 0.51, width: 0.19, height: 0.18)))
        } else {
            #expect(ImportFixture.close(objects[0].box, BoundingBox(x1: 0, y1: 0, x2: 1, y2: 1)))
            #expect(ImportFixture.close(objects[1].box, BoundingBox(centerX: 0.2, centerY: 0.5, width: 0.2, height: 0.2)))
        }
    }

    /// DeepForest's SOAP_061.xml (real, committed): read as 0-based edges it gives exactly the
    /// labels real_detection_data.py wrote; read by VOC's convention each box starts one pixel
    /// earlier (one pixel wider, centre half a pixel to the top left).
    @Test func deepForestXMLMatchesThePythonConversion() throws {
        let expected = try JSONSerialization.jsonObject(with: Fixtures.data("import/expected_labels.json")) as! [String: String]
        let python = try parseLabels(expected["SOAP_061"]!, source: "SOAP_061", classCount: 2)
        let xml = String(decoding: try Fixtures.data("import/deepforest_SOAP_061.xml"), as: UTF8.self)
        let folder = try ImportFixture.folder("deepforest", [("SOAP_061.xml", .text(xml)), ("SOAP_061.png", .png(400, 400))])
        let zero = try ImportFixture.output(), voc = try ImportFixture.output()
        let summary = try VOCImport.importDataset(from: VOCSource(folder: folder), to: zero, zeroBased: true)
        _ = try VOCImport.importDataset(from: VOCSource(folder: folder), to: voc)
        #expect(summary.classes == ["Alive", "Dead"])
        #expect(summary.boxes == 37 && summary.boxesWritten == 37)
        let ours = try ImportFixture.labels(zero + "/train/labels/SOAP_061.txt", classCount: 2)
        let oneBased = try ImportFixture.labels(voc + "/train/labels/SOAP_061.txt", classCount: 2)
        #expect(ours.count == python.count && oneBased.count == python.count)
        let pixel: Float = 1 / 400
        for ((a, b), c) in zip(zip(ours, python), oneBased) {
            #expect(a.classIndex == b.classIndex && c.classIndex == b.classIndex)
            #expect(ImportFixture.close(a.box, b.box, 2e-6), "\(a.box) against \(b.box)")
            #expect(ImportFixture.close(c.box, BoundingBox(x1: b.box.x1 - pixel, y1: b.box.y1 - pixel, x2: b.box.x2, y2: b.box.y2), 2e-6))
        }
    }

    @Test func difficultObjectsAreLeftOutUnlessKept() throws {
        let folder = try ImportFixture.folder("difficult", [
            ("a.xml", .text(Self.xml("a.png", 20, 20, [("x", 1, 1, 10, 10, false), ("x", 5, 5, 15, 15, true)]))), ("a.png", .png(20, 20)),
        ])
        let skipped = try VOCImport.importDataset(from: VOCSource(folder: folder), to: try ImportFixture.output())
        #expect(skipped.boxesWritten == 1 && skipped.difficultSkipped == 1)
        #expect(skipped.issues.first { $0.kind == .difficult }?.location == "line 16, object 2 (x)")
        let kept = try VOCImport.importDataset(from: VOCSource(folder: folder), to: try ImportFixture.output(), keepDifficult: true)
        #expect(kept.boxesWritten == 2 && kept.difficultSkipped == 0)
    }

    @Test func aClassListFixesTheOrderAndRefusesOtherNames() throws {
        let folder = try ImportFixture.folder("classes", [
            ("a.xml", .text(Self.xml("a.png", 20, 20, [("cat", 1, 1, 10, 10, false), ("dog", 2, 2, 8, 8, false)]))), ("a.png", .png(20, 20)),
        ])
        let out = try ImportFixture.output()
        _ = try VOCImport.importDataset(from: VOCSource(folder: folder), to: out, classNames: ["dog", "cat"])
        #expect(try ImportFixture.labels(out + "/train/labels/a.txt", classCount: 2).map(\.classIndex) == [1, 0])
        let error = try #require(throws: ImportError.self) {
            try VOCImport.importDataset(from: VOCSource(folder: folder), to: try ImportFixture.output(), classNames: ["cat"])
        }
        #expect(error.issues.map(\.description) == ["\(folder)/a.xml: line 16, object 2 (dog): class \"dog\" is not in the class list (cat)"])
    }

    /// DeepForest's OSBS_029.xml names OSBS_029.tif; the .png beside it is used, with a note.
    /// Without <filename>, the XML file's own name is used.
    @Test func anImageIsFoundUnderAnotherExtensionOrByTheXMLName() throws {
        let folder = try ImportFixture.folder("ext", [
            ("xml/OSBS_029.xml", .text(Self.xml("OSBS_029.tif", 40, 40, [("Tree", 1, 1, 10, 10, false)]))),
            ("xml/b.xml", .text(Self.xml(nil, 30, 30, []))),
            ("img/OSBS_029.png", .png(40, 40)), ("img/b.png", .png(30, 30)),
        ])
        let out = try ImportFixture.output()
        let summary = try VOCImport.importDataset(from: VOCSource(folder: folder + "/xml", images: folder + "/img"), to: out)
        #expect(summary.trainImages == 2 && summary.imagesWithoutBoxes == 1)
        #expect(summary.issues.filter { $0.kind == .note }.map(\.description) == [
            "\(folder)/xml/OSBS_029.xml: <filename> OSBS_029.tif is not in \(folder)/img; using \(folder)/img/OSBS_029.png",
            "\(folder)/xml/b.xml: no <filename>; using \(folder)/img/b.png",
        ])
        #expect(try FileManager.default.contentsOfDirectory(atPath: out + "/train/images").sorted() == ["OSBS_029.png", "b.png"])
    }

    @Test func aMissingImageIsNamedAndCounted() throws {
        let folder = try ImportFixture.folder("missing", [
            ("a.xml", .text(Self.xml("a.png", 20, 20, [("x", 1, 1, 10, 10, false)]))), ("a.png", .png(20, 20)),
            ("b.xml", .text(Self.xml("b.png", 20, 20, [("x", 1, 1, 10, 10, false)]))),
        ])
        let summary = try VOCImport.importDataset(from: VOCSource(folder: folder), to: try ImportFixture.output())
        #expect(summary.missingImages == 1 && summary.trainImages == 1 && summary.boxesOfSkippedImages == 1)
        let issue = try #require(summary.issues.first { $0.kind == .missingImage })
        #expect(issue.file == folder + "/b.xml")
        #expect(issue.reason.hasPrefix("image not found: no b.png in \(folder), nor the same name or b with the extension .png"))
    }

    /// A box starting at pixel 0 is impossible in 1-based indices: clipped, with a note that
    /// suggests --zero-based.
    @Test func boxesAtPixelZeroSuggestZeroBased() throws {
        let folder = try ImportFixture.folder("zero", [("a.xml", .text(Self.xml("a.png", 20, 20, [("x", 0, 3, 10, 10, false)]))), ("a.png", .png(20, 20))])
        let summary = try VOCImport.importDataset(from: VOCSource(folder: folder), to: try ImportFixture.output())
        #expect(summary.boxesClipped == 1)
        #expect(summary.issues.contains { $0.kind == .note && $0.reason.contains("1 box in 1 file start at pixel 0") && $0.reason.contains("--zero-based") })
        let zero = try VOCImport.importDataset(from: VOCSource(folder: folder), to: try ImportFixture.output(), zeroBased: true)
        #expect(zero.boxesClipped == 0 && !zero.issues.contains { $0.kind == .note })
    }

    /// (name, the XML text, what the error must say). Each has a 20 x 20 a.png beside it.
    static let badFiles: [(String, String, [String])] = [
        ("mismatched tag", "<annotation>\n  <filename>a.png</filename>\n  <object><name>x</nam></object>\n</annotation>\n",
         ["line 3, column", "not well-formed XML: a closing tag does not match the element it closes"]),
        ("unclosed", "<annotation>\n  <filename>a.png</filename>\n", ["not well-formed XML"]),
        ("not XML", "xmin,ymin,xmax,ymax\n1,2,3,4\n", ["not well-formed XML"]),
        ("empty", "", ["empty file"]),
        ("other root", "<doc><filename>a.png</filename></doc>", ["line 1: the root element is <doc>, expected <annotation>"]),
        ("no bndbox", "<annotation><filename>a.png</filename>\n<object><name>x</name></object></annotation>", ["line 2, object 1 (x): no <bndbox>"]),
        ("no name", "<annotation><filename>a.png</filename>\n<object><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>2</xmax><ymax>2</ymax></bndbox></object></annotation>",
         ["line 2, object 1: no <name> (the class)"]),
        ("coordinate not a number", "<annotation><filename>a.png</filename>\n<object><name>x</name><bndbox><xmin>one</xmin><ymin>1</ymin><xmax>2</xmax><ymax>2</ymax></bndbox></object></annotation>",
         ["line 2, object 1 (x): <xmin> is \"one\", not a number"]),
        ("no ymax", "<annotation><filename>a.png</filename>\n<object><name>x</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>2</xmax></bndbox></object></annotation>",
         ["line 2, object 1 (x): <bndbox> has no <ymax>"]),
        ("xmax below xmin", "<annotation><filename>a.png</filename>\n<object><name>x</name><bndbox><xmin>9</xmin><ymin>1</ymin><xmax>3</xmax><ymax>2</ymax></bndbox></object></annotation>",
         ["line 2, object 1 (x): xmax 3 is less than xmin 9"]),
        ("NaN coordinate", "<annotation><filename>a.png</filename>\n<object><name>x</name><bndbox><xmin>nan</xmin><ymin>1</ymin><xmax>3</xmax><ymax>2</ymax></bndbox></object></annotation>",
         ["line 2, object 1 (x): <xmin> is \"nan\", not a number"]),
        ("difficult a word", "<annotation><filename>a.png</filename>\n<object><name>x</name><difficult>maybe</difficult><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>3</xmax><ymax>2</ymax></bndbox></object></annotation>",
         ["line 2, object 1 (x): <difficult> is \"maybe\", expected 0 or 1"]),
        ("size differs", xml("a.png", 64, 48, [("x", 1, 1, 10, 10, false)]), ["the annotation says 64 x 48 but the image", "is 20 x 20"]),
        ("size not a number", "<annotation><filename>a.png</filename>\n<size><width>wide</width><height>20</height></size></annotation>",
         ["line 2: <size><width> is \"wide\", not a whole number of pixels"]),
        ("DOCTYPE", "<?xml version=\"1.0\"?>\n<!DOCTYPE annotation [<!ENTITY x \"y\">]>\n<annotation><filename>&x;</filename></annotation>",
         ["holds a <!DOCTYPE>"]),
        ("undeclared entity", "<annotation><filename>a&b.png</filename></annotation>", ["line 1, column", "not well-formed XML"]),
        ("two bndbox", "<annotation><filename>a.png</filename>\n<object><name>x</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>3</xmax><ymax>2</ymax></bndbox><bndbox/></object></annotation>",
         ["line 2, object 1 (x): 2 <bndbox> elements"]),
    ]

    @Test(arguments: badFiles.indices)
    func badXMLFilesAreErrorsNamingFileLineAndObject(_ index: Int) throws {
        let (name, text, expected) = Self.badFiles[index]
        let folder = try ImportFixture.folder("badvoc", [("a.xml", .text(text)), ("a.png", .png(20, 20))])
        let out = try ImportFixture.output()
        let error = try #require(throws: ImportError.self, "\(name)") {
            try VOCImport.importDataset(from: VOCSource(folder: folder), to: out, classNames: ["x"])
        }
        #expect(error.description.contains(folder + "/a.xml"), "\(name): \(error)")
        for part in expected { #expect(error.description.contains(part), "\(name): \(error)") }
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    @Test func allBadFilesAreListedAndSkipInvalidKeepsTheGoodOnes() throws {
        let folder = try ImportFixture.folder("skipvoc", [
            ("a.xml", .text("<annotation><object><name>x</name></object></annotation>")),
            ("b.xml", .text("<annotation>")),
            ("c.xml", .text(Self.xml("c.png", 20, 20, [("x", 1, 1, 10, 10, false)]))), ("c.png", .png(20, 20)),
        ])
        let error = try #require(throws: ImportError.self) {
            try VOCImport.importDataset(from: VOCSource(folder: folder), to: try ImportFixture.output())
        }
        #expect(error.issues.map(\.file) == [folder + "/a.xml", folder + "/b.xml"])
        var options = ImportOptions()
        options.skipInvalid = true
        let summary = try VOCImport.importDataset(from: VOCSource(folder: folder), to: try ImportFixture.output(), options: options)
        #expect(summary.skippedImages == 2 && summary.trainImages == 1 && summary.boxesWritten == 1)
    }

    @Test func aClassNameThatClassesTxtCannotHoldIsNamedByItsObject() throws {
        let box = "<bndbox><xmin>1</xmin><ymin>1</ymin><xmax>3</xmax><ymax>2</ymax></bndbox>"
        let folder = try ImportFixture.folder("badname", [
            ("a.xml", .text("<annotation><filename>a.png</filename>\n<object><name>x</name>\(box)</object>\n<object><name>a&#10;b</name>\(box)</object></annotation>")),
            ("a.png", .png(20, 20)),
        ])
        let error = try #require(throws: ImportError.self) { try VOCImport.importDataset(from: VOCSource(folder: folder), to: try ImportFixture.output()) }
        #expect(error.issues.map(\.description) == [#"\#(folder)/a.xml: line 3, object 2 ("a\nb"): the class name "a\nb" holds a line break or another control character, which classes.txt (one name a line) cannot hold"#])
    }

    @Test func aFolderWithoutXMLIsAnError() throws {
        let folder = try ImportFixture.folder("noxml", [("a.png", .png(4, 4))])
        let error = try #require(throws: ImportError.self) { try VOCImport.importDataset(from: VOCSource(folder: folder), to: try ImportFixture.output()) }
        #expect(error.reason == "\(folder): no .xml files (Pascal VOC annotations, one per image)")
    }
}
