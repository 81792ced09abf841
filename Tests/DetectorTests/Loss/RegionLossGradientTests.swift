import Foundation
import Testing
import Detector

/// Central finite differences of every component with respect to every raw output.
///
/// The loss holds two things constant by definition: the objectness targets IoU* (no gradient
/// flows through them) and the no-object mask (which anchors are responsible or overlap a box by
/// more than the threshold). The component checks pass both in fixed, computed at the
/// unperturbed outputs, and assert that the mask recomputed at every perturbed point is the
/// same: each perturbation stays inside the region where the mask does not flip, so the
/// analytic gradient there is the true derivative of the loss, not of a frozen surrogate.
@Suite struct RegionLossGradientTests {
    typealias C = LossCase

    /// A 4 x 4 grid, 2 anchors, 3 classes, non-default weights; three boxes and one
    /// non-responsible anchor planted on the first box (IoU ≈ 0.8: ignored, far from 0.6).
    struct Setup {
        var loss: RegionLoss
        var values: [Float]
        var objects: [LabeledObject]
        var assignments: [RegionLoss.Assignment]
        var targets: [Float]
        var skip: [Bool]
    }

    static func setup(seed: UInt64 = 77) -> Setup {
        let loss = C.small { $0.coordScale = 1.5; $0.objectScale = 5; $0.noObjectScale = 0.7; $0.classScale = 1.3 }
        var rng = SplitMix64(seed: seed)
        var values = (0..<loss.layout.valuesPerImage).map { _ in rng.nextFloat(in: -1.5..<1.5) }
        let objects = [C.object(0, 0.2, 0.3, 0.3, 0.25), C.object(2, 0.7, 0.6, 0.6, 0.4), C.object(1, 0.9, 0.9, 0.1, 0.15)]
        C.plant(&values, loss: loss, column: 0, row: 1, anchor: 1, box: BoundingBox(centerX: 0.21, centerY: 0.3, width: 0.27, height: 0.25),
                objectnessLogit: 0.3)
        let assignments = loss.assignments(for: objects)
        let (targets, skip) = values.withUnsafeBufferPointer { v in
            (loss.objectnessTargets(v, assignments: assignments), loss.noObjectMask(v, objects: objects, assignments: assignments))
        }
        return Setup(loss: loss, values: values, objects: objects, assignments: assignments, targets: targets, skip: skip)
    }

    @Test func setupExercisesTheIgnoreMask() {
        let s = Self.setup()
        #expect(s.assignments.count == 3)
        #expect(s.assignments.map(\.anchor) == [0, 1, 0])
        #expect(s.skip.filter { $0 }.count == 4)                       // 3 responsible + 1 ignored
        #expect(s.skip[s.loss.anchorIndex(column: 0, row: 1, anchor: 1)])
    }

    /// The Swift component itself at outputs ± ε (Float arithmetic, so ε = 1e-2; values of
    /// order 1: the central difference's O(ε²) error and Float rounding stay below 2e-3).
    @Test(arguments: LossCase.Component.allCases)
    func gradientMatchesFiniteDifferences(_ component: LossCase.Component) {
        let s = Self.setup()
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
                    "∂\(component)/∂value[\(k)]: analytic \(analytic.gradient[k]), numeric \(numeric)")
        }
    }

    /// The Double reference of each component (LossCase.reference, from the formulas) gives the
    /// same value as the Swift component, and its central differences (ε = 1e-5, in Double)
    /// match the Swift gradient to 1e-6 + 1e-5·|∂|.
    @Test(arguments: LossCase.Component.allCases)
    func gradientMatchesDoubleReference(_ component: LossCase.Component) {
        let s = Self.setup(seed: 91)
        let analytic = s.values.withUnsafeBufferPointer {
            C.term(s.loss, component, $0, assignments: s.assignments, targets: s.targets, skip: s.skip)
        }
        let base = s.values.map(Double.init)
        func reference(_ v: [Double]) -> Double {
            C.reference(s.loss, component, v, assignments: s.assignments, targets: s.targets, skip: s.skip)
        }
        let value = reference(base)
        #expect(value > 0)
        #expect(abs(Double(analytic.value) - value) < 1e-5 * max(1, value), "\(component): \(analytic.value) vs \(value)")
        let epsilon = 1e-5
        for k in base.indices {
            var plus = base, minus = base
            plus[k] += epsilon; minus[k] -= epsilon
            let numeric = (reference(plus) - reference(minus)) / (2 * epsilon)
            // Absolute 1e-6 plus relative 1e-5: tight enough for the prior's small gradients
            // (0.01 · t), loose enough for Float rounding of gradients of order 10.
            let error = abs(Double(analytic.gradient[k]) - numeric)
            #expect(error < 1e-6 + 1e-5 * abs(numeric), "∂\(component)/∂value[\(k)]: analytic \(analytic.gradient[k]), numeric \(numeric)")
        }
    }

    /// The whole batch: ∂(mean over images)/∂output from `callAsFunction` against central
    /// differences of its total. With rescore off the objectness target is 1, so the total is a
    /// function of the outputs alone once the mask is fixed; the mask is checked not to flip.
    @Test func batchGradientMatchesFiniteDifferencesOfTheTotal() {
        let loss = C.small { $0.rescore = false; $0.warmupImages = 10; $0.classScale = 0.8 }
        let per = loss.layout.valuesPerImage
        var rng = SplitMix64(seed: 12)
        let data = (0..<(2 * per)).map { _ in rng.nextFloat(in: -1.2..<1.2) }
        let targets = [[C.object(0, 0.2, 0.3, 0.3, 0.25), C.object(1, 0.8, 0.8, 0.5, 0.45)], [C.object(2, 0.55, 0.45, 0.15, 0.2)]]
        func masks(_ d: [Float]) -> [[Bool]] {
            (0..<2).map { n in
                Array(d[(n * per)..<((n + 1) * per)]).withUnsafeBufferPointer {
                    loss.noObjectMask($0, objects: targets[n], assignments: loss.assignments(for: targets[n]))
                }
            }
        }
        let baseMasks = masks(data)
        let result = loss(output: Tensor(shape: [2, 4, 4, 16], data: data), targets: targets, imagesSeen: 9)
        #expect(result.components.prior > 0)
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
}
