import Foundation
import Testing
@testable import Detector

/// Autoanchor: the fit of anchors to box shapes (IoU of centred shapes, in grid cells) and the
/// decision to refit them by k-means.
@Suite struct AnchorFitTests {
    typealias Shape = (width: Float, height: Float)

    /// Hand cases: IoU of (1, 1) with itself 1; with (2, 2) 1/4; (2, 1) with (1, 1) exactly 1/2,
    /// which counts (≥ 0.5); (1, 4) with (2, 2): min 1·2 = 2 / (4 + 4 − 2) = 1/3.
    @Test func shapeIoUByHand() {
        #expect(AnchorFit.shapeIoU((1, 1), (1, 1)) == 1)
        #expect(AnchorFit.shapeIoU((1, 1), (2, 2)) == 0.25)
        #expect(AnchorFit.shapeIoU((2, 1), (1, 1)) == 0.5)
        #expect(AnchorFit.shapeIoU((1, 4), (2, 2)) == Float(2) / 6)
        #expect(AnchorFit.shapeIoU((3, 5), (5, 3)) == AnchorFit.shapeIoU((5, 3), (3, 5)))
    }

    /// Four boxes, two anchors: best IoUs 1, 0.5, 0.25 and 1/3 → mean (1 + 0.5 + 0.25 + 1/3) / 4,
    /// recall 2 of 4 (the 0.5 counts).
    @Test func fitByHand() {
        let anchors = [Anchor(width: 1, height: 1), Anchor(width: 2, height: 2)]
        let boxes: [Shape] = [(1, 1), (2, 1), (4, 4), (1, 4)]
        // (2, 1): 0.5 with (1, 1), 2/(2+4-2) = 0.5 with (2, 2). (4, 4): 4/16 with (2, 2).
        // (1, 4): 1/4 with (1, 1), 2/6 with (2, 2).
        let fit = AnchorFit(anchors: anchors, boxes: boxes)
        #expect(fit.boxCount == 4)
        #expect(fit.bestPossibleRecall == 0.5)
        #expect(abs(fit.meanIoU - Float((1 + 0.5 + 0.25 + 1.0 / 3) / 4)) < 1e-6)
        #expect(fit.summary == "IoU ≥ 0.5 for 50.0% of 4 boxes, mean IoU 0.521")
    }

    @Test func unusableShapesAreLeftOutAndNoBoxesGiveZeros() {
        let anchors = [Anchor(width: 1, height: 1)]
        let fit = AnchorFit(anchors: anchors, boxes: [(1, 1), (0, 1), (.nan, 1), (-1, 2), (.infinity, 1)])
        #expect(fit.boxCount == 1 && fit.meanIoU == 1 && fit.bestPossibleRecall == 1)
        let none = AnchorFit(anchors: anchors, boxes: [])
        #expect(none.boxCount == 0 && none.meanIoU == 0 && none.bestPossibleRecall == 0)
    }

    /// 99 of 100 boxes fitted: at the 98% threshold, kept without clustering.
    @Test func anchorsThatFitAreKept() {
        let boxes: [Shape] = Array(repeating: (1, 1), count: 99) + [(8, 8)]
        let given = [Anchor(width: 1, height: 1), Anchor(width: 2.5, height: 2.5)]
        let choice = AnchorChoice.choose(configAnchors: given, boxes: boxes, gridWidth: 8, gridHeight: 8, seed: 1)
        #expect(choice.outcome == .configFits)
        #expect(choice.anchors == given && choice.clusteredFit == nil)
        #expect(choice.message.contains("fit the training boxes") && choice.message.contains("99.0% of 100 boxes") && choice.message.hasSuffix("kept"),
                "\(choice.message)")
    }

    /// Tall thin boxes (w = 0.4 h) and square anchors: no box reaches IoU 0.5 (at best 0.46);
    /// k-means finds the two shapes exactly, rounded to 0.001 of a cell.
    @Test func poorlyFittingAnchorsAreReplacedByKMeans() {
        let boxes: [Shape] = (0..<50).map { $0 % 2 == 0 ? (0.4, 1) : (1.2, 3) }
        let given = [Anchor(width: 1, height: 1), Anchor(width: 3, height: 3)]
        let choice = AnchorChoice.choose(configAnchors: given, boxes: boxes, gridWidth: 13, gridHeight: 13, seed: 7)
        #expect(choice.outcome == .refitted)
        #expect(choice.configFit?.bestPossibleRecall == 0)
        #expect(choice.anchors == [Anchor(width: 0.4, height: 1), Anchor(width: 1.2, height: 3)])
        #expect(choice.clusteredFit?.bestPossibleRecall == 1)
        #expect(abs((choice.clusteredFit?.meanIoU ?? 0) - 1) < 1e-5)
        #expect(choice.message.contains("under 98%") && choice.message.contains("[[0.4, 1.0], [1.2, 3.0]]")
                && choice.message.contains("--no-autoanchor"), "\(choice.message)")
    }

    /// When k-means does not fit both measures at least as well, the config's stay. Three
    /// shapes, two anchors, and the config has the two common shapes exactly: recall 0.9 (the
    /// (2, 8) boxes reach 1/3 at best), mean IoU (90 + 10/3) / 100. k-means, which moves its
    /// centroids to the means of their boxes, pulls one of them off its shape and does worse.
    @Test func kMeansThatFitsNoBetterIsNotUsed() throws {
        let boxes: [Shape] = Array(repeating: (1, 1), count: 45) + Array(repeating: (4, 4), count: 45) + Array(repeating: (2, 8), count: 10)
        let given = [Anchor(width: 1, height: 1), Anchor(width: 4, height: 4)]
        let choice = AnchorChoice.choose(configAnchors: given, boxes: boxes, gridWidth: 8, gridHeight: 8, seed: 1)
        #expect(choice.configFit?.bestPossibleRecall == 0.9)
        #expect(abs((choice.configFit?.meanIoU ?? 0) - Float((90 + 10.0 / 3) / 100)) < 1e-5)
        let clustered = try #require(choice.clusteredFit)
        #expect(clustered.meanIoU < choice.configFit!.meanIoU, "\(clustered)")
        #expect(choice.outcome == .clusteringNoBetter)
        #expect(choice.anchors == given)
        #expect(choice.message.contains("no better") && choice.message.hasSuffix("kept"), "\(choice.message)")
    }

    @Test func tooFewBoxesToJudge() {
        let given = [Anchor(width: 1, height: 1), Anchor(width: 3, height: 3), Anchor(width: 5, height: 5)]
        let choice = AnchorChoice.choose(configAnchors: given, boxes: [(9, 1), (1, 9)], gridWidth: 8, gridHeight: 8, seed: 1)
        #expect(choice.outcome == .tooFewBoxes && choice.anchors == given)
        let none = AnchorChoice.choose(configAnchors: given, boxes: [], gridWidth: 8, gridHeight: 8, seed: 1)
        #expect(none.outcome == .tooFewBoxes && none.message.contains("0 labelled box"), "\(none.message)")
    }

    @Test func roundingKeepsSidesInTheConfigsBounds() {
        #expect(AnchorChoice.roundedSide(0.12345) == 0.123)
        #expect(AnchorChoice.roundedSide(0.0001) == ConfigBounds.anchorSide.lowerBound)
        #expect(AnchorChoice.roundedSide(5000) == ConfigBounds.anchorSide.upperBound)
    }

    /// The boxes as the loss sees them: letterboxed, in cells. A 200 x 100 image into 64 x 64
    /// (grid 8): scale 0.32, so a box of the whole image is 64 x 32 pixels, 8 x 4 cells.
    @Test func boxShapesAreLetterboxedGridCells() throws {
        let config = try ModelConfig.decode(Data(tinyConfigJSON.utf8), source: "tiny")
        let sample = LoadedSample(name: "a", image: Image(width: 200, height: 100),
                                  objects: [LabeledObject(classIndex: 0, box: BoundingBox(x1: 0, y1: 0, x2: 1, y2: 1)),
                                            LabeledObject(classIndex: 1, box: BoundingBox(x1: 0.25, y1: 0.5, x2: 0.5, y2: 1))])
        let shapes = boxShapes([sample], config: config)
        #expect(shapes.count == 2)
        #expect(abs(shapes[0].width - 8) < 1e-5 && abs(shapes[0].height - 4) < 1e-5)
        #expect(abs(shapes[1].width - 2) < 1e-5 && abs(shapes[1].height - 2) < 1e-5)
    }

    /// The anchors command's sizes, from image headers: a box of half the image each way in a
    /// 320 x 240 image letterboxed to 256 x 256 (scale 0.8, 256 x 192 of picture) is 0.5 x 0.375
    /// of the input; and in grid cells they are the box shapes autoanchor measures on loaded samples.
    @Test func letterboxedSizesFromHeaders() throws {
        let image = repositoryRoot.appendingPathComponent("samples/images/000011.png").path
        let item = DatasetItem(imagePath: image, labelPath: "",
                               objects: [LabeledObject(classIndex: 0, box: BoundingBox(centerX: 0.5, centerY: 0.5, width: 0.5, height: 0.5))])
        let sizes = try letterboxedBoxSizes([item], networkWidth: 256, networkHeight: 256)
        #expect(sizes.count == 1 && sizes[0].width == 0.5 && sizes[0].height == 0.375)

        let dataset = try Dataset.load(path: repositoryRoot.appendingPathComponent("samples").path)
        let config = try ModelConfig.load(path: repositoryRoot.appendingPathComponent("models/tiny-dsc-shapes.json").path)
        let items = Array(dataset.train.items.prefix(4))
        let fromHeaders = try letterboxedBoxSizes(items, networkWidth: config.inputWidth, networkHeight: config.inputHeight)
        let fromSamples = boxShapes(try loadSamples(items, networkWidth: config.inputWidth, networkHeight: config.inputHeight), config: config)
        #expect(!fromHeaders.isEmpty && fromHeaders.count == fromSamples.count)
        for (a, b) in zip(fromHeaders, fromSamples) {
            #expect(a.width * Float(config.gridWidth) == b.width && a.height * Float(config.gridHeight) == b.height)
        }
    }
}
