import Foundation
import Testing
import Detector

/// The commands on JPEG files, from the built binaries: detect, training, evaluate, show-data
/// and anchors on a data set of JPEGs (committed fixtures with made-up labels: what is tested
/// is that every command reads them, not what the network learns).
@Suite(.serialized) struct JPEGCommandTests {
    /// train/ (5 JPEGs and a PNG named .jpg) and val/ (2 JPEGs), classes of the tiny config.
    static let data: String = {
        let root = try! Fixtures.temporaryFolder("jpeg-cmd").path
        let splits = [
            ("train", ["jpeg_baseline.jpg", "jpeg_progressive.jpg", "jpeg_gray.jpg", "jpeg_cmyk_adobe.jpg", "jpeg_orientation_6.jpg", "jpeg_really_png.jpg"]),
            ("val", ["jpeg_orientation_1.jpg", "jpeg_orientation_8.jpg"]),
        ]
        for (split, names) in splits {
            for folder in ["images", "labels"] {
                try! FileManager.default.createDirectory(atPath: "\(root)/\(split)/\(folder)", withIntermediateDirectories: true)
            }
            for (k, name) in names.enumerated() {
                try! FileManager.default.copyItem(atPath: Fixtures.url(name).path, toPath: "\(root)/\(split)/images/\(k).JPG")
                try! Data("\(k % 3) 0.5 0.5 0.5 0.4\n0 0.25 0.25 0.2 0.2\n".utf8).write(to: URL(fileURLWithPath: "\(root)/\(split)/labels/\(k).txt"))
            }
        }
        try! Data("circle\nsquare\ntriangle\n".utf8).write(to: URL(fileURLWithPath: root + "/classes.txt"))
        try! Data(tinyConfigJSON.utf8).write(to: URL(fileURLWithPath: root + "/tiny.json"))
        return root
    }()

    @Test func detectReadsAJPEGAndWritesTheAnnotatedPNGBesideIt() throws {
        let folder = try Fixtures.temporaryFolder("jpeg-detect")
        let image = folder.appendingPathComponent("phone.jpg").path
        try FileManager.default.copyItem(atPath: Fixtures.url("jpeg_orientation_6.jpg").path, toPath: image)
        let r = try runCommand("detect", [image, "--json"])
        #expect(r.status == 0, "\(r.err)")
        // Upright: the stored 32 x 16 turned by the EXIF orientation.
        #expect(r.out.contains("\"width\": 16, \"height\": 32"), "\(r.out)")
        let annotated = folder.appendingPathComponent("phone.detections.png").path
        #expect(r.err.contains("wrote \(annotated)"), "\(r.err)")
        #expect(try PNG.read(path: annotated).width >= 16)
    }

    @Test func detectReportsATruncatedJPEGAndGoesOn() throws {
        let folder = try Fixtures.temporaryFolder("jpeg-detect-bad")
        let cut = folder.appendingPathComponent("cut.jpg").path, good = folder.appendingPathComponent("good.jpeg").path
        try FileManager.default.copyItem(atPath: Fixtures.url("jpeg_truncated.jpg").path, toPath: cut)
        try FileManager.default.copyItem(atPath: Fixtures.url("jpeg_baseline.jpg").path, toPath: good)
        let r = try runCommand("detect", [cut, good, "--no-render"])
        #expect(r.status == 1)
        #expect(r.err.contains("error: \(cut): invalid or truncated JPEG: Premature end of JPEG file"), "\(r.err)")
        #expect(r.out.contains("# \(good) (16x12):"), "\(r.out)")
    }

    @Test func helpTextsSayPNGOrJPEG() throws {
        let r = try runCommand("detect", ["--help"])
        let help = r.out.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        #expect(help.contains("Find objects in PNG or JPEG images") && help.contains("every .png, .jpg and .jpeg file below it"), "\(help)")
    }

    /// Training, evaluation, show-data and anchors on the JPEG set.
    @Test func theTrainingCommandsReadJPEGDataSets() throws {
        let out = try Fixtures.temporaryFolder("jpeg-train").path + "/run"
        let train = try runCommand("train-detector", ["--data", Self.data, "--config", Self.data + "/tiny.json", "--epochs", "1",
                                                      "--batch-size", "2", "--out", out])
        #expect(train.status == 0, "\(train.err)")
        #expect(train.err.contains("training on 6 images, validating on 2"), "\(train.err)")
        #expect(!train.err.contains("warning"), "\(train.err)")
        #expect(FileManager.default.fileExists(atPath: out + "/last.safetensors"))

        let evaluate = try runCommand("train-detector", ["evaluate", out + "/last.safetensors", "--data", Self.data, "--json"])
        #expect(evaluate.status == 0, "\(evaluate.err)")
        #expect(evaluate.out.contains("\"mAP50\""), "\(evaluate.out)")

        let shown = try Fixtures.temporaryFolder("jpeg-show").path
        let show = try runCommand("train-detector", ["show-data", Self.data, "--out", shown, "--count", "6", "--config", Self.data + "/tiny.json"])
        #expect(show.status == 0, "\(show.err)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: shown).sorted() == (0..<6).map { "\($0).png" })
        // The orientation-6 file (train/images/4.JPG) is 16 x 32 upright.
        #expect(show.out.contains("4.png  2 objects  (16x32 →"), "\(show.out)")

        let anchors = try runCommand("train-detector", ["anchors", "2", "--data", Self.data, "--config", Self.data + "/tiny.json"])
        #expect(anchors.status == 0, "\(anchors.err)")
        #expect(anchors.out.contains("\"anchors\": ["), "\(anchors.out)")
    }
}
