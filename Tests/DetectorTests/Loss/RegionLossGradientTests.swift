import Foundation
import Testing
import Detector

/// Central finite differences of every component with respect to every raw output, in Double
/// (the loss is evaluated in Float, so ε is kept large enough: 1e-2, values of order 1). The
/// IoU* targets and the ignore mask are held fixed at the unperturbed values, as the loss
/// defines them (constants, no gradient).
@Suite struct RegionLossGradientTests {
    enum Component: String, CaseIterable { case coordinates, objectness, noObject, classification, prior }

    func term(_ loss: RegionLoss, _ c: Component, _ v: UnsafeBufferPointer<Float>, objects: [LabeledObject],
              targets: [Float], skip: [Bool]) -> LossTerm {
        let a = loss.assignments(for: objects)
        switch c {
        case .coordinates: return loss.coordinateTerm(v, assignments: a)
        case .objectness: return loss.objectnessTerm(v, assignments: a, targets: targets)
        case .noObject: return loss.noObjectTerm(v, skip: skip)
        case .classification: return loss.classTerm(v, assignments: a)
        case .prior: return loss.priorTerm(v, imagesSeen: 0)
        }
    }

    @Test(arguments: Component.allCases)
    func gradientMatchesFiniteDifferences(_ component: Component) {
        let loss = smallLoss { $0.coordScale = 1.5; $0.objectScale = 5; $0.noObjectScale = 0.7; $0.classScale = 1.3 }
        var rng = SplitMix64(seed: 77)
        let values = (0..<loss.layout.valuesPerImage).map { _ in rng.nextFloat(in: -1.5..<1.5) }
        let objects = [object(0, 0.2, 0.3, 0.3, 0.25), object(2, 0.7, 0.6, 0.6, 0.4), object(1, 0.9, 0.9, 0.1, 0.15)]
        let assigned = loss.assignments(for: objects)
        let (targets, skip) = values.withUnsafeBufferPointer { v in
            (loss.objectnessTargets(v, assignments: assigned), loss.noObjectMask(v, objects: objects, assignments: assigned))
        }
        let analytic = values.withUnsafeBufferPointer { term(loss, component, $0, objects: objects, targets: targets, skip: skip) }
        #expect(analytic.gradient.contains { $0 != 0 })
        let epsilon: Float = 1e-2
        for k in values.indices {
            var plus = values, minus = values
            plus[k] += epsilon; minus[k] -= epsilon
            let lp = plus.withUnsafeBufferPointer { term(loss, component, $0, objects: objects, targets: targets, skip: skip).value }
            let lm = minus.withUnsafeBufferPointer { term(loss, component, $0, objects: objects, targets: targets, skip: skip).value }
            let numeric = (Double(lp) - Double(lm)) / Double(2 * epsilon)
            let error = abs(Double(analytic.gradient[k]) - numeric)
            #expect(error < 2e-3 * max(1, abs(numeric)), "∂\(component)/∂value[\(k)]: analytic \(analytic.gradient[k]), numeric \(numeric)")
        }
    }

    /// The batch gradient is the mean of the per-image gradients.
    @Test func batchGradientIsMeanOverImages() {
        let loss = smallLoss()
        var rng = SplitMix64(seed: 5)
        let per = loss.layout.valuesPerImage
        let data = (0..<(2 * per)).map { _ in rng.nextFloat(in: -1..<1) }
        let targets = [[object(0, 0.2, 0.2, 0.3, 0.3)], [object(1, 0.6, 0.6, 0.4, 0.2)]]
        let both = loss(output: Tensor(shape: [2, 4, 4, 16], data: data), targets: targets, imagesSeen: 0)
        let first = loss(output: Tensor(shape: [1, 4, 4, 16], data: Array(data[..<per])), targets: [targets[0]], imagesSeen: 0)
        let second = loss(output: Tensor(shape: [1, 4, 4, 16], data: Array(data[per...])), targets: [targets[1]], imagesSeen: 1)
        #expect(abs(both.total - (first.total + second.total) / 2) < 1e-5)
        for k in 0..<per { #expect(abs(both.gradient.data[k] - first.gradient.data[k] / 2) < 1e-7) }
    }
}
