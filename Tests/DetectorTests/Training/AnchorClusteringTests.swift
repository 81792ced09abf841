import Foundation
import Testing
import Detector

/// k-means with distance 1 − IoU on box sizes (YOLOv2 dimension clusters).
@Suite struct AnchorKMeansTests {
    typealias Size = (width: Float, height: Float)

    static func iou(_ a: Size, _ b: Size) -> Float {
        let inter = min(a.width, b.width) * min(a.height, b.height)
        return inter / (a.width * a.height + b.width * b.height - inter)
    }

    /// Three groups of identical sizes: k-means++ never draws a second centroid from a group
    /// already chosen (its distance is 0), so any seed recovers the three sizes exactly.
    @Test(arguments: [UInt64(1), 2, 3, 42, 1234])
    func wellSeparatedClustersAreRecoveredExactly(_ seed: UInt64) {
        let groups: [Size] = [(0.1, 0.1), (0.5, 0.25), (0.3, 0.6)]
        let sizes = (0..<30).map { groups[$0 % 3] }
        let r = clusterAnchors(sizes: sizes, count: 3, gridWidth: 8, gridHeight: 8, seed: seed)
        // In cells, by area: 0.8 x 0.8 (0.64), 4 x 2 (8), 2.4 x 4.8 (11.52).
        #expect(r.anchors == [Anchor(width: 0.8, height: 0.8), Anchor(width: 4, height: 2), Anchor(width: 2.4, height: 4.8)])
        #expect(r.meanIoU == 1)
    }

    /// Tight groups around three sizes: each anchor is its group's mean size.
    @Test func jitteredClustersGiveTheGroupMeans() {
        var rng = SplitMix64(seed: 5)
        let centres: [Size] = [(0.05, 0.08), (0.4, 0.2), (0.25, 0.7)]
        var groups: [[Size]] = [[], [], []]
        for k in 0..<60 {
            let c = centres[k % 3]
            groups[k % 3].append((c.width * rng.nextFloat(in: 0.95..<1.05), c.height * rng.nextFloat(in: 0.95..<1.05)))
        }
        let r = clusterAnchors(sizes: groups.flatMap { $0 }, count: 3, gridWidth: 13, gridHeight: 13, seed: 9)
        for (anchor, group) in zip(r.anchors, groups) {   // the groups are in area order already
            let w = group.map { Double($0.width) }.reduce(0, +) / Double(group.count) * 13
            let h = group.map { Double($0.height) }.reduce(0, +) / Double(group.count) * 13
            #expect(abs(Double(anchor.width) - w) < 1e-5 && abs(Double(anchor.height) - h) < 1e-5)
        }
        #expect(r.meanIoU > 0.9 && r.meanIoU < 1)
    }

    @Test func sameSeedSameAnchors() {
        var rng = SplitMix64(seed: 11)
        let sizes: [Size] = (0..<500).map { _ in (rng.nextFloat(in: 0.02..<0.9), rng.nextFloat(in: 0.02..<0.9)) }
        let a = clusterAnchors(sizes: sizes, count: 5, gridWidth: 8, gridHeight: 8, seed: 3)
        let b = clusterAnchors(sizes: sizes, count: 5, gridWidth: 8, gridHeight: 8, seed: 3)
        #expect(a.anchors == b.anchors && a.meanIoU.bitPattern == b.meanIoU.bitPattern)
        #expect(a.anchors.count == 5)
        // Sorted by area, ascending.
        let areas = a.anchors.map { $0.width * $0.height }
        #expect(areas == areas.sorted())
        // A converged k-means: every anchor is the mean of the boxes whose best anchor it is,
        // and the reported mean IoU is the mean of the best IoUs.
        let cells: [Size] = sizes.map { ($0.width * 8, $0.height * 8) }
        var members = [[Size]](repeating: [], count: 5)
        var total: Double = 0
        for s in cells {
            let ious = a.anchors.map { Self.iou(s, ($0.width, $0.height)) }
            let best = ious.indices.max { ious[$0] < ious[$1] }!
            members[best].append(s)
            total += Double(ious[best])
        }
        for (anchor, group) in zip(a.anchors, members) {
            #expect(!group.isEmpty)
            let w = group.map { Double($0.width) }.reduce(0, +) / Double(group.count)
            let h = group.map { Double($0.height) }.reduce(0, +) / Double(group.count)
            #expect(abs(Double(anchor.width) - w) < 1e-4 && abs(Double(anchor.height) - h) < 1e-4)
        }
        #expect(abs(Double(a.meanIoU) - total / Double(sizes.count)) < 1e-5)
    }

    /// One anchor for boxes of 1x1 and 2x2 cells: their mean, 1.5 x 1.5; IoUs 1/2.25 and 2.25/4.
    @Test func meanIoUByHand() {
        let r = clusterAnchors(sizes: [(0.125, 0.125), (0.25, 0.25)], count: 1, gridWidth: 8, gridHeight: 8, seed: 3)
        #expect(r.anchors == [Anchor(width: 1.5, height: 1.5)])
        #expect(abs(r.meanIoU - (1 / 2.25 + 2.25 / 4) / 2) < 1e-6)
    }

    /// Two anchors, four boxes in two pairs on a 10 x 5 grid: (0.1, 0.2) and (0.1, 0.4) average
    /// to (0.1, 0.3) → 1 x 1.5 cells, IoUs 0.2/0.3 and 0.3/0.4; (0.6, 0.6) and (0.8, 0.6) to
    /// (0.7, 0.6) → 7 x 3 cells, IoUs 0.36/0.42 and 0.42/0.48.
    @Test func twoAnchorsByHandOnANonSquareGrid() {
        let r = clusterAnchors(sizes: [(0.1, 0.2), (0.6, 0.6), (0.1, 0.4), (0.8, 0.6)], count: 2, gridWidth: 10, gridHeight: 5, seed: 1)
        #expect(r.anchors.count == 2)
        #expect(abs(r.anchors[0].width - 1) < 1e-5 && abs(r.anchors[0].height - 1.5) < 1e-5)
        #expect(abs(r.anchors[1].width - 7) < 1e-5 && abs(r.anchors[1].height - 3) < 1e-5)
        let expected: Float = (0.2 / 0.3 + 0.3 / 0.4 + 0.36 / 0.42 + 0.42 / 0.48) / 4
        #expect(abs(r.meanIoU - expected) < 1e-5)
    }

    @Test func moreAnchorsThanDistinctSizesStaysFinite() {
        for sizes: [Size] in [[(0.2, 0.2), (0.2, 0.2)], [(0.2, 0.3)], [(0.1, 0.1), (0.4, 0.2), (0.1, 0.1)]] {
            let r = clusterAnchors(sizes: sizes, count: 5, gridWidth: 8, gridHeight: 8, seed: 1)
            #expect(r.anchors.count == 5)
            #expect(r.anchors.allSatisfy { $0.width.isFinite && $0.height.isFinite && $0.width > 0 && $0.height > 0 })
            #expect(r.meanIoU == 1)
            // Every distinct size is among the anchors.
            for s in sizes { #expect(r.anchors.contains(Anchor(width: s.width * 8, height: s.height * 8))) }
        }
    }

    /// Unusable sizes are left out; nothing usable (or no anchors asked for) gives nothing.
    @Test func unusableSizesAndEmptyInput() {
        let r = clusterAnchors(sizes: [(.nan, 0.2), (0.2, .infinity), (0, 0.3), (-0.1, 0.2), (0.25, 0.5)], count: 1,
                               gridWidth: 4, gridHeight: 4, seed: 1)
        #expect(r.anchors == [Anchor(width: 1, height: 2)] && r.meanIoU == 1)
        let none = clusterAnchors(sizes: [], count: 3, gridWidth: 4, gridHeight: 4, seed: 1)
        #expect(none.anchors.isEmpty && none.meanIoU == 0)
        let zero = clusterAnchors(sizes: [(0.1, 0.1)], count: 0, gridWidth: 4, gridHeight: 4, seed: 1)
        #expect(zero.anchors.isEmpty && zero.meanIoU == 0)
    }
}
