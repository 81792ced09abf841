import ArgumentParser
import CommandSupport
import Detector
import Foundation

/// Times the engine on a model config: training steps (forward, region loss, backward, Adam) at
/// several batch sizes, inference latency and throughput, achieved GFLOP/s, peak resident
/// memory and a per-layer breakdown of one training step, for each of the `--threads` counts; each
/// count's figures end in one JSON object line.
/// Each figure is the median of `blocks` timed blocks (each at least `seconds` long) after a
/// warm-up, the way scripts/bench_peers.sh times the PyTorch and ONNX Runtime peers.
@main
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "detector-bench", abstract: "Benchmark the engine (training and inference speed, memory).")
    @Option(help: "Model config.") var config = "models/tiny-dsc.json"
    @Option(help: "Training batch sizes, comma-separated.") var trainBatches = "1,8,16,32"
    @Option(help: "Timed blocks per figure (the median is reported).") var blocks = 7
    @Option(help: "Minimum seconds per block.") var seconds = 1.0
    @Flag(help: "Short run: 3 blocks of 0.3 s.") var quick = false
    @Flag(help: "Only the memory check: RSS after 20 and after 200 training steps at batch 16.") var memory = false
    @Option(help: "Engine thread counts to measure, comma-separated, each 1 to 256 (default: the engine's, $DETECTOR_THREADS or the CPUs); `make bench` measures 1,2.")
    var threads: String?

    static func main() { mainExitingOneOnBadInput() }

    /// --threads as counts (the engine's default count without it).
    func threadCounts() throws -> [Int] {
        guard let threads else { return [Engine.threadCount] }
        return try threads.split(separator: ",", omittingEmptySubsequences: false).map { try Engine.parseThreadCount(String($0), source: "--threads") }
    }

    func validate() throws {
        do { _ = try threadCounts() } catch { throw ValidationError("\(error)") }
    }

    func run() throws {
        // A config that takes its classes from the data set is timed with the synthetic shapes'
        // three (the shipped model's head).
        let file = try ConfigFile.load(path: self.config)
        let config = try file.config(classes: file.classes ?? SyntheticShapes.classNames, dataSet: "the benchmark's")
        let blocks = quick ? 3 : self.blocks
        let minimum = quick ? 0.3 : seconds
        let network = try Network(config: config, seed: 1)
        let loss = RegionLoss(settings: config.loss, layout: config.headLayout)
        let optimizer = Adam(parameters: network.parameters)
        let perImage = config.inputWidth * config.inputHeight * 3
        var rng = SplitMix64(seed: 3)
        // Fixed random inputs and targets: data loading is not timed (as in the peer scripts).
        func batchInput(_ n: Int) -> [Float] { (0..<(n * perImage)).map { _ in rng.nextUnitFloat() } }
        func targets(_ n: Int) -> [[LabeledObject]] {
            (0..<n).map { _ in (0..<3).map { _ in
                LabeledObject(classIndex: rng.nextInt(below: config.classes.count),
                              box: BoundingBox(centerX: rng.nextFloat(in: 0.2..<0.8), centerY: rng.nextFloat(in: 0.2..<0.8),
                                               width: rng.nextFloat(in: 0.05..<0.4), height: rng.nextFloat(in: 0.05..<0.4)))
            } }
        }
        func trainStep(_ input: [Float], _ t: [[LabeledObject]]) {
            let batch = t.count
            let out = network.forward(Tensor(shape: [batch, config.inputHeight, config.inputWidth, 3], data: input), training: true)
            let result = loss(output: out, targets: t, imagesSeen: 1_000_000)
            network.zeroGradients()
            network.backward(result.gradient)
            optimizer.step()
        }
        /// Median over blocks of the rate (calls per second) of `body`.
        func measure(_ body: () -> Void) -> (median: Double, low: Double, high: Double) {
            for _ in 0..<2 { body() }
            var rates: [Double] = []
            for _ in 0..<blocks {
                let start = Date()
                var calls = 0
                repeat { body(); calls += 1 } while Date().timeIntervalSince(start) < minimum
                rates.append(Double(calls) / Date().timeIntervalSince(start))
            }
            rates.sort()
            return (rates[rates.count / 2], rates.first!, rates.last!)
        }

        print(network.table())
        let isaSetting = ProcessInfo.processInfo.environment["DETECTOR_ISA"].map { "DETECTOR_ISA=\($0)" } ?? "DETECTOR_ISA unset"
        print("kernels: \(KernelISA.selected.rawValue) (AVX-512 \(KernelISA.avx512Available ? "available" : "not available"); \(isaSetting))")
        if memory {
            let input = batchInput(16), t = targets(16)
            for _ in 0..<20 { trainStep(input, t) }
            let after20 = residentMiB()
            for _ in 0..<180 { trainStep(input, t) }
            let after200 = residentMiB()
            print(String(format: "RSS after 20 steps %.1f MiB, after 200 steps %.1f MiB (%+.2f%%); peak %.1f MiB",
                         after20, after200, 100 * (after200 - after20) / after20, peakMiB()))
            return
        }
        // Each thread count in turn (the body is not indented, to keep this loop a small change).
        for threadCount in try threadCounts() { try Engine.withThreadCount(threadCount) {
        print("engine threads: \(threadCount)")
        let trainingFlops = Double(network.flopsPerImage) * 2.6  // forward + backward ≈ 0.371 / 0.143 of forward for this network
        var trainRates: [String: Double] = [:]
        // Peak RSS of the process while training at batch 16 (as the peers' figure: a process
        // that trains), read before the inference passes allocate their own activations.
        var trainingPeak16: Double? = nil
        for batch in trainBatches.split(separator: ",").compactMap({ Int($0) }) {
            let input = batchInput(batch), t = targets(batch)
            resetPeak()
            let r = measure { trainStep(input, t) }
            if batch == 16 { trainingPeak16 = peakMiB() }
            let images = r.median * Double(batch)
            trainRates[String(batch)] = images
            print(String(format: "train batch %2d: %7.1f images/s (%.1f–%.1f), %.1f ms/step, ~%.0f GFLOP/s",
                         batch, images, r.low * Double(batch), r.high * Double(batch), 1000 / r.median, images * trainingFlops / 1e9))
        }
        let folded = network.foldedForInference()
        let one = batchInput(1)
        let latency = measure { _ = one.withUnsafeBufferPointer { folded.forward($0.baseAddress!, batch: 1) } }
        print(String(format: "inference batch  1: %.2f ms latency (%.2f–%.2f)", 1000 / latency.median, 1000 / latency.high, 1000 / latency.low))
        let sixteen = batchInput(16)
        let throughput = measure { _ = sixteen.withUnsafeBufferPointer { folded.forward($0.baseAddress!, batch: 16) } }
        let inferImages = throughput.median * 16
        print(String(format: "inference batch 16: %.1f images/s (%.1f–%.1f), ~%.0f GFLOP/s", inferImages, throughput.low * 16,
                     throughput.high * 16, inferImages * Double(network.flopsPerImage) / 1e9))
        // Per-layer breakdown of inference at batch 1 (the latency figure).
        folded.recordsLayerTimes = true
        folded.resetLayerTimes()
        let calls = 200
        one.withUnsafeBufferPointer { for _ in 0..<calls { folded.forward($0.baseAddress!, batch: 1) } }
        folded.recordsLayerTimes = false
        let inferTotal = folded.layerTimes.reduce(0) { $0 + $1.forwardSeconds } / Double(calls)
        print("per-layer time of inference at batch 1 (µs):")
        for l in folded.layerTimes {
            let f = l.forwardSeconds / Double(calls) * 1e6
            print(l.name.padding(toLength: 30, withPad: " ", startingAt: 0) + String(format: " %8.1f  (%4.1f%%)", f, 100 * f / 1e6 / inferTotal))
        }
        print("  total" + String(format: "%33.1f µs in layers", inferTotal * 1e6))
        // Per-layer breakdown of training steps at batch 16.
        let input = batchInput(16), t = targets(16)
        trainStep(input, t)
        network.recordsLayerTimes = true
        network.resetLayerTimes()
        let steps = 10
        for _ in 0..<steps { trainStep(input, t) }
        network.recordsLayerTimes = false
        let total = network.layerTimes.reduce(0) { $0 + $1.forwardSeconds + $1.backwardSeconds } / Double(steps)
        print("per-layer time of one training step at batch 16 (ms, forward + backward):")
        for l in network.layerTimes {
            let f = l.forwardSeconds / Double(steps) * 1000, b = l.backwardSeconds / Double(steps) * 1000
            print(l.name.padding(toLength: 30, withPad: " ", startingAt: 0) + String(format: " %7.2f + %7.2f = %7.2f  (%4.1f%%)", f, b, f + b, 100 * (f + b) / 1000 / total))
        }
        print("  total" + String(format: "%32.2f ms in layers", total * 1000))
        let peak = trainingPeak16 ?? peakMiB()
        print(trainingPeak16 != nil
              ? String(format: "peak resident memory while training at batch 16: %.1f MiB", peak)
              : String(format: "peak resident memory since the last training measurement: %.1f MiB", peak))
        let trainJSON = trainRates.keys.sorted { Int($0)! < Int($1)! }.map { "\"\($0)\": \(String(format: "%.1f", trainRates[$0]!))" }.joined(separator: ", ")
        print("{\"config\": \"\(self.config)\", \"threads\": \(threadCount), \"isa\": \"\(KernelISA.selected.rawValue)\", \"train_images_per_s\": {\(trainJSON)}, \"infer_ms_batch1\": \(String(format: "%.3f", 1000 / latency.median)), \"infer_images_per_s_batch16\": \(String(format: "%.1f", inferImages)), \"peak_rss_mib\": \(String(format: "%.1f", peak))}")
        } }
    }
}

/// Resets the peak RSS (VmHWM) to the current RSS (Linux: "5" to /proc/self/clear_refs).
func resetPeak() { try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8) }

/// Current resident set size (VmRSS) in MiB.
func residentMiB() -> Double { statusField("VmRSS:") }
/// Peak resident set size (VmHWM) in MiB.
func peakMiB() -> Double { statusField("VmHWM:") }

func statusField(_ name: String) -> Double {
    guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in text.split(separator: "\n") where line.hasPrefix(name) {
        let kb = Double(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
        return kb / 1024
    }
    return 0
}
