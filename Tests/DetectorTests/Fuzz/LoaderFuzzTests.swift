import Foundation
import Testing
import Detector

/// The loaders under seeded mutations, a bounded run of each fuzz target (`make fuzz` runs
/// them for minutes), after the reproducers of earlier findings in Fixtures/fuzz/. Run in a subprocess, the built `detector-fuzz`: a trap in a loader kills
/// the process that runs it, and in-process it would end the whole test run without saying
/// which input did it; the driver writes each input to a crash file before running it, so a
/// failure here names the target, the case and a file that reproduces it.
@Suite struct LoaderFuzzTests {
    /// Cases per target: the seeds, then mutations (a second or two each in a debug build).
    static let cases = 400
    static let seed: UInt64 = 1
    /// Reproducers of the bugs fuzzing found (Fixtures/fuzz/TARGET/), run before the mutations.
    static let corpus = repositoryRoot.appendingPathComponent("Tests/DetectorTests/Fixtures/fuzz")

    /// Runs the driver with stdout and stderr in files (a crash's backtrace can fill a pipe)
    /// and a time limit.
    static func runFuzz(_ arguments: [String], in folder: URL) throws -> (status: Int32, out: String, err: String, signal: Bool) {
        let process = Process()
        process.executableURL = productsFolder.appendingPathComponent("detector-fuzz")
        process.arguments = arguments
        process.currentDirectoryURL = repositoryRoot  // the seeds include the shipped models/ files
        let outURL = folder.appendingPathComponent("stdout.txt"), errURL = folder.appendingPathComponent("stderr.txt")
        try Data().write(to: outURL)
        try Data().write(to: errURL)
        process.standardOutput = try FileHandle(forWritingTo: outURL)
        process.standardError = try FileHandle(forWritingTo: errURL)
        try process.run()
        let deadline = Date().addingTimeInterval(300)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { process.terminate(); process.waitUntilExit() }
        process.waitUntilExit()
        return (process.terminationStatus, try String(contentsOf: outURL, encoding: .utf8),
                String(decoding: try Data(contentsOf: errURL), as: UTF8.self), process.terminationReason == .uncaughtSignal)
    }

    /// What a failed run says: the driver's own lines and the top of a crash's backtrace.
    static func explanation(_ run: (status: Int32, out: String, err: String, signal: Bool)) -> String {
        let lines = (run.out + "\n" + run.err).split(separator: "\n")
        let own = lines.filter { $0.hasPrefix("detector-fuzz:") || $0.hasPrefix("  input saved") || $0.contains("Fatal error") }
        var frames: [Substring] = []
        if let crashed = lines.firstIndex(where: { $0.contains(" crashed:") }) {
            frames = Array(lines[(crashed + 1)...].prefix { !$0.isEmpty && !$0.hasPrefix("...") }.prefix(4))
        }
        return (run.signal ? "killed by signal \(run.status)\n" : "exit status \(run.status)\n") + (own + frames).joined(separator: "\n")
    }

    @Test(arguments: ["png", "safetensors", "config", "labels", "classes"])
    func everyInputEndsInAValueOrATypedError(target: String) throws {
        let folder = try Fixtures.temporaryFolder("fuzz-\(target)")
        // 1.5 GB of address space is plenty for the largest valid input (a 100-megapixel PNG
        // needs 400 MB) and keeps a loader that allocates without bound from taking more.
        let run = try Self.runFuzz(["--target", target, "--cases", "\(Self.cases)", "--seed", "\(Self.seed)", "--out", folder.path,
                                    "--corpus", Self.corpus.path, "--memory-limit", "1536"], in: folder)
        // The target's summary line and the verdict: every case ran, none failed.
        #expect(!run.signal && run.status == 0 && run.out.contains("detector-fuzz: \(target): \(Self.cases) cases in")
                    && run.out.contains("detector-fuzz: passed: 1 targets, \(Self.cases) cases"), "\(Self.explanation(run))")
    }

    @Test func replayRunsOneInputAndSaysHowItEnds() throws {
        let folder = try Fixtures.temporaryFolder("fuzz-replay")
        let good = folder.appendingPathComponent("good.txt"), bad = folder.appendingPathComponent("bad.txt")
        try Data("0 0.5 0.5 0.25 0.25\n".utf8).write(to: good)
        try Data("0 0.5 0.5 0.25\n".utf8).write(to: bad)
        let value = try Self.runFuzz(["--replay", good.path, "--target", "labels", "--out", folder.path], in: folder)
        #expect(!value.signal && value.status == 0 && value.out.contains("value: objects"), "\(Self.explanation(value))")
        let error = try Self.runFuzz(["--replay", bad.path, "--target", "labels", "--out", folder.path], in: folder)
        #expect(!error.signal && error.status == 0 && error.out.contains("typed error: LabelError"), "\(Self.explanation(error))")
    }

    @Test func badArgumentsAreRefused() throws {
        let folder = try Fixtures.temporaryFolder("fuzz-args")
        for arguments in [["--target", "gif"], ["--replay", "x.bin"], ["--cases", "0"], ["--target", "png", "--skip", "no-such-class"]] {
            // 1.5 GB of address space is plenty for the largest valid input (a 100-megapixel PNG
        // needs 400 MB) and keeps a loader that allocates without bound from taking more.
        let run = try Self.runFuzz(arguments + ["--out", folder.path], in: folder)
            #expect(!run.signal && run.status != 0 && !run.err.isEmpty, "\(arguments): \(Self.explanation(run))")
        }
    }
}

/// The mutation engine itself: deterministic, bounded, and its PNG helpers agree with libpng.
@Suite struct MutatorTests {
    static let config = Array("""
    {"name": "m", "input": {"width": 16, "height": 16}, "classes": ["a"], "anchors": [[1, 1]],
     "layers": [{"type": "conv", "filters": 6, "size": 3, "stride": 2}]}
    """.utf8)

    static func inputs() throws -> [(Mutator.Format, [UInt8])] {
        var rng = SplitMix64(seed: 1)
        let png = Mutator.syntheticPNG(width: 5, height: 4, colorType: 2, bitDepth: 8, interlaced: true, rng: &rng)
        let header = Array(#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#.utf8)
        return [(.bytes, Array("bytes".utf8)), (.text, Array("0 0.5 0.5 0.1 0.1\n".utf8)), (.json, config), (.png, png),
                (.safetensors, Mutator.safetensorsBytes(header: header, payload: [UInt8](repeating: 0, count: 8)))]
    }

    @Test func theSameSeedGivesTheSameBytes() throws {
        for (format, input) in try Self.inputs() {
            var a = Mutator(seed: 42), b = Mutator(seed: 42), c = Mutator(seed: 43)
            let first = (0..<200).map { _ in a.mutate(input, format: format, corpus: [input]) }
            let second = (0..<200).map { _ in b.mutate(input, format: format, corpus: [input]) }
            let other = (0..<200).map { _ in c.mutate(input, format: format, corpus: [input]) }
            #expect(first == second, "\(format)")
            #expect(first != other, "\(format)")
            #expect(Set(first).count > 50, "\(format): only \(Set(first).count) distinct mutations of 200")
        }
    }

    @Test func noMutationPassesTheSizeLimit() throws {
        for (format, input) in try Self.inputs() {
            var mutator = Mutator(seed: 7, maximumSize: 4096)
            for _ in 0..<500 {
                let output = mutator.mutate(input, format: format, corpus: [input])
                #expect(output.count <= 4096, "\(format): \(output.count) bytes")
            }
        }
    }

    /// The chunk reader and writer give back libpng's own bytes (lengths and CRC-32s).
    @Test func chunksRoundTripLibpngsOutput() throws {
        let encoded = [UInt8](try PNG.encode(Image(width: 9, height: 4, fill: (10, 200, 30))))
        let chunks = try #require(Mutator.pngChunks(encoded))
        #expect(chunks.map { String(decoding: $0.type, as: UTF8.self) }.first == "IHDR")
        #expect(Mutator.pngBytes(chunks) == encoded)
    }

    /// Synthetic images of every colour type and bit depth are valid, of the size asked; and
    /// the other interlacing of an image has the same pixels. libpng is the referee for up to 8
    /// bits; for 16 bits (which the PNG target checks against libpng) the round trip
    /// interlaced → plain → interlaced → plain must give back the same plain image.
    @Test(arguments: [0, 2, 3, 4, 6] as [UInt8])
    func syntheticImagesDecodeAndKeepTheirPixelsWhenReinterlaced(colorType: UInt8) throws {
        var rng = SplitMix64(seed: UInt64(colorType))
        for bitDepth in Mutator.validBitDepths[colorType]! {
            for (width, height) in [(1, 1), (3, 9), (17, 6), (40, 33)] {
                let plain = Mutator.syntheticPNG(width: width, height: height, colorType: colorType, bitDepth: bitDepth,
                                                 interlaced: false, transparency: width == 17, rng: &rng)
                let image = try PNG.decode(Data(plain), name: "plain")
                #expect(image.width == width && image.height == height)
                let interlaced = try #require(Mutator.otherInterlacing(plain))
                #expect(Mutator.pngChunks(interlaced)?.first?.data[12] == 1)
                let back = try #require(Mutator.otherInterlacing(interlaced))
                #expect(try PNG.decode(Data(back), name: "back") == image, "type \(colorType) depth \(bitDepth) \(width) x \(height)")
                if bitDepth <= 8 {
                    #expect(try PNG.decode(Data(interlaced), name: "interlaced") == image, "type \(colorType) depth \(bitDepth) \(width) x \(height)")
                }
            }
        }
    }

    @Test func safetensorsPartsRoundTrip() throws {
        let bytes = try [UInt8](Fixtures.data("safetensors_reference.safetensors"))
        let (header, payload) = try #require(Mutator.safetensorsParts(bytes))
        #expect(Mutator.safetensorsBytes(header: header, payload: payload, pad: false) == bytes)
        #expect(Mutator.safetensorsParts(Array(bytes.prefix(7))) == nil)
    }
}
