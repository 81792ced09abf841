import Foundation
import Testing
import Detector

/// `train-detector import coco|voc` from the built binary: output, exit status, bad input.
@Suite struct ImportCommandTests {
    static func cocoFolder() throws -> String {
        let json = try ImportFixture.coco(
            images: [["id": 1, "file_name": "a.png", "width": 16, "height": 8], ["id": 2, "file_name": "b.png", "width": 16, "height": 8]],
            annotations: [["id": 1, "image_id": 1, "category_id": 4, "bbox": [2, 2, 4, 4]], ["id": 2, "image_id": 1, "category_id": 4, "bbox": [12, 4, 8, 8]]],
            categories: [["id": 4, "name": "tree"]])
        return try ImportFixture.folder("cmd-coco", [("c.json", .text(json)), ("images/a.png", .png(16, 8)), ("images/b.png", .png(16, 8))])
    }

    @Test func importCOCOWritesTheSetAndASummary() throws {
        let folder = try Self.cocoFolder()
        let result = try runCommand("train-detector", ["import", "coco", folder + "/c.json", "--out", folder + "/out", "--val-fraction", "0.5"])
        #expect(result.status == 0, "\(result.err)")
        #expect(result.out.hasPrefix("COCO import of \(folder)/c.json: wrote \(folder)/out (1 classes: tree)\n"))
        #expect(result.out.contains("images: 2 in the annotations, 2 written (train 1, val 1), 1 without boxes, 0 missing, 0 skipped as invalid"))
        #expect(result.out.contains("boxes: 2 in the annotations, 2 written, 1 clipped to the image, 0 dropped"))
        let dataset = try Dataset.load(path: folder + "/out", strict: true)
        #expect(dataset.classNames == ["tree"] && dataset.train.items.count == 1 && dataset.validation?.items.count == 1)

        // Again: refused (exit 1), then replaced with --force; --json gives one object.
        let again = try runCommand("train-detector", ["import", "coco", folder + "/c.json", "--out", folder + "/out"])
        #expect(again.status == 1)
        #expect(again.err == "error: \(folder)/out: already exists and is not empty; pass --force to replace it, or choose another --out\n")
        let forced = try runCommand("train-detector", ["import", "coco", folder + "/c.json", "--out", folder + "/out", "--force", "--json", "--link", "symlink"])
        #expect(forced.status == 0, "\(forced.err)")
        let summary = try JSONSerialization.jsonObject(with: Data(forced.out.utf8)) as! [String: Any]
        #expect(summary["written"] as? Bool == true && summary["train_images"] as? Int == 2 && summary["image_link"] as? String == "symlink")
    }

    @Test func aBadAnnotationExitsOneNamingFileAndId() throws {
        let json = try ImportFixture.coco(images: [["id": 1, "file_name": "a.png"]],
                                          annotations: [["id": 17, "image_id": 1, "category_id": 1, "bbox": [1, 1, -2, 2]]])
        let folder = try ImportFixture.folder("cmd-bad", [("c.json", .text(json)), ("a.png", .png(8, 8))])
        let result = try runCommand("train-detector", ["import", "coco", folder + "/c.json", "--out", folder + "/out"])
        #expect(result.status == 1)
        #expect(result.err.contains("error: \(folder)/c.json: 1 problem (nothing written"))
        #expect(result.err.contains("  \(folder)/c.json: annotation id 17 (image id 1): bbox width -2 is negative"))
        #expect(result.out.isEmpty)
        #expect(!FileManager.default.fileExists(atPath: folder + "/out"))
        // With --json the summary of what was found still goes to stdout.
        let json2 = try runCommand("train-detector", ["import", "coco", folder + "/c.json", "--out", folder + "/out", "--json"])
        #expect(json2.status == 1)
        let summary = try JSONSerialization.jsonObject(with: Data(json2.out.utf8)) as! [String: Any]
        #expect(summary["written"] as? Bool == false)
        #expect((summary["issues"] as! [[String: Any]]).first?["location"] as? String == "annotation id 17 (image id 1)")

        let notJSON = try ImportFixture.folder("cmd-notjson", [("c.json", .text("{\"images\": [}"))])
        let parse = try runCommand("train-detector", ["import", "coco", notJSON + "/c.json", "--out", notJSON + "/out"])
        #expect(parse.status == 1)
        #expect(parse.err.hasPrefix("error: \(notJSON)/c.json:1:13: images[0]: not valid JSON"))
    }

    @Test func importVOCWithItsOptions() throws {
        let folder = try ImportFixture.folder("cmd-voc", [
            ("VOC/Annotations/a.xml", .text(ImportVOCTests.xml("a.png", 20, 10, [("b", 1, 1, 20, 10, false), ("a", 2, 2, 5, 5, true)]))),
            ("VOC/JPEGImages/a.png", .png(20, 10)), ("classes.txt", .text("b\na\n")),
        ])
        let result = try runCommand("train-detector", ["import", "voc", folder + "/VOC", "--out", folder + "/out", "--classes", folder + "/classes.txt", "--keep-difficult"])
        #expect(result.status == 0, "\(result.err)")
        #expect(result.out.contains("boxes: 2 in the annotations, 2 written, 0 clipped to the image, 0 dropped (no area inside the image), 0 difficult skipped"))
        #expect(try String(contentsOfFile: folder + "/out/train/labels/a.txt", encoding: .utf8)
            == "0 0.500000 0.500000 1.000000 1.000000\n1 0.150000 0.300000 0.200000 0.400000\n")
        #expect(try Dataset.readClassNames(path: folder + "/out/classes.txt") == ["b", "a"])
    }

    @Test(arguments: [
        (["--val-fraction", "1.5"], "--val-fraction must be a number in (0, 1) (got 1.5)"),
        (["--val-fraction", "nan"], "--val-fraction must be a number in (0, 1)"),
        (["--split", "val", "--val-fraction", "0.1"], "--split and --val-fraction exclude each other"),
        (["--split", "test"], "The value 'test' is invalid for '--split <split>'"),
        (["--link", "copy-on-write"], "The value 'copy-on-write' is invalid for '--link <link>'"),
        (["--val-images", "x"], "--val-images needs --val"),
        (["--val", "v.json", "--split", "train"], "--val gives the validation images: it excludes --split and --val-fraction"),
    ])
    func badOptionsExitOne(_ options: [String], _ message: String) throws {
        let result = try runCommand("train-detector", ["import", "coco", "c.json", "--out", "/nonexistent/out"] + options)
        #expect(result.status == 1)
        #expect(result.err.contains(message), "\(result.err)")
    }
}
