import ArgumentParser
import CommandSupport
import Detector
import Foundation

/// Times the engine on a model config: training steps (forward, region loss, backward, Adam) at
/// several batch sizes, inference latency and throughput, achieved GFLOP/s, peak resident
/// memory and a per-layer breakdown of one training step, for each of the `--threads` counts; each
/// count's figures end in one JSON object line.
///
/// Statistics that a shared machine cannot inflate: interference (other processes, page
/// faults, a descheduled worker) only ever slows a program down, so the fastest measurement is
/// the closest to its own speed. Throughput is timed in `blocks` rounds (each at least
/// `seconds` long, after a warm-up, as the peers' bench scripts do) and each round is printed
/// with the best; latency times every call on its own for blocks x seconds and reports the
/// minimum, the 10th percentile and the median (as the ONNX Runtime and OpenVINO scripts).
@main
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "detector-bench", abstract: "Benchmark the engine (training and inference speed, memory).")
    @Option(help: "Model config.") var config = "models/tiny-dsc.json"
    @Option(help: "Training batch sizes, comma-separated.") var trainBatches = "1,8,16,32"
    @Option(help: "Timed rounds per throughput figure (each is printed, and the best); latency is timed for blocks x seconds.") var blocks = 7
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
        /// The rate (calls per second) of `body` in each of `blocks` rounds, after two warm-up calls.
        func measure(_ body: () -> Void) -> Rounds {
            for _ in 0..<2 { body() }
            var rates: [Double] = []
            for _ in 0..<blocks {
                let start = Date()
                var calls = 0
                repeat { body(); calls += 1 } while Date().timeIntervalSince(start) < minimum
                rates.append(Double(calls) / Date().timeIntervalSince(start))
            }
            return Rounds(rates)
        }
        /// Every call of `body` timed on its own (seconds), for blocks x seconds and at least 20
        /// calls, after ten warm-up calls.
        func timeCalls(_ body: () -> Void) -> Latency {
            for _ in 0..<10 { body() }
            var samples: [Double] = []
            let start = DispatchTime.now().uptimeNanoseconds
            let budget = UInt64(Double(blocks) * minimum * 1e9)
            while samples.count < 20 || DispatchTime.now().uptimeNanoseconds - start < budget {
                let t0 = DispatchTime.now().uptimeNanoseconds
                body()
                samples.append(Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
            }
            return Latency(samples)
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
        // The network keeps the buffers of the largest batch it has run, so the process's peak
        // at batch 16 is the training figure only while no larger batch has run before it.
        var largestBatchTrained = 0
        // Each thread count in turn (the body is not indented, to keep this loop a small change).
        for threadCount in try threadCounts() { Engine.withThreadCount(threadCount) {
        print("engine threads: \(threadCount)")
        let trainingFlops = Double(network.flopsPerImage) * 2.6  // forward + backward ≈ 0.371 / 0.143 of forward for this network
        var trainRounds: [String: Rounds] = [:]
        // Peak RSS of the process while training at batch 16 (as the peers' figure: a process
        // that trains), read before the inference passes allocate their own activations.
        var trainingPeak16: Double? = nil
        for batch in trainBatches.split(separator: ",").compactMap({ Int($0) }) {
            let input = batchInput(batch), t = targets(batch)
            resetPeak()
            let r = measure { trainStep(input, t) }.scaled(by: Double(batch))
            if batch == 16 && largestBatchTrained <= 16 { trainingPeak16 = peakMiB() }
            largestBatchTrained = max(largestBatchTrained, batch)
            trainRounds[String(batch)] = r
            print(String(format: "train batch %2d: best %7.1f images/s, %.1f ms/step, ~%.0f GFLOP/s; median %.1f; rounds %@",
                         batch, r.best, 1000 * Double(batch) / r.best, r.best * trainingFlops / 1e9, r.median, r.text))
        }
        let folded = network.foldedForInference()
        let one = batchInput(1)
        let latency = timeCalls { _ = one.withUnsafeBufferPointer { folded.forward($0.baseAddress!, batch: 1) } }
        print(String(format: "inference batch  1: latency min %.3f ms, p10 %.3f, median %.3f (%d calls)",
                     1000 * latency.minimum, 1000 * latency.p10, 1000 * latency.median, latency.count))
        let sixteen = batchInput(16)
        let throughput = measure { _ = sixteen.withUnsafeBufferPointer { folded.forward($0.baseAddress!, batch: 16) } }.scaled(by: 16)
        print(String(format: "inference batch 16: best %.1f images/s, ~%.0f GFLOP/s; median %.1f; rounds %@", throughput.best,
                     throughput.best * Double(network.flopsPerImage) / 1e9, throughput.median, throughput.text))
        // Per-layer breakdown of inference at batch 1 (the latency figure) and at batch 16 (the
        // throughput figure).
        for (batch, input, calls) in [(1, one, 200), (16, sixteen, 20)] {
            folded.recordsLayerTimes = true
            folded.resetLayerTimes()
            input.withUnsafeBufferPointer { for _ in 0..<calls { folded.forward($0.baseAddress!, batch: batch) } }
            folded.recordsLayerTimes = false
            let inferTotal = folded.layerTimes.reduce(0) { $0 + $1.forwardSeconds } / Double(calls)
            // Timed step by step, so on the per-step schedule: the batch-16 throughput above
            // shares out whole images instead (`ImageLanes`).
            print("per-layer time of inference at batch \(batch) (µs\(batch > 1 ? ", each step on every thread" : "")):")
            for l in folded.layerTimes {
                let f = l.forwardSeconds / Double(calls) * 1e6
                print(l.name.padding(toLength: 30, withPad: " ", startingAt: 0) + String(format: " %8.1f  (%4.1f%%)", f, 100 * f / 1e6 / inferTotal))
            }
            print("  total" + String(format: "%33.1f µs in layers", inferTotal * 1e6))
        }
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
        if let trainingPeak16 {
            print(String(format: "peak resident memory while training at batch 16: %.1f MiB", trainingPeak16))
        } else if trainRounds["16"] != nil {
            print("peak resident memory while training at batch 16: not measured (a larger batch ran before it in this process, "
                  + "whose buffers the network keeps; `detector-bench --train-batches 16` measures it)")
        } else {
            print(String(format: "peak resident memory of the process: %.1f MiB (batch 16 not trained)", peakMiB()))
        }
        // Throughput keys hold the best round (their `_rounds` twins every round, `_median` the
        // median); infer_ms_batch1 the median latency, beside its minimum and 10th percentile.
        let batches = trainRounds.keys.sorted { Int($0)! < Int($1)! }
        func object(_ value: (Rounds) -> String) -> String {
            "{" + batches.map { "\"\($0)\": \(value(trainRounds[$0]!))" }.joined(separator: ", ") + "}"
        }
        let fields: [(String, String)] = [
            ("config", "\"\(self.config)\""),
            ("threads", String(threadCount)),
            ("isa", "\"\(KernelISA.selected.rawValue)\""),
            ("train_images_per_s", object { String(format: "%.1f", $0.best) }),
            ("train_images_per_s_median", object { String(format: "%.1f", $0.median) }),
            ("train_images_per_s_rounds", object { $0.json }),
            ("infer_ms_batch1", String(format: "%.4f", 1000 * latency.median)),
            ("infer_ms_batch1_min", String(format: "%.4f", 1000 * latency.minimum)),
            ("infer_ms_batch1_p10", String(format: "%.4f", 1000 * latency.p10)),
            ("infer_calls_batch1", String(latency.count)),
            ("infer_images_per_s_batch16", String(format: "%.1f", throughput.best)),
            ("infer_images_per_s_batch16_median", String(format: "%.1f", throughput.median)),
            ("infer_images_per_s_batch16_rounds", throughput.json),
            ("peak_rss_mib", trainingPeak16.map { String(format: "%.1f", $0) } ?? "null"),
        ]
        print("{" + fields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}")
        } }
    }
}

/// Throughput rounds (rates): each round as measured, the best (the maximum) and the median.
struct Rounds {
    var values: [Double]
    init(_ values: [Double]) { precondition(!values.isEmpty); self.values = values }
    var best: Double { values.max()! }
    var median: Double { middleValue(ofSorted: values.sorted()) }
    func scaled(by factor: Double) -> Rounds { Rounds(values.map { $0 * factor }) }
    /// "205.1 210.3 199.8" in the order measured.
    var text: String { values.map { String(format: "%.1f", $0) }.joined(separator: " ") }
    var json: String { "[" + values.map { String(format: "%.1f", $0) }.joined(separator: ", ") + "]" }
}

/// Per-call latencies (seconds): the minimum, the 10th percentile and the median, as the peer
/// scripts compute them (sorted samples s, p10 = s[⌊n/10⌋], median the middle value).
struct Latency {
    var sorted: [Double]
    init(_ samples: [Double]) { precondition(!samples.isEmpty); sorted = samples.sorted() }
    var count: Int { sorted.count }
    var minimum: Double { sorted[0] }
    var p10: Double { sorted[sorted.count / 10] }
    var median: Double { middleValue(ofSorted: sorted) }
}

/// The middle value of sorted, non-empty `values`; the mean of the two middle ones for an even count.
func middleValue(ofSorted values: [Double]) -> Double {
    let n = values.count
    return n % 2 == 1 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2])
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
