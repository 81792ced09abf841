import Foundation
import Testing
import Detector

@Suite struct LabelsTests {
    @Test func parsesLinesWithBlankLinesAndStraySpaces() throws {
        let text = "0 0.5 0.5 0.2 0.4\n\n  2\t0.125 0.25 0.25 0.5  \r\n\n"
        let objects = try parseLabels(text, source: "a.txt", classCount: 3)
        #expect(objects.map(\.classIndex) == [0, 2])
        #expect(boxesClose(objects[0].box, BoundingBox(x1: 0.4, y1: 0.3, x2: 0.6, y2: 0.7)))
        #expect(objects[1].box == BoundingBox(x1: 0, y1: 0, x2: 0.25, y2: 0.5))
        #expect(try parseLabels("", source: "empty.txt", classCount: 3).isEmpty)
        #expect(try parseLabels("\n \n\r\n", source: "blank.txt", classCount: 3).isEmpty)
        // "\r\n" is one line break: the bad line is line 3.
        let error = try #require(throws: LabelError.self) {
            try parseLabels("0 0.5 0.5 0.2 0.2\r\n\r\n0 0.5\r\n", source: "crlf.txt", classCount: 3)
        }
        #expect(error.line == 3)
    }

    /// Each malformed line, placed on line 3 after a good line and a blank one.
    @Test(arguments: [
        ("0 0.5 0.5 0.2", LabelError.Kind.fieldCount),
        ("0 0.5 0.5 0.2 0.2 0.9", .fieldCount),
        ("0,0.5,0.5,0.2,0.2", .fieldCount),
        ("circle 0.5 0.5 0.2 0.2", .classNotInteger),
        ("1.0 0.5 0.5 0.2 0.2", .classNotInteger),
        ("-1 0.5 0.5 0.2 0.2", .classOutOfRange),
        ("3 0.5 0.5 0.2 0.2", .classOutOfRange),
        ("0 abc 0.5 0.2 0.2", .notANumber),
        ("0 0.5 0.5 0.2 0.2x", .notANumber),
        ("0 0.5 nan 0.2 0.2", .notFinite),
        ("0 0.5 0.5 inf 0.2", .notFinite),
        ("0 0.5 0.5 0.2 -inf", .notFinite),
        ("0 1.2 0.5 0.2 0.2", .coordinateOutOfRange),
        ("0 0.5 -0.1 0.2 0.2", .coordinateOutOfRange),
        ("0 120 80 30 40", .coordinateOutOfRange),
        ("0 0.5 0.5 0 0.2", .nonPositiveSize),
        ("0 0.5 0.5 0.2 -0.1", .nonPositiveSize),
        ("0 0.5 0.5 1.5 0.2", .sizeTooLarge),
        ("0 0.5 0.5 0.2 1.01", .sizeTooLarge),
    ])
    func malformedLineNamesFileLineAndProblem(line: String, kind: LabelError.Kind) throws {
        let text = "1 0.5 0.5 0.1 0.1\n\n" + line + "\n"
        let error = try #require(throws: LabelError.self) { try parseLabels(text, source: "labels/x.txt", classCount: 3) }
        #expect(error.file == "labels/x.txt")
        #expect(error.line == 3)
        #expect(error.kind == kind)
        #expect(error.description.hasPrefix("labels/x.txt:3: "))
    }

    @Test func messagesSayWhatWasWrong() throws {
        func message(_ line: String) throws -> String {
            "\(try #require(throws: LabelError.self) { try parseLabels(line, source: "f.txt", classCount: 3) })"
        }
        #expect(try message("0 0.5 0.5 0.2") == "f.txt:1: expected 5 fields \"class cx cy w h\", found 4: \"0 0.5 0.5 0.2\"")
        #expect(try message("5 0.5 0.5 0.2 0.2") == "f.txt:1: class id 5 is outside the 3 classes (0...2)")
        #expect(try message("0 0.5 nan 0.2 0.2") == "f.txt:1: cy is nan, not a finite number")
        #expect(try message("0 0.5 0.5 0 0.2") == "f.txt:1: w 0.0 is not positive")
    }

    @Test func coordinatesWithinTheToleranceAreClampedAndEdgesClipped() throws {
        // Rounding noise (1.00001) is accepted and clamped; 1.001 is not.
        let nearEdge = try parseLabels("0 1.00001 0.5 0.2 0.2", source: "t.txt", classCount: 1)
        #expect(nearEdge[0].box.x2 == 1)
        #expect(abs(nearEdge[0].box.x1 - 0.90001) < 1e-6)
        #expect(throws: LabelError.self) { try parseLabels("0 1.001 0.5 0.2 0.2", source: "t.txt", classCount: 1) }
        // A valid centre and size whose box overhangs the image is clipped (as Ultralytics does).
        let overhang = try parseLabels("0 0.95 0.05 0.2 0.3", source: "t.txt", classCount: 1)
        #expect(abs(overhang[0].box.x1 - 0.85) < 1e-6)
        #expect(overhang[0].box.x2 == 1)
        #expect(overhang[0].box.y1 == 0)
        #expect(abs(overhang[0].box.y2 - 0.2) < 1e-6)
    }

    @Test func formatWritesSixDecimalsAndRoundTrips() throws {
        let objects = [
            LabeledObject(classIndex: 0, box: BoundingBox(centerX: 0.5, centerY: 0.5, width: 0.2, height: 0.4)),
            LabeledObject(classIndex: 2, box: BoundingBox(x1: 0.1234567, y1: 0.2, x2: 0.3, y2: 0.9)),
        ]
        let text = formatLabels(objects)
        #expect(text.hasPrefix("0 0.500000 0.500000 0.200000 0.400000\n2 0.211728 0.550000 0.176543 0.700000\n"))
        #expect(formatLabels([]) == "")
        let parsed = try parseLabels(text, source: "round.txt", classCount: 3)
        #expect(parsed.count == 2)
        for (a, b) in zip(parsed, objects) {
            #expect(a.classIndex == b.classIndex)
            #expect(boxesClose(a.box, b.box, tolerance: 2e-6))
        }
    }

    @Test func readLabelsTreatsAMissingFileAsNoObjectsAndRefusesBinary() throws {
        let folder = try Fixtures.temporaryFolder()
        #expect(try readLabels(path: folder.appendingPathComponent("none.txt").path, classCount: 3).isEmpty)
        let binary = folder.appendingPathComponent("binary.txt")
        try Data([0xFF, 0xFE, 0x00, 0xC3]).write(to: binary)
        let error = try #require(throws: LabelError.self) { try readLabels(path: binary.path, classCount: 3) }
        #expect(error.kind == .notUTF8)
        #expect(error.file == binary.path)
        #expect(error.line == 1)
    }

    /// A NUL byte used to end the number early (C's strtof stops there), so "0.2\0junk" read as
    /// 0.2 and the line was accepted. Any control character but tab is now an error with the
    /// line and column.
    @Test(arguments: [
        ("0 0.5 0.5 0.2 0.2\0junk", 18, "a NUL byte"),
        ("0 0.5\0 0.5 0.2 0.2", 6, "a NUL byte"),
        ("0 0.5 0.5 0.2 0.2\0", 18, "a NUL byte"),
        ("\01 0.5 0.5 0.2 0.2", 1, "a NUL byte"),
        ("0 0.5 0.5 0.2\u{1B} 0.2", 14, "the control character U+001B"),
        ("0 0.5 0.5\u{0B}0.2 0.2", 10, "the control character U+000B"),
        ("0 0.5 0.5 0.2 0.2\u{7F}", 18, "the control character U+007F"),
    ])
    func controlCharactersAreRefusedWithLineAndColumn(line: String, column: Int, what: String) throws {
        let text = "1 0.5 0.5 0.1 0.1\n" + line + "\n"
        let error = try #require(throws: LabelError.self) { try parseLabels(text, source: "x.txt", classCount: 3) }
        #expect(error.kind == .controlCharacter)
        #expect(error.line == 2)
        #expect(error.description.hasPrefix("x.txt:2: contains \(what) at column \(column)"), "\(error)")
    }

    @Test func tabsByteOrderMarkAndAllLineEndsAreAccepted() throws {
        let text = "\u{FEFF}0\t0.5 0.5 0.2 0.2\r1 0.5 0.5 0.2 0.2\r\n\r2 0.5 0.5 0.2 0.2\n"
        let objects = try parseLabels(text, source: "t.txt", classCount: 3)
        #expect(objects.map(\.classIndex) == [0, 1, 2])
        // "\r\n" is one line end, a lone "\r" another: "\n\r" ends lines 4 and 5, so the bad line is 6.
        let error = try #require(throws: LabelError.self) { try parseLabels(text + "\r3 0.5", source: "t.txt", classCount: 3) }
        #expect(error.line == 6)
        #expect(error.kind == .fieldCount)
    }

    /// A million fields on one line: counted, not stored; the message gives the count.
    @Test func aMillionFieldsIsOneFieldCountError() throws {
        let text = String(repeating: "0 ", count: 1_000_000)
        let error = try #require(throws: LabelError.self) { try parseLabels(text, source: "wide.txt", classCount: 1) }
        #expect(error.kind == .fieldCount)
        #expect(error.reason.hasPrefix("expected 5 fields \"class cx cy w h\", found 1000000: \"0 0 0"))
        #expect(error.reason.count < 140)
    }
}

/// Corners equal within `tolerance`.
func boxesClose(_ a: BoundingBox, _ b: BoundingBox, tolerance: Float = 1e-6) -> Bool {
    abs(a.x1 - b.x1) <= tolerance && abs(a.y1 - b.y1) <= tolerance && abs(a.x2 - b.x2) <= tolerance && abs(a.y2 - b.y2) <= tolerance
}
