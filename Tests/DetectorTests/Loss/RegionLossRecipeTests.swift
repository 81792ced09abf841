import Foundation
import Testing
@testable import Detector

/// The training-recipe options of the loss: more than one responsible anchor per box
/// (`assign: "multi"`) and the cross-entropy objectness (`objectness_loss: "bce"`). Each is a
/// component with its own function, checked on hand cases and by finite differences here, and
/// against the PyTorch reference in `RegionLossTests.matchesIndependentPyTorchImplementation`.
/// The defaults stay darknet's.
@Suite struct RegionLossRecipeTests {
    typealias C = LossCase

    /// A 4 x 4 grid, anchors 1x1, 1.5x1.2 and 3x2.5 cells, 2 classes.
    static func three(_ configure: (inout RegionLossSettings) -> Void = { _ in }) -> RegionLoss {
        var settings = RegionLossSettings()
        configure(&settings)
        return RegionLoss(settings: settings, layout: HeadLayout(
            gridWidth: 4, gridHeight: 4,
            anchors: [Anchor(width: 1, height: 1), Anchor(width: 1.5, height: 1.2), Anchor(width: 3, height: 2.5)], classCount: 2))
    }

    /// A box of 1.3 x 1.1 cells: shape IoU 1/1.43 = 0.699 with anchor 0, 1.43/1.8 = 0.794 with
    /// anchor 1, 1.43/7.5 = 0.191 with anchor 2.
    static let (boxWidth, boxHeight): (Float, Float) = (1.3 / 4, 1.1 / 4)

    @Test func defaultsAreDarknets() {
        let s = RegionLossSettings()
        #expect(s.assignment == .best && s.objectnessLoss == .squaredError && s.multiAnchorThreshold == 0.5)
        #expect(s.invalidSetting == nil)
    }

    // MARK: Responsible anchors

    @Test func anchorShapeIoUByHand() {
        let loss = Self.three()
        let expected: [Float] = [1 / 1.43, 1.43 / 1.8, 1.43 / 7.5]
        for (k, e) in expected.enumerated() {
            #expect(abs(loss.anchorShapeIoU(width: Self.boxWidth, height: Self.boxHeight, anchor: k) - e) < 1e-6)
        }
    }

    /// `.best` is the one best anchor whatever the threshold; `.multi` adds, after it and in
    /// anchor order, every anchor with shape IoU above the threshold; the best one is always in.
    @Test(arguments: [(AnchorAssignment.best, Float(0.1), [1]), (.multi, 0.5, [1, 0]), (.multi, 0.75, [1]),
                      (.multi, 0.1, [1, 0, 2]), (.multi, 0, [1, 0, 2]), (.multi, 1, [1]), (.multi, 0.9, [1])])
    func responsibleAnchors(_ assignment: AnchorAssignment, _ threshold: Float, _ expected: [Int]) {
        let loss = Self.three { $0.assignment = assignment; $0.multiAnchorThreshold = threshold }
        #expect(loss.responsibleAnchors(width: Self.boxWidth, height: Self.boxHeight) == expected)
    }

    /// The threshold is strict: an IoU equal to it is not enough, the next Float below it is.
    @Test func multiAnchorThresholdIsStrict() {
        let iou = Self.three().anchorShapeIoU(width: Self.boxWidth, height: Self.boxHeight, anchor: 0)
        let at = Self.three { $0.assignment = .multi; $0.multiAnchorThreshold = iou }
        let below = Self.three { $0.assignment = .multi; $0.multiAnchorThreshold = iou.nextDown }
        #expect(at.responsibleAnchors(width: Self.boxWidth, height: Self.boxHeight) == [1])
        #expect(below.responsibleAnchors(width: Self.boxWidth, height: Self.boxHeight) == [1, 0])
    }

    /// One box, two responsible anchors in its cell: each with the targets of its own prior,
    /// which decode back to the box.
    @Test func multiAssignmentTargetsUseEachAnchorsPrior() {
        let loss = Self.three { $0.assignment = .multi }
        let l = loss.layout
        let a = loss.assignments(for: [C.object(1, 0.61, 0.37, Self.boxWidth, Self.boxHeight)])
        #expect(a.map { [$0.column, $0.row, $0.anchor] } == [[2, 1, 1], [2, 1, 0]])
        for assignment in a {
            let t = assignment.targets(layout: l)
            #expect(abs(l.anchors[assignment.anchor].width * exp(t.w) / 4 - Self.boxWidth) < 1e-6)
            #expect(abs(l.anchors[assignment.anchor].height * exp(t.h) / 4 - Self.boxHeight) < 1e-6)
            #expect(abs((2 + t.x) / 4 - 0.61) < 1e-6 && abs((1 + t.y) / 4 - 0.37) < 1e-6)
        }
        #expect(abs(a[0].targets(layout: l).w - log(1.3 / 1.5)) < 1e-6 && abs(a[1].targets(layout: l).w - log(1.3)) < 1e-6)
    }

    /// A later box takes over an earlier box's anchors in the same cell, its best one included.
    /// Box A: anchors [1, 0]; box B (0.9 x 0.9 cells: IoU 0.81 with anchor 0, 0.45 with 1).
    @Test func multiAssignmentTheLaterBoxWins() {
        let boxA = C.object(0, 0.30, 0.40, Self.boxWidth, Self.boxHeight), boxB = C.object(1, 0.33, 0.45, 0.225, 0.225)
        // Threshold 0.4: B's anchors are [0, 1], so both of A's are replaced and A is gone.
        let taken = Self.three { $0.assignment = .multi; $0.multiAnchorThreshold = 0.4 }.assignments(for: [boxA, boxB])
        #expect(taken.map(\.object) == [boxB, boxB] && taken.map(\.anchor) == [0, 1])
        // Threshold 0.5: B has anchor 0 only, so A keeps its best, anchor 1.
        let kept = Self.three { $0.assignment = .multi; $0.multiAnchorThreshold = 0.5 }.assignments(for: [boxA, boxB])
        #expect(kept.map(\.object) == [boxA, boxB] && kept.map(\.anchor) == [1, 0])
        // Darknet's best-anchor assignment of the same boxes: A on 1, B on 0.
        #expect(Self.three().assignments(for: [boxA, boxB]).map(\.anchor) == [1, 0])
    }

    /// With threshold 1 no other anchor qualifies, so `.multi` is `.best` exactly: same
    /// components, gradient and statistics on random outputs.
    @Test func multiWithThresholdOneIsBest() {
        var rng = SplitMix64(seed: 21)
        let per = Self.three().layout.valuesPerImage
        let data = (0..<(2 * per)).map { _ in rng.nextFloat(in: -2..<2) }
        let targets = [[C.object(0, 0.2, 0.3, 0.3, 0.25), C.object(1, 0.7, 0.6, 0.6, 0.5), C.object(0, 0.71, 0.62, 0.2, 0.2)],
                       [C.object(1, 0.5, 0.5, Self.boxWidth, Self.boxHeight)]]
        let output = Tensor(shape: [2, 4, 4, 21], data: data)
        let best = Self.three()(output: output, targets: targets, imagesSeen: 0)
        let multi = Self.three { $0.assignment = .multi; $0.multiAnchorThreshold = 1 }(output: output, targets: targets, imagesSeen: 0)
        #expect(best.components == multi.components && best.gradient == multi.gradient && best.statistics == multi.statistics)
        // And a low threshold does change it (the options are live).
        let many = Self.three { $0.assignment = .multi; $0.multiAnchorThreshold = 0.3 }(output: output, targets: targets, imagesSeen: 0)
        #expect(many.statistics.count > best.statistics.count && many.components != best.components)
    }

    /// Every responsible anchor is out of the no-object term; the others are not.
    @Test func multiAssignmentMasksEveryResponsibleAnchor() {
        let loss = Self.three { $0.assignment = .multi }
        let objects = [C.object(1, 0.61, 0.37, Self.boxWidth, Self.boxHeight)]
        let values = [Float](repeating: -30, count: loss.layout.valuesPerImage)   // tiny decoded boxes: nothing ignored
        let skip = values.withUnsafeBufferPointer { loss.noObjectMask($0, objects: objects, assignments: loss.assignments(for: objects)) }
        #expect(skip.enumerated().filter(\.element).map(\.offset)
                == [loss.anchorIndex(column: 2, row: 1, anchor: 0), loss.anchorIndex(column: 2, row: 1, anchor: 1)])
    }

    // MARK: Cross-entropy objectness

    /// t_o = 0 (σ = ½) with target 1: λ ln 2, ∂ = λ(½ − 1); at σ = target the gradient vanishes
    /// and the value is λ times the target's entropy.
    @Test func objectnessCrossEntropyByHand() {
        let loss = C.small { $0.objectnessLoss = .crossEntropy; $0.objectScale = 5 }
        let a = loss.assignments(for: [C.object(0, 0.3, 0.3, 0.2, 0.2)])
        let o = loss.layout.offset(column: 1, row: 1, anchor: 0) + 4
        var values = [Float](repeating: 0, count: loss.layout.valuesPerImage)
        values.withUnsafeBufferPointer { v in
            let term = loss.objectnessCrossEntropyTerm(v, assignments: a, targets: [1])
            #expect(abs(term.value - 5 * log(2)) < 1e-6)
            #expect(abs(term.gradient[o] - 5 * (0.5 - 1)) < 1e-6)
            #expect(term.gradient.enumerated().allSatisfy { $0.offset == o || $0.element == 0 })
        }
        values[o] = C.logit(0.7)
        values.withUnsafeBufferPointer { v in
            let term = loss.objectnessCrossEntropyTerm(v, assignments: a, targets: [0.7])
            let entropy: Float = -(0.7 * log(0.7) + 0.3 * log(0.3))
            #expect(abs(term.value - 5 * entropy) < 1e-5)
            #expect(abs(term.gradient[o]) < 1e-6)
        }
    }

    /// A responsible anchor pushed to σ ≈ 0 (t_o = −30): the squared error's gradient has
    /// vanished (λ(σ − 1)σ(1 − σ) ≈ −5e-13), the cross-entropy's is still −λ.
    @Test func crossEntropyObjectnessDoesNotVanishWhenSaturated() {
        let mse = C.small(), bce = C.small { $0.objectnessLoss = .crossEntropy }
        let a = mse.assignments(for: [C.object(0, 0.3, 0.3, 0.2, 0.2)])
        let o = mse.layout.offset(column: 1, row: 1, anchor: 0) + 4
        var values = [Float](repeating: 0, count: mse.layout.valuesPerImage)
        values[o] = -30
        values.withUnsafeBufferPointer { v in
            #expect(abs(mse.objectnessTerm(v, assignments: a, targets: [1]).gradient[o]) < 1e-11)
            let term = bce.objectnessCrossEntropyTerm(v, assignments: a, targets: [1])
            #expect(abs(term.gradient[o] + 5) < 1e-6)
            #expect(abs(term.value - 5 * 30) < 1e-4)   // −ln σ(−30) = 30 + ln(1 + e^{−30})
        }
    }

    /// λ_noobj softplus(t_o) and ∂ = λ_noobj σ(t_o); finite and exact at large |t_o|.
    @Test(arguments: [(Float(0), Float(log(2.0)), Float(0.5)), (30, 30, 1), (-80, 0, 0), (2, 2.126928, 0.880797)])
    func noObjectCrossEntropyByHand(_ logit: Float, _ value: Float, _ derivative: Float) {
        let loss = C.small { $0.objectnessLoss = .crossEntropy; $0.noObjectScale = 0.5 }
        var values = [Float](repeating: 0, count: loss.layout.valuesPerImage)
        let o = loss.layout.offset(column: 3, row: 2, anchor: 1) + 4
        values[o] = logit
        var skip = [Bool](repeating: true, count: 32)
        skip[loss.anchorIndex(column: 3, row: 2, anchor: 1)] = false
        values.withUnsafeBufferPointer { v in
            let term = loss.noObjectCrossEntropyTerm(v, skip: skip)
            #expect(term.value.isFinite && abs(term.value - 0.5 * value) < 1e-5 * max(1, value))
            #expect(abs(term.gradient[o] - 0.5 * derivative) < 1e-6)
        }
    }

    /// Through the batch: an image without boxes has no-object loss λ Σ softplus(t_o) over all
    /// anchors, and gradient λ σ(t_o) on the objectness channels only; the chosen form is the
    /// one `noObjectComponentTerm` gives.
    @Test func crossEntropyThroughTheBatch() {
        let loss = C.small { $0.objectnessLoss = .crossEntropy; $0.noObjectScale = 0.7 }
        let values = (0..<256).map { Float($0 % 5) * 0.3 - 0.6 }
        let result = loss(output: Tensor(shape: [1, 4, 4, 16], data: values), targets: [[]], imagesSeen: 1 << 40)
        let expected = stride(from: 4, to: 256, by: 8).map { 0.7 * C.softplus(Double(values[$0])) }.reduce(0, +)
        #expect(abs(Double(result.components.noObject) - expected) < 1e-5)
        #expect(result.total == result.components.noObject)
        for k in 0..<256 {
            let want: Float = k % 8 == 4 ? 0.7 * (1 / (1 + exp(-values[k]))) : 0
            #expect(abs(result.gradient.data[k] - want) < 1e-6)
        }
        values.withUnsafeBufferPointer { v in
            let skip = [Bool](repeating: false, count: 32)
            #expect(loss.noObjectComponentTerm(v, skip: skip).value == loss.noObjectCrossEntropyTerm(v, skip: skip).value)
            #expect(C.small().noObjectComponentTerm(v, skip: skip).value == C.small().noObjectTerm(v, skip: skip).value)
        }
    }

    // MARK: Finite differences of every component under each option

    enum Variant: String, CaseIterable, Sendable {
        case multi, crossEntropy, both
        func configure(_ s: inout RegionLossSettings) {
            s.coordScale = 1.5; s.objectScale = 5; s.noObjectScale = 0.7; s.classScale = 1.3
            if self != .crossEntropy { s.assignment = .multi; s.multiAnchorThreshold = 0.15 }
            if self != .multi { s.objectnessLoss = .crossEntropy }
        }
    }

    /// `RegionLossGradientTests.setup`'s boxes on the 2-anchor grid, with the option on: with
    /// multi-assignment (threshold 0.15) boxes 0 and 1 get both anchors (shape IoUs 0.83/0.20
    /// and 0.26/0.64), box 2 one (0.24/0.04); an anchor of the next cell is planted on box 1
    /// (IoU ≈ 0.81, ignored).
    static func setup(_ variant: Variant, seed: UInt64) -> RegionLossGradientTests.Setup {
        let loss = C.small(variant.configure)
        var rng = SplitMix64(seed: seed)
        var values = (0..<loss.layout.valuesPerImage).map { _ in rng.nextFloat(in: -1.5..<1.5) }
        let objects = [C.object(0, 0.2, 0.3, 0.3, 0.25), C.object(2, 0.7, 0.6, 0.6, 0.4), C.object(1, 0.9, 0.9, 0.1, 0.15)]
        C.plant(&values, loss: loss, column: 3, row: 2, anchor: 1, box: BoundingBox(centerX: 0.76, centerY: 0.6, width: 0.55, height: 0.4),
                objectnessLogit: 0.3)
        let assignments = loss.assignments(for: objects)
        let (targets, skip) = values.withUnsafeBufferPointer { v in
            (loss.objectnessTargets(v, assignments: assignments), loss.noObjectMask(v, objects: objects, assignments: assignments))
        }
        return .init(loss: loss, values: values, objects: objects, assignments: assignments, targets: targets, skip: skip)
    }

    @Test(arguments: Variant.allCases)
    func setupExercisesTheOption(_ variant: Variant) {
        let s = Self.setup(variant, seed: 77)
        #expect(s.assignments.count == (variant == .crossEntropy ? 3 : 5))
        #expect(s.skip[s.loss.anchorIndex(column: 3, row: 2, anchor: 1)])             // ignored
        #expect(s.skip.filter { $0 }.count == s.assignments.count + 1)
    }

    /// The Swift component at outputs ± ε (Float, ε = 1e-2), the mask checked not to flip.
    @Test(arguments: Variant.allCases, LossCase.Component.allCases)
    func gradientMatchesFiniteDifferences(_ variant: Variant, _ component: LossCase.Component) {
        let s = Self.setup(variant, seed: 77)
        let analytic = s.values.withUnsafeBufferPointer {
            C.term(s.loss, component, $0, assignments: s.assignments, targets: s.targets, skip: s.skip)
        }
        #expect(analytic.gradient.contains { $0 != 0 })
        let epsilon: Float = 1e-2
        for k in s.values.indices {
            var plus = s.values, minus = s.values
            plus[k] += epsilon; minus[k] -= epsilon
            func value(_ v: [Float]) -> Double {
                v.withUnsafeBufferPointer { p in
                    #expect(s.loss.noObjectMask(p, objects: s.objects, assignments: s.assignments) == s.skip,
                            "the ignore mask flips at value[\(k)] ± ε")
                    return Double(C.term(s.loss, component, p, assignments: s.assignments, targets: s.targets, skip: s.skip).value)
                }
            }
            let numeric = (value(plus) - value(minus)) / Double(2 * epsilon)
            #expect(abs(Double(analytic.gradient[k]) - numeric) < 2e-3 * max(1, abs(numeric)),
                    "\(variant) ∂\(component)/∂value[\(k)]: analytic \(analytic.gradient[k]), numeric \(numeric)")
        }
    }

    /// The Double reference (`LossCase.reference`, from the formulas) gives the Swift value, and
    /// its central differences (ε = 1e-5) the Swift gradient.
    @Test(arguments: Variant.allCases, LossCase.Component.allCases)
    func gradientMatchesDoubleReference(_ variant: Variant, _ component: LossCase.Component) {
        let s = Self.setup(variant, seed: 91)
        let analytic = s.values.withUnsafeBufferPointer {
            C.term(s.loss, component, $0, assignments: s.assignments, targets: s.targets, skip: s.skip)
        }
        let base = s.values.map(Double.init)
        func reference(_ v: [Double]) -> Double {
            C.reference(s.loss, component, v, assignments: s.assignments, targets: s.targets, skip: s.skip)
        }
        let value = reference(base)
        #expect(value > 0)
        #expect(abs(Double(analytic.value) - value) < 1e-5 * max(1, value), "\(variant) \(component): \(analytic.value) vs \(value)")
        let epsilon = 1e-5
        for k in base.indices {
            var plus = base, minus = base
            plus[k] += epsilon; minus[k] -= epsilon
            let numeric = (reference(plus) - reference(minus)) / (2 * epsilon)
            let error = abs(Double(analytic.gradient[k]) - numeric)
            #expect(error < 1e-6 + 1e-5 * abs(numeric), "\(variant) ∂\(component)/∂value[\(k)]: analytic \(analytic.gradient[k]), numeric \(numeric)")
        }
    }

    /// The whole batch with both options and rescore off (the total is then a function of the
    /// outputs once the mask is fixed): ∂(batch mean)/∂output against central differences.
    @Test func batchGradientWithBothOptions() {
        let loss = C.small { Variant.both.configure(&$0); $0.rescore = false; $0.warmupImages = 10 }
        let per = loss.layout.valuesPerImage
        var rng = SplitMix64(seed: 12)
        let data = (0..<(2 * per)).map { _ in rng.nextFloat(in: -1.2..<1.2) }
        let targets = [[C.object(0, 0.2, 0.3, 0.3, 0.25), C.object(1, 0.8, 0.8, 0.5, 0.45)], [C.object(2, 0.55, 0.45, 0.15, 0.2)]]
        #expect(loss.assignments(for: targets[0]).count == 4)
        func masks(_ d: [Float]) -> [[Bool]] {
            (0..<2).map { n in
                Array(d[(n * per)..<((n + 1) * per)]).withUnsafeBufferPointer {
                    loss.noObjectMask($0, objects: targets[n], assignments: loss.assignments(for: targets[n]))
                }
            }
        }
        let baseMasks = masks(data)
        let result = loss(output: Tensor(shape: [2, 4, 4, 16], data: data), targets: targets, imagesSeen: 9)
        let epsilon: Float = 1e-2
        for k in data.indices {
            var plus = data, minus = data
            plus[k] += epsilon; minus[k] -= epsilon
            #expect(masks(plus) == baseMasks && masks(minus) == baseMasks, "the mask flips at output[\(k)] ± ε")
            let lp = loss(output: Tensor(shape: [2, 4, 4, 16], data: plus), targets: targets, imagesSeen: 9).total
            let lm = loss(output: Tensor(shape: [2, 4, 4, 16], data: minus), targets: targets, imagesSeen: 9).total
            let numeric = (Double(lp) - Double(lm)) / Double(2 * epsilon)
            #expect(abs(Double(result.gradient.data[k]) - numeric) < 2e-3 * max(1, abs(numeric)),
                    "∂total/∂output[\(k)]: analytic \(result.gradient.data[k]), numeric \(numeric)")
        }
    }

    // MARK: Settings

    @Test func recipeSettingsAreValidated() throws {
        for bad: Float in [.nan, -0.01, 1.01, .infinity] {
            var s = RegionLossSettings()
            s.multiAnchorThreshold = bad
            #expect(s.invalidSetting?.key == "multi_anchor_threshold", "\(bad)")
        }
        for edge: Float in [0, 1] {
            var s = RegionLossSettings()
            s.multiAnchorThreshold = edge
            #expect(s.invalidSetting == nil)
        }
        // The Codable path: the choices by name, bad names and ranges refused naming the key.
        let decoded = try JSONDecoder().decode(RegionLossSettings.self, from: Data(
            #"{"assign": "multi", "multi_anchor_threshold": 0.3, "objectness_loss": "bce"}"#.utf8))
        #expect(decoded.assignment == .multi && decoded.multiAnchorThreshold == 0.3 && decoded.objectnessLoss == .crossEntropy)
        for (text, key) in [(#"{"assign": "all"}"#, "assign"), (#"{"objectness_loss": "focal"}"#, "objectness_loss"),
                            (#"{"multi_anchor_threshold": 2}"#, "multi_anchor_threshold")] {
            let error = try #require(throws: DecodingError.self) { try JSONDecoder().decode(RegionLossSettings.self, from: Data(text.utf8)) }
            #expect("\(error)".contains(key), "\(text): \(error)")
        }
        // Encoded and decoded back, the same settings.
        var s = RegionLossSettings()
        s.assignment = .multi; s.objectnessLoss = .crossEntropy; s.multiAnchorThreshold = 0.25
        #expect(try JSONDecoder().decode(RegionLossSettings.self, from: JSONEncoder().encode(s)) == s)
    }

    /// What `ModelConfig` will call: the recipe keys from a config's "loss" object, errors
    /// naming `loss.<key>`, and the JSON written only for values other than the defaults.
    @Test func recipeKeysFromConfigJSON() throws {
        #expect(RegionLossSettings.keys.isDisjoint(with: RegionLossSettings.recipeKeys))
        #expect(RegionLossSettings.recipeKeys == ["assign", "multi_anchor_threshold", "objectness_loss"])
        var s = RegionLossSettings()
        try s.readRecipeKeys(from: [:], source: "x.json")
        #expect(s == RegionLossSettings())
        #expect(s.recipeJSON.isEmpty)
        try s.readRecipeKeys(from: ["assign": .string("multi"), "multi_anchor_threshold": .number(0.35),
                                    "objectness_loss": .string("bce")], source: "x.json")
        #expect(s.assignment == .multi && s.multiAnchorThreshold == 0.35 && s.objectnessLoss == .crossEntropy)
        #expect(s.recipeJSON == ["assign": .string("multi"), "multi_anchor_threshold": .number(0.35), "objectness_loss": .string("bce")])
        var back = RegionLossSettings()
        try back.readRecipeKeys(from: s.recipeJSON, source: "x.json")
        #expect(back == s)
        let refused: [(String, JSONValue)] = [("assign", .string("every")), ("assign", .number(1)), ("objectness_loss", .bool(true)),
                                              ("multi_anchor_threshold", .number(1.5)), ("multi_anchor_threshold", .number(1e39)),
                                              ("multi_anchor_threshold", .string("0.5"))]
        for (key, value) in refused {
            var t = RegionLossSettings()
            let error = try #require(throws: ConfigError.self) { try t.readRecipeKeys(from: [key: value], source: "x.json") }
            #expect(error.field == "loss.\(key)" && error.source == "x.json", "\(key): \(value)")
        }
    }
}
