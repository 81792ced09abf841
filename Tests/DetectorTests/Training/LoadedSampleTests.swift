import Foundation
import Testing
@testable import Detector

/// Images held at the network's size: the network sees the same values as from the
/// original, to the bit, and memory is bounded by the network's size.
@Suite struct LoadedSampleTests {
    /// A deterministic noisy picture (every pixel different, so a shifted or blurred copy shows).
    static func picture(width: Int, height: Int, seed: UInt64 = 1) -> Image {
        var rng = SplitMix64(seed: seed)
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for k in pixels.indices { pixels[k] = UInt8(truncatingIfNeeded: rng.next() >> 56) }
        return Image(width: width, height: height, pixels: pixels)
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var image: (Int, Int)
        var network: (Int, Int)
        var testDescription: String { "\(image.0)x\(image.1) → \(network.0)x\(network.1)" }
    }

    /// Sizes on both sides of the resize rule, odd aspect ratios, padding on either axis, a
    /// network that is not square, and a scaled image less than a pixel wide.
    static let cases: [Case] = [
        ((2400, 1800), (256, 256)), ((1800, 2400), (256, 256)), ((1000, 1000), (64, 64)), ((513, 512), (256, 256)),
        ((640, 480), (320, 192)), ((3000, 7), (96, 160)), ((7, 3000), (96, 160)), ((1283, 777), (256, 256)),
        ((300, 200), (256, 256)), ((256, 256), (256, 256)), ((2000, 2), (64, 64)), ((4000, 3), (32, 32)),
    ].map { Case(image: $0.0, network: $0.1) }

    @Test(arguments: cases) func networkInputIsTheLetterboxOfTheOriginalBitForBit(_ c: Case) {
        let image = Self.picture(width: c.image.0, height: c.image.1)
        let (w, h) = c.network
        let sample = LoadedSample(name: "a", image: image, objects: [], networkWidth: w, networkHeight: h)
        let expected = letterbox(image, width: w, height: h)
        let got = sample.networkInput(width: w, height: h)
        #expect(got.input.pixels.map(\.bitPattern) == expected.image.pixels.map(\.bitPattern))
        #expect(got.transform == expected.transform)
        #expect(sample.width == image.width && sample.height == image.height)
        // Held at most as the network's input, never more than the original.
        #expect(sample.heldBytes <= max(image.pixels.count, w * h * 3 * MemoryLayout<Float>.stride))
        #expect(sample.heldBytes <= image.pixels.count)
    }

    @Test func onlyImagesLargerThanTheNetworkNeedsAreResized() {
        let big = LoadedSample(name: "big", image: Self.picture(width: 2400, height: 1800), objects: [],
                               networkWidth: 256, networkHeight: 256)
        #expect(big.isResized)
        #expect(big.heldBytes == 256 * 192 * 3 * 4)  // the covered part only, not the padding
        #expect(big.image.width == 256 && big.image.height == 192)
        #expect(big.canFeed(width: 256, height: 256) && !big.canFeed(width: 320, height: 320))
        // 512 x 512 bytes (768 KB) are no more than 256 x 256 floats: kept.
        let kept = LoadedSample(name: "kept", image: Self.picture(width: 512, height: 512), objects: [],
                                networkWidth: 256, networkHeight: 256)
        #expect(!kept.isResized && kept.heldBytes == 512 * 512 * 3)
        #expect(kept.canFeed(width: 320, height: 320))
        let small = LoadedSample(name: "small", image: Self.picture(width: 320, height: 240), objects: [],
                                 networkWidth: 256, networkHeight: 256)
        #expect(!small.isResized && small.image == Self.picture(width: 320, height: 240))
    }

    static let config = try! ModelConfig.decode(Data(tinyConfigJSON.utf8), source: "tiny")

    /// Synthetic shapes scaled up 8 times (nearest neighbour), with their labels.
    static func largeSamples(resized: Bool) -> [LoadedSample] {
        tinySamples(count: 4).map { sample in
            let small = sample.image
            let factor = 8
            var pixels = [UInt8](repeating: 0, count: small.width * factor * small.height * factor * 3)
            for y in 0..<(small.height * factor) {
                for x in 0..<(small.width * factor) {
                    for c in 0..<3 { pixels[(y * small.width * factor + x) * 3 + c] = small.pixels[((y / factor) * small.width + x / factor) * 3 + c] }
                }
            }
            let large = Image(width: small.width * factor, height: small.height * factor, pixels: pixels)
            return resized
                ? LoadedSample(name: sample.name, image: large, objects: sample.objects, networkWidth: 64, networkHeight: 64)
                : LoadedSample(name: sample.name, image: large, objects: sample.objects)
        }
    }

    /// The training batches, augmented, are the same from resized samples as from the originals.
    @Test func trainingBatchesAreTheSame() throws {
        let (original, resized) = (Self.largeSamples(resized: false), Self.largeSamples(resized: true))
        #expect(resized.allSatisfy { $0.isResized })
        var options = TrainingOptions()
        options.outputFolder = try Fixtures.temporaryFolder("batches").path
        let a = try Trainer(config: Self.config, train: original, validation: [], options: options)
        let b = try Trainer(config: Self.config, train: resized, validation: [], options: options)
        let per = 64 * 64 * 3
        let (x, y) = (UnsafeMutablePointer<Float>.allocate(capacity: 4 * per), UnsafeMutablePointer<Float>.allocate(capacity: 4 * per))
        defer { x.deallocate(); y.deallocate() }
        for augment in [false, true] {
            let ta = a.prepareBatch([0, 1, 2, 3], samples: original, augment: augment, epoch: 3, into: x)
            let tb = b.prepareBatch([0, 1, 2, 3], samples: resized, augment: augment, epoch: 3, into: y)
            #expect(ta == tb)
            #expect((0..<(4 * per)).allSatisfy { x[$0].bitPattern == y[$0].bitPattern }, "augment \(augment)")
        }
    }

    /// Evaluation compares in the original's pixels: the same result either way.
    @Test func evaluationIsTheSame() throws {
        let network = try Network(config: Self.config, seed: 5)
        let a = try evaluateModel(network, on: Self.largeSamples(resized: false), scoreThreshold: 0)
        let b = try evaluateModel(network, on: Self.largeSamples(resized: true), scoreThreshold: 0)
        #expect(a.detectionCount > 0)
        #expect(a.mAP50 == b.mAP50 && a.mAP50to95 == b.mAP50to95 && a.detectionCount == b.detectionCount)
        let detector = ObjectDetector(network: network)
        let original = Self.largeSamples(resized: false)
        #expect(try detector.detect(Self.largeSamples(resized: true)) == original.map { detector.detect($0.image) })
    }

    @Test func samplesResizedForAnotherInputAreRefused() throws {
        let other = [LoadedSample(name: "other", image: Self.picture(width: 2400, height: 1800), objects: [],
                                  networkWidth: 256, networkHeight: 256)]
        var options = TrainingOptions()
        options.outputFolder = try Fixtures.temporaryFolder("other-size").path
        do {
            _ = try Trainer(config: Self.config, train: other, validation: [], options: options)
            Issue.record("accepted")
        } catch let error as TrainingError {
            #expect(error.kind == .samplesForAnotherInput)
            #expect(error.description.contains("other") && error.description.contains("64x64"), "\(error)")
        }
        let network = try Network(config: Self.config, seed: 1)
        #expect(throws: SampleSizeError.self) { try evaluateModel(network, on: other) }
    }

    /// From files: resized at load, the original size kept for the labels.
    @Test func loadSamplesResizesLargeFiles() throws {
        let folder = try Fixtures.temporaryFolder("load-large")
        let path = folder.appendingPathComponent("a.png").path
        try PNG.write(Self.picture(width: 1200, height: 900), to: path)
        let item = DatasetItem(imagePath: path, labelPath: folder.appendingPathComponent("a.txt").path,
                               objects: [LabeledObject(classIndex: 0, box: BoundingBox(x1: 0.1, y1: 0.2, x2: 0.5, y2: 0.6))])
        let loaded = try loadSamples([item], networkWidth: 64, networkHeight: 64)
        #expect(loaded[0].isResized && loaded[0].width == 1200 && loaded[0].height == 900 && loaded[0].name == "a")
        #expect(loaded[0].heldBytes == 64 * 48 * 3 * 4)
        #expect(loaded[0].objectsInPixels[0].box == BoundingBox(x1: 120, y1: 180, x2: 600, y2: 540))
        let full = try loadSamples([item])
        #expect(!full[0].isResized && full[0].heldBytes == 1200 * 900 * 3)
    }
}
