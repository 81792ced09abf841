import Foundation

/// One component's value for one image and its gradient with respect to every raw head value
/// of that image (same layout as the head; zero where the component does not reach).
public struct LossTerm: Sendable {
    public var value: Float
    public var gradient: [Float]
}

/// The five components of `RegionLoss`, one image each. Every component is a pair: an
/// `accumulate…` function that adds `scale · ∂L/∂t` into a gradient buffer and returns the
/// value L (what a batch uses, without a buffer per component), and a public `…Term` function
/// that returns the value and the gradient on their own (what the tests check one by one).
/// `values` is one image's head output in `HeadLayout` order. The objectness and no-object
/// components have two forms, chosen by `settings.objectnessLoss`: darknet's squared error
/// (`objectnessTerm`, `noObjectTerm`) and the cross-entropy (`objectnessCrossEntropyTerm`,
/// `noObjectCrossEntropyTerm`); `objectnessComponentTerm` and `noObjectComponentTerm` give the
/// one the settings choose.
extension RegionLoss {
    private func term(_ body: (UnsafeMutableBufferPointer<Float>) -> Float) -> LossTerm {
        var gradient = [Float](repeating: 0, count: layout.valuesPerImage)
        let value = gradient.withUnsafeMutableBufferPointer { body($0) }
        return LossTerm(value: value, gradient: gradient)
    }

    // MARK: Coordinates

    /// L_coord = ½ λ_coord (2 − wh) [(σ(t_x) − t̂_x)² + (σ(t_y) − t̂_y)² + (t_w − t̂_w)² + (t_h − t̂_h)²]
    /// over the assignments; ∂/∂t_x = λ_coord (2 − wh) (σ(t_x) − t̂_x) σ(t_x)(1 − σ(t_x)),
    /// ∂/∂t_w = λ_coord (2 − wh) (t_w − t̂_w).
    public func coordinateTerm(_ values: UnsafeBufferPointer<Float>, assignments: [Assignment]) -> LossTerm {
        term { accumulateCoordinates(values, assignments: assignments, into: $0, scale: 1) }
    }

    func accumulateCoordinates(_ values: UnsafeBufferPointer<Float>, assignments: [Assignment],
                               into gradient: UnsafeMutableBufferPointer<Float>, scale: Float) -> Float {
        var loss: Float = 0
        for a in assignments {
            let o = layout.offset(column: a.column, row: a.row, anchor: a.anchor)
            let t = a.targets(layout: layout)
            let weight = settings.coordScale * (2 - a.object.box.width * a.object.box.height)
            let sx = sigmoid(values[o]), sy = sigmoid(values[o + 1])
            let dx = sx - t.x, dy = sy - t.y, dw = values[o + 2] - t.w, dh = values[o + 3] - t.h
            loss += 0.5 * weight * (dx * dx + dy * dy + dw * dw + dh * dh)
            let g = scale * weight
            gradient[o] += g * dx * sx * (1 - sx)
            gradient[o + 1] += g * dy * sy * (1 - sy)
            gradient[o + 2] += g * dw
            gradient[o + 3] += g * dh
        }
        return loss
    }

    // MARK: Objectness

    /// IoU of each assignment's decoded prediction with its box, from the current outputs.
    public func predictionIoUs(_ values: UnsafeBufferPointer<Float>, assignments: [Assignment]) -> [Float] {
        assignments.map { layout.decodedBox(values, column: $0.column, row: $0.row, anchor: $0.anchor).iou(with: $0.object.box) }
    }

    /// The objectness target of each assignment: IoU* (rescore) or 1. A constant for the
    /// gradient: no derivative flows through it into t_x … t_h.
    public func objectnessTargets(_ values: UnsafeBufferPointer<Float>, assignments: [Assignment]) -> [Float] {
        settings.rescore ? predictionIoUs(values, assignments: assignments) : [Float](repeating: 1, count: assignments.count)
    }

    /// L_obj = ½ λ_obj (σ(t_o) − target)² over the assignments;
    /// ∂/∂t_o = λ_obj (σ(t_o) − target) σ(t_o)(1 − σ(t_o)).
    public func objectnessTerm(_ values: UnsafeBufferPointer<Float>, assignments: [Assignment], targets: [Float]) -> LossTerm {
        term { accumulateObjectness(values, assignments: assignments, targets: targets, as: .squaredError, into: $0, scale: 1) }
    }

    /// The objectness component of either form (`objectnessTerm`, `objectnessCrossEntropyTerm`):
    /// one loop over the assignments, the per-anchor formula chosen once.
    func accumulateObjectness(_ values: UnsafeBufferPointer<Float>, assignments: [Assignment], targets: [Float],
                              as form: ObjectnessLoss, into gradient: UnsafeMutableBufferPointer<Float>, scale: Float) -> Float {
        precondition(targets.count == assignments.count, "\(targets.count) objectness targets for \(assignments.count) assignments")
        let element = Self.objectnessElement(form)
        let (weight, gradientWeight) = (settings.objectScale, scale * settings.objectScale)
        var loss: Float = 0
        for (a, target) in zip(assignments, targets) {
            let o = layout.offset(column: a.column, row: a.row, anchor: a.anchor) + 4
            let (value, derivative) = element(values[o], target, weight, gradientWeight)
            loss += value
            gradient[o] += derivative
        }
        return loss
    }

    // MARK: No object

    /// Which anchors the no-object term skips, indexed by `anchorIndex(column:row:anchor:)`: the
    /// responsible ones, and those whose decoded box overlaps some usable ground truth of the
    /// image by IoU > the ignore threshold (IoU equal to the threshold is not skipped). A
    /// constant for the gradient, like IoU*.
    public func noObjectMask(_ values: UnsafeBufferPointer<Float>, objects: [LabeledObject], assignments: [Assignment]) -> [Bool] {
        let boxes = objects.filter(isUsable).map(\.box)
        var skip = [Bool](repeating: false, count: anchorsPerImage)
        if !boxes.isEmpty {
            for row in 0..<layout.gridHeight {
                for column in 0..<layout.gridWidth {
                    for a in layout.anchors.indices {
                        let box = layout.decodedBox(values, column: column, row: row, anchor: a)
                        var best: Float = 0
                        for truth in boxes { best = max(best, box.iou(with: truth)) }
                        if best > settings.ignoreThreshold { skip[anchorIndex(column: column, row: row, anchor: a)] = true }
                    }
                }
            }
        }
        for a in assignments { skip[anchorIndex(column: a.column, row: a.row, anchor: a.anchor)] = true }
        return skip
    }

    /// L_noobj = ½ λ_noobj σ(t_o)² over the anchors not skipped;
    /// ∂/∂t_o = λ_noobj σ(t_o)² (1 − σ(t_o)).
    public func noObjectTerm(_ values: UnsafeBufferPointer<Float>, skip: [Bool]) -> LossTerm {
        term { accumulateNoObject(values, skip: skip, as: .squaredError, into: $0, scale: 1) }
    }

    /// The no-object component of either form (`noObjectTerm`, `noObjectCrossEntropyTerm`): one
    /// loop over the anchors not skipped, the per-anchor formula chosen once.
    func accumulateNoObject(_ values: UnsafeBufferPointer<Float>, skip: [Bool], as form: ObjectnessLoss,
                            into gradient: UnsafeMutableBufferPointer<Float>, scale: Float) -> Float {
        precondition(skip.count == anchorsPerImage, "a mask of \(skip.count) for \(anchorsPerImage) anchors")
        let element = Self.noObjectElement(form)
        let (weight, gradientWeight) = (settings.noObjectScale, scale * settings.noObjectScale)
        var loss: Float = 0
        let stride = layout.valuesPerAnchor
        for k in skip.indices where !skip[k] {
            let o = k * stride + 4
            let (value, derivative) = element(values[o], weight, gradientWeight)
            loss += value
            gradient[o] += derivative
        }
        return loss
    }

    /// One responsible anchor's objectness value and its share of ∂/∂t_o, from the logit
    /// z = t_o, the target, the weight λ = λ_obj and the gradient's weight g = scale · λ_obj,
    /// each in the operation order of its formula (so the sums are those of a loop written
    /// per form):
    /// - squared error: ½ λ (σ − target)², g (σ − target) σ (1 − σ);
    /// - cross-entropy: λ (softplus(z) − target · z), g (σ − target).
    static func objectnessElement(_ form: ObjectnessLoss)
        -> (_ z: Float, _ target: Float, _ weight: Float, _ gradientWeight: Float) -> (value: Float, derivative: Float) {
        switch form {
        case .squaredError:
            return { z, target, weight, gradientWeight in
                let s = sigmoid(z)
                return (0.5 * weight * (s - target) * (s - target), gradientWeight * (s - target) * s * (1 - s))
            }
        case .crossEntropy:
            return { z, target, weight, gradientWeight in
                (weight * (softplus(z) - target * z), gradientWeight * (sigmoid(z) - target))
            }
        }
    }

    /// One no-object anchor's value and its share of ∂/∂t_o, from z = t_o, λ = λ_noobj and
    /// g = scale · λ_noobj, in the operation order of its formula:
    /// - squared error: ½ λ σ², g σ² (1 − σ);
    /// - cross-entropy: λ softplus(z), g σ.
    static func noObjectElement(_ form: ObjectnessLoss)
        -> (_ z: Float, _ weight: Float, _ gradientWeight: Float) -> (value: Float, derivative: Float) {
        switch form {
        case .squaredError:
            return { z, weight, gradientWeight in
                let s = sigmoid(z)
                return (0.5 * weight * s * s, gradientWeight * s * s * (1 - s))
            }
        case .crossEntropy:
            return { z, weight, gradientWeight in (weight * softplus(z), gradientWeight * sigmoid(z)) }
        }
    }

    /// The objectness component the settings choose (`objectnessTerm` or `objectnessCrossEntropyTerm`).
    public func objectnessComponentTerm(_ values: UnsafeBufferPointer<Float>, assignments: [Assignment], targets: [Float]) -> LossTerm {
        term { accumulateObjectness(values, assignments: assignments, targets: targets, as: settings.objectnessLoss, into: $0, scale: 1) }
    }

    /// The no-object component the settings choose (`noObjectTerm` or `noObjectCrossEntropyTerm`).
    public func noObjectComponentTerm(_ values: UnsafeBufferPointer<Float>, skip: [Bool]) -> LossTerm {
        term { accumulateNoObject(values, skip: skip, as: settings.objectnessLoss, into: $0, scale: 1) }
    }

    // MARK: Objectness and no object as cross-entropy (objectnessLoss = .crossEntropy)

    /// L_obj = λ_obj Σ BCE(σ(t_o), target) = λ_obj Σ [softplus(t_o) − target · t_o] over the
    /// assignments (the targets as for `objectnessTerm`: IoU* or 1, constants);
    /// ∂/∂t_o = λ_obj (σ(t_o) − target). The YOLOv3+ objectness loss. Unlike the squared error
    /// on σ, whose gradient λ (σ − target) σ(1 − σ) vanishes when σ saturates, a responsible
    /// anchor whose objectness the no-object term has pushed to σ ≈ 0 still gets a pull of
    /// about λ_obj · target. Its minimum over t_o is the entropy of the target, not 0 (0 only
    /// for the targets 0 and 1), as PyTorch's `binary_cross_entropy_with_logits` reports it.
    public func objectnessCrossEntropyTerm(_ values: UnsafeBufferPointer<Float>, assignments: [Assignment], targets: [Float]) -> LossTerm {
        term { accumulateObjectness(values, assignments: assignments, targets: targets, as: .crossEntropy, into: $0, scale: 1) }
    }

    /// L_noobj = λ_noobj Σ BCE(σ(t_o), 0) = λ_noobj Σ softplus(t_o) = λ_noobj Σ −ln(1 − σ(t_o))
    /// over the anchors not skipped (the mask of `noObjectMask`); ∂/∂t_o = λ_noobj σ(t_o).
    public func noObjectCrossEntropyTerm(_ values: UnsafeBufferPointer<Float>, skip: [Bool]) -> LossTerm {
        term { accumulateNoObject(values, skip: skip, as: .crossEntropy, into: $0, scale: 1) }
    }

    // MARK: Classes

    /// L_cls = λ_cls (−ln p_k), p = softmax(z), over the assignments; ∂/∂z_m = λ_cls (p_m − 1[m = k]).
    /// −ln p_k is computed as ln Σ e^{z − max z} − (z_k − max z) from `softmax`'s normaliser,
    /// finite for any finite logits.
    public func classTerm(_ values: UnsafeBufferPointer<Float>, assignments: [Assignment]) -> LossTerm {
        term { accumulateClasses(values, assignments: assignments, into: $0, scale: 1) }
    }

    func accumulateClasses(_ values: UnsafeBufferPointer<Float>, assignments: [Assignment],
                           into gradient: UnsafeMutableBufferPointer<Float>, scale: Float) -> Float {
        let c = layout.classCount
        guard c > 0 else { return 0 }
        return withUnsafeTemporaryAllocation(of: Float.self, capacity: c) { p in
            var loss: Float = 0
            for a in assignments {
                let o = layout.offset(column: a.column, row: a.row, anchor: a.anchor) + 5
                let k = a.object.classIndex
                let (largest, sum) = softmax(UnsafeBufferPointer(rebasing: values[o..<(o + c)]), into: p)
                loss += settings.classScale * (Foundation.log(sum) - (values[o + k] - largest))
                let g = scale * settings.classScale
                for m in 0..<c { gradient[o + m] += g * (p[m] - (m == k ? 1 : 0)) }
            }
            return loss
        }
    }

    // MARK: Warm-up prior

    /// L_prior = ½ · 0.01 · [(σ(t_x) − ½)² + (σ(t_y) − ½)² + t_w² + t_h²] over all anchors while
    /// `imagesSeen < settings.warmupImages`, else zero (and no gradient).
    public func priorTerm(_ values: UnsafeBufferPointer<Float>, imagesSeen: Int) -> LossTerm {
        term { accumulatePrior(values, imagesSeen: imagesSeen, into: $0, scale: 1) }
    }

    func accumulatePrior(_ values: UnsafeBufferPointer<Float>, imagesSeen: Int,
                         into gradient: UnsafeMutableBufferPointer<Float>, scale: Float) -> Float {
        guard imagesSeen < settings.warmupImages else { return 0 }
        let weight = RegionLoss.priorScale
        let g = scale * weight
        var loss: Float = 0
        let stride = layout.valuesPerAnchor
        for k in 0..<anchorsPerImage {
            let o = k * stride
            let sx = sigmoid(values[o]), sy = sigmoid(values[o + 1])
            let dx = sx - 0.5, dy = sy - 0.5, tw = values[o + 2], th = values[o + 3]
            loss += 0.5 * weight * (dx * dx + dy * dy + tw * tw + th * th)
            gradient[o] += g * dx * sx * (1 - sx)
            gradient[o + 1] += g * dy * sy * (1 - sy)
            gradient[o + 2] += g * tw
            gradient[o + 3] += g * th
        }
        return loss
    }
}
