import Testing
import Detector

@Suite struct ActivationTests {
    /// Hand-computed values of each activation, and its slope read from the output.
    @Test func valuesAndSlopes() {
        #expect(Activation.leaky.apply(-2) == -0.2 && Activation.leaky.apply(3) == 3)
        #expect(Activation.relu.apply(-2) == 0 && Activation.relu.apply(3) == 3)
        #expect(Activation.relu6.apply(7) == 6 && Activation.relu6.apply(-1) == 0 && Activation.relu6.apply(2.5) == 2.5)
        #expect(Activation.linear.apply(-2) == -2)
        #expect(Activation.leaky.derivative(output: -0.2) == 0.1 && Activation.leaky.derivative(output: 3) == 1)
        #expect(Activation.relu6.derivative(output: 6) == 0 && Activation.relu6.derivative(output: 5.9) == 1)
    }

    @Test(arguments: Activation.allCases)
    func backwardMatchesFiniteDifferences(_ activation: Activation) {
        let layer = ActivationLayer(name: "act", input: FeatureShape(height: 2, width: 3, channels: 4), activation: activation)
        // Values in [−8, 8) kept at least 0.05 away from the kinks at 0 and 6.
        let input = randomValues(2 * 24, seed: 41, range: -8..<8).map { x -> Float in
            var x = x
            if abs(x) < 0.05 { x += 0.1 }
            if abs(x - 6) < 0.05 { x += 0.1 }
            return x
        }
        GradientCheck(epsilon: 1e-2).check(layer, input: input, batch: 2)
    }
}

@Suite struct RouteTests {
    /// Two 1x2 images of 2 and 1 channels, concatenated per pixel.
    @Test func concatenationInterleavesChannelsPerPixel() {
        let route = Route(name: "r", kind: .concatenate,
                          inputShapes: [FeatureShape(height: 1, width: 2, channels: 2), FeatureShape(height: 1, width: 2, channels: 1)])
        #expect(route.outputShape == FeatureShape(height: 1, width: 2, channels: 3))
        let a: [Float] = [1, 2, 3, 4], b: [Float] = [10, 20]
        var out = [Float](repeating: 0, count: 6)
        a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in out.withUnsafeMutableBufferPointer { o in
            route.forward(inputs: [pa.baseAddress!, pb.baseAddress!], output: o.baseAddress!, batch: 1)
        } } }
        #expect(out == [1, 2, 10, 3, 4, 20])
        // Backward adds each slice onto what the input gradients already hold.
        var da: [Float] = [1, 1, 1, 1], db: [Float] = [0, 0]
        let g: [Float] = [1, 2, 3, 4, 5, 6]
        g.withUnsafeBufferPointer { pg in out.withUnsafeBufferPointer { o in
            da.withUnsafeMutableBufferPointer { pa in db.withUnsafeMutableBufferPointer { pb in
                route.backward(output: o.baseAddress!, gradientOutput: pg.baseAddress!,
                               gradientInputs: [pa.baseAddress!, pb.baseAddress!], batch: 1)
            } }
        } }
        #expect(da == [2, 3, 5, 6] && db == [3, 6])
    }

    /// y = leaky(a + b): ∂a = ∂b = g · leaky'(y), checked against central differences.
    @Test func additionBackwardMatchesFiniteDifferences() {
        let shape = FeatureShape(height: 2, width: 2, channels: 3)
        let route = Route(name: "r", kind: .add(.leaky), inputShapes: [shape, shape])
        let a = randomValues(shape.count, seed: 51), b = randomValues(shape.count, seed: 52)
        let r = randomValues(shape.count, seed: 53)
        func loss(_ a: [Float], _ b: [Float]) -> Double {
            var out = [Float](repeating: 0, count: shape.count)
            a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in out.withUnsafeMutableBufferPointer { o in
                route.forward(inputs: [pa.baseAddress!, pb.baseAddress!], output: o.baseAddress!, batch: 1)
            } } }
            return zip(out, r).reduce(0) { $0 + Double($1.0) * Double($1.1) }
        }
        var out = [Float](repeating: 0, count: shape.count)
        a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in out.withUnsafeMutableBufferPointer { o in
            route.forward(inputs: [pa.baseAddress!, pb.baseAddress!], output: o.baseAddress!, batch: 1)
        } } }
        var da = [Float](repeating: 0, count: shape.count), db = da
        r.withUnsafeBufferPointer { pg in out.withUnsafeBufferPointer { o in
            da.withUnsafeMutableBufferPointer { pa in db.withUnsafeMutableBufferPointer { pb in
                route.backward(output: o.baseAddress!, gradientOutput: pg.baseAddress!,
                               gradientInputs: [pa.baseAddress!, pb.baseAddress!], batch: 1)
            } }
        } }
        let eps: Float = 1e-3
        for k in 0..<shape.count where abs(a[k] + b[k]) > 0.01 {
            var ap = a, am = a
            ap[k] += eps; am[k] -= eps
            let numeric = (loss(ap, b) - loss(am, b)) / Double(2 * eps)
            #expect(abs(Double(da[k]) - numeric) < 1e-3)
            #expect(da[k] == db[k])
        }
    }
}
