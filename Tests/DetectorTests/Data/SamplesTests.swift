import Foundation
import Testing
import Detector

/// The demo set committed in samples/ (README, `make demo`).
@Suite struct SamplesTests {
    /// The package root: this file is Tests/DetectorTests/Data/SamplesTests.swift.
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func demoSetLoadsWithValidLabelsAndMixedSizes() throws {
        let dataset = try Dataset.load(path: Self.root.appendingPathComponent("samples").path,
                                       classNames: SyntheticShapes.classNames, strict: true)
        #expect(dataset.validation == nil)
        #expect(dataset.warnings.isEmpty)
        #expect(dataset.train.items.count >= 8)
        var sizes = Set<[Int]>(), classes = Set<Int>()
        for item in dataset.train.items {
            let image = try PNG.read(path: item.imagePath)
            sizes.insert([image.width, image.height])
            #expect((1...6).contains(item.objects.count), "\(item.labelPath)")
            for o in item.objects {
                classes.insert(o.classIndex)
                #expect(o.box.x1 >= 0 && o.box.y1 >= 0 && o.box.x2 <= 1 && o.box.y2 <= 1 && o.box.area > 0)
            }
        }
        #expect(sizes.count >= 3)  // 256 x 256 and other sizes, for letterboxing
        #expect(classes == [0, 1, 2])
    }

    /// The files are exactly the generator's output for the demo seed, so the demo set can be
    /// regenerated (`SyntheticShapes.writeSamples(to: "samples", count: demoCount, seed: demoSeed)`)
    /// and a change to the generator shows up here.
    @Test func demoSetIsTheGeneratorsOutputForTheDemoSeed() throws {
        let dataset = try Dataset.load(path: Self.root.appendingPathComponent("samples").path)
        #expect(dataset.train.items.count == SyntheticShapes.demoCount)
        let generator = SyntheticShapes(seed: SyntheticShapes.demoSeed)
        for (index, item) in dataset.train.items.enumerated() {
            let expected = generator.sample(index: index)
            #expect(try PNG.read(path: item.imagePath) == expected.image, "\(item.imagePath)")
            #expect(try String(contentsOfFile: item.labelPath, encoding: .utf8) == formatLabels(expected.objects), "\(item.labelPath)")
        }
    }
}
