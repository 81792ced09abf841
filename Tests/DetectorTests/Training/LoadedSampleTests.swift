import Foundation
import Testing
@testable import Detector

/// Images held at the network's size: the network sees the letterbox of the original rounded to
/// 8 bits (each value within 0.5/255), and memory is 3 bytes per covered network pixel.
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

    /// Each letterboxed value v rounded to 8 bits and back, written out here independently of
    /// the library's helpers: Float(clamp(round(255 · v), 0, 255)) · (1/255). The padding (0.5)
    /// is not rounded: 0.5 · 255 = 127.5 would come back as 128/255.
    static func roundedTo8Bits(_ v: Float) -> Float {
        let inv: Float = 1 / 255
        return Float(UInt8(max(0, min(255, (v * 255).rounded())))) * inv
    }

    /// A resized sample feeds the letterbox of its original with every covered value rounded to
    /// 8 bits (exactly), so each is within 0.5/255 of the unrounded one; the padding and the
    /// transform are the letterbox's exactly. An image held as it is feeds the letterbox to the bit.
    @Test(arguments: cases) func networkInputIsTheLetterboxOfTheOriginalRoundedTo8Bits(_ c: Case) {
        let image = Self.picture(width: c.image.0, height: c.image.1)
        let (w, h) = c.network
        let sample = LoadedSample(name: "a", image: image, objects: [], networkWidth: w, networkHeight: h)
        let expected = letterbox(image, width: w, height: h)
        let got = sample.networkInput(width: w, height: h)
        #expect(got.transform == expected.transform)
        #expect(sample.width == image.width && sample.height == image.height)
        #expect(sample.heldBytes <= image.pixels.count)
        guard sample.isResized else {
            #expect(got.input.pixels.map(\.bitPattern) == expected.image.pixels.map(\.bitPattern))
            return
        }
        let region = CoveredRegion(expected.transform)
        var mismatches = 0, farthest: Float = 0
        for y in 0..<h {
            for x in 0..<w {
                let covered = (region.x0..<region.x1).contains(x) && (region.y0..<region.y1).contains(y)
                for ch in 0..<3 {
                    let k = (y * w + x) * 3 + ch
                    let v = expected.image.pixels[k]
                    let want = covered ? Self.roundedTo8Bits(v) : letterboxPadValue
                    if got.input.pixels[k].bitPattern != want.bitPattern { mismatches += 1 }
                    farthest = max(farthest, abs(got.input.pixels[k] - v))
                }
            }
        }
        #expect(mismatches == 0)
        // 0.5/255 plus the Float rounding of v · 255 and of q · (1/255) (a few ulps of 1).
        #expect(farthest <= 0.5 / 255 + 4 * Float.ulpOfOne, "\(farthest * 255) / 255")
    }

    /// A resized sample holds 3 bytes per covered network pixel, never more than a full
    /// network input's 3 · networkWidth · networkHeight bytes.
    @Test(arguments: cases) func resizedSamplesHoldAtMostThreeBytesPerNetworkPixel(_ c: Case) {
        let image = Self.picture(width: c.image.0, height: c.image.1)
        let (w, h) = c.network
        let sample = LoadedSample(name: "a", image: image, objects: [], networkWidth: w, networkHeight: h)
        guard sample.isResized else {
            #expect(sample.heldBytes == image.pixels.count)
            return
        }
        let region = CoveredRegion(LetterboxTransform(sourceWidth: image.width, sourceHeight: image.height, targetWidth: w, targetHeight: h))
        #expect(sample.heldBytes == region.width * region.height * 3)
        #expect(sample.heldBytes <= 3 * w * h)
        #expect(sample.image.width == region.width && sample.image.height == region.height)
    }

    @Test func onlyImagesLargerThanTheNetworkNeedsAreResized() {
        let big = LoadedSample(name: "big", image: Self.picture(width: 2400, height: 1800), objects: [],
                               networkWidth: 256, networkHeight: 256)
        #expect(big.isResized)
        #expect(big.heldBytes == 256 * 192 * 3)  // the covered part only, in bytes, not the padding
        #expect(big.image.width == 256 && big.image.height == 192)
        #expect(big.canFeed(width: 256, height: 256) && !big.canFeed(width: 320, height: 320))
        // 512 x 512 x 3 bytes (768 KB) are no more than 4 times 256 x 256 x 3 (the rule): kept.
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

    /// The large samples' 8-bit pictures as held (64 x 64, the whole network input), held as
    /// originals: letterboxed at scale 1 with no padding, their input is q · (1/255) for each
    /// byte q, and their normalised labels map to the network as the large ones' do (the large
    /// ones' scale, 1/32, is exact). What a resized sample should feed, from an independent path.
    static func heldPictures(_ resized: [LoadedSample]) -> [LoadedSample] {
        resized.map { LoadedSample(name: $0.name, image: $0.image, objects: $0.objects) }
    }

    /// The training batches, plain and augmented, from resized samples are those of their 8-bit
    /// pictures, bit for bit, with the same labels; plain, each value is the original's
    /// letterbox within 0.5/255.
    @Test func trainingBatchesAreThoseOfThe8BitPictures() throws {
        let (original, resized) = (Self.largeSamples(resized: false), Self.largeSamples(resized: true))
        let pictures = Self.heldPictures(resized)
        #expect(resized.allSatisfy { $0.isResized } && pictures.allSatisfy { !$0.isResized && $0.width == 64 && $0.height == 64 })
        var options = TrainingOptions()
        options.outputFolder = try Fixtures.temporaryFolder("batches").path
        let a = try Trainer(config: Self.config, train: original, validation: [], options: options)
        let b = try Trainer(config: Self.config, train: resized, validation: [], options: options)
        let c = try Trainer(config: Self.config, train: pictures, validation: [], options: options)
        let per = 64 * 64 * 3
        let (x, y, z) = (UnsafeMutablePointer<Float>.allocate(capacity: 4 * per), UnsafeMutablePointer<Float>.allocate(capacity: 4 * per),
                         UnsafeMutablePointer<Float>.allocate(capacity: 4 * per))
        defer { x.deallocate(); y.deallocate(); z.deallocate() }
        for augment in [false, true] {
            let ta = a.prepareBatch([0, 1, 2, 3], samples: original, augment: augment, epoch: 3, into: x)
            let tb = b.prepareBatch([0, 1, 2, 3], samples: resized, augment: augment, epoch: 3, into: y)
            let tc = c.prepareBatch([0, 1, 2, 3], samples: pictures, augment: augment, epoch: 3, into: z)
            #expect(ta == tb && tb == tc)
            #expect((0..<(4 * per)).allSatisfy { y[$0].bitPattern == z[$0].bitPattern }, "augment \(augment)")
            if !augment {
                #expect((0..<(4 * per)).allSatisfy { y[$0].bitPattern == Self.roundedTo8Bits(x[$0]).bitPattern })
                #expect((0..<(4 * per)).allSatisfy { abs(y[$0] - x[$0]) <= 0.5 / 255 + 4 * Float.ulpOfOne })
            }
        }
    }

    /// Evaluation compares in the original's pixels: resized samples give the detections of
    /// their 8-bit pictures scaled to the original (× 32, exact), and the same mAP.
    @Test func evaluationIsThatOfThe8BitPictures() throws {
        let network = try Network(config: Self.config, seed: 5)
        let resized = Self.largeSamples(resized: true), pictures = Self.heldPictures(resized)
        let a = try evaluateModel(network, on: pictures, scoreThreshold: 0)
        let b = try evaluateModel(network, on: resized, scoreThreshold: 0)
        #expect(a.detectionCount > 0)
        #expect(a.mAP50 == b.mAP50 && a.mAP50to95 == b.mAP50to95 && a.detectionCount == b.detectionCount)
        let detector = ObjectDetector(network: network)
        let scaled = pictures.map { detector.detect($0.image).map { Detection(box: $0.box.scaled(x: 32, y: 32), classIndex: $0.classIndex, score: $0.score) } }
        #expect(try detector.detect(resized) == scaled)
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
        #expect(loaded[0].heldBytes == 64 * 48 * 3)
        #expect(loaded[0].objectsInPixels[0].box == BoundingBox(x1: 120, y1: 180, x2: 600, y2: 540))
        let full = try loadSamples([item])
        #expect(!full[0].isResized && full[0].heldBytes == 1200 * 900 * 3)
    }
}
