import ArgumentParser
import Detector
import Foundation

/// Feeds each loader seeded mutations of valid inputs and checks that every input ends in a
/// value or the loader's typed error, never a trap or a hang.
@main
struct DetectorFuzz: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "detector-fuzz",
        abstract: "Fuzz the file loaders (PNG, safetensors, model config, labels, class names).",
        discussion: """
        Each target first runs its seeds (valid inputs built in code, and the shipped models/ files when found), then the files of --corpus FOLDER/TARGET/ (reproducers of earlier findings), then mutations of them all: byte-level ones and format-aware ones (JSON tokens, PNG chunks with their CRCs recomputed, safetensors headers). Every case must end in a value or the loader's typed error naming the file; a value must keep the loader's documented guarantees.

        Before each case the input is written to OUT/current-TARGET.bin. A trap kills the process: the last line on stderr names the target and case, and that file reproduces it (--replay FILE --target TARGET). A case using more than --timeout seconds of CPU is a hang (exit status 3). Other failures are saved under OUT/failures/ (exit status 1). Runs under glibc's checking allocator when it is installed, so that a heap overflow in C code aborts at the case that caused it.

        The last line of a run is `detector-fuzz: passed ...` or `detector-fuzz: FAILED ...`.
        """)

    @Option(help: "all, or one of: \(FuzzTarget.names.joined(separator: ", ")).") var target = "all"
    @Option(help: "Seconds to run, shared evenly among the targets.") var seconds: Double?
    @Option(help: "Cases per target: the seeds first, then mutations (500 when neither --cases nor --seconds is given).") var cases: Int?
    @Option(help: "Seed of the mutations: the same seed runs the same cases.") var seed: UInt64 = 1
    @Option(help: "Run this one input (a crash file) through --target and print how it ends.") var replay: String?
    @Option(help: "A folder of earlier findings, a subfolder per target (FOLDER/png/...): run before the mutations, each must end in a value or a typed error.") var corpus: String?
    @Option(help: "Folder for the crash files (current-TARGET.bin), the failures and the work files.") var out = "runs/fuzz"
    @Option(help: "A case using more seconds of CPU than this is a hang.") var timeout: Double = 2
    @Option(help: "Largest input, in bytes, that a mutation may produce (default: 1 MB for PNG and safetensors, 256 KB for configs, 64 KB for text).") var maxInput: Int?
    @Option(help: "Address-space limit in MB (0: none), so a huge allocation fails instead of exhausting the machine.") var memoryLimit = 4096
    @Option(help: "Skip inputs of a known crashing class (exploration only: the tests skip nothing). Repeatable.") var skip: [String] = []
    @Flag(help: "Do not run under glibc's checking allocator.") var noMallocCheck = false
    @Flag(help: "Print every new outcome signature.") var verbose = false

    var targetNames: [String] { target == "all" ? FuzzTarget.names : [target] }

    func validate() throws {
        guard target == "all" || FuzzTarget.names.contains(target) else {
            throw ValidationError("--target must be all or one of \(FuzzTarget.names.joined(separator: ", ")), got \(target)")
        }
        if replay != nil && target == "all" { throw ValidationError("--replay needs one --target") }
        if let seconds, !(seconds > 0) { throw ValidationError("--seconds must be positive") }
        if let cases, cases < 1 { throw ValidationError("--cases must be at least 1") }
        if let corpus, !FileManager.default.fileExists(atPath: corpus) { throw ValidationError("--corpus \(corpus): no such folder") }
        if !(timeout > 0) { throw ValidationError("--timeout must be positive") }
        if let maxInput, maxInput < 64 { throw ValidationError("--max-input must be at least 64") }
        if memoryLimit < 0 { throw ValidationError("--memory-limit must be 0 (none) or a size in MB") }
    }

    func run() throws {
        if !noMallocCheck { reexecWithMallocCheck() }
        limitMemory(megabytes: memoryLimit)
        installCrashHandler()
        startWatchdog(cpuLimit: timeout)

        let targets: [FuzzTarget]
        do { targets = try targetNames.map(FuzzTarget.named) } catch {
            printError("detector-fuzz: cannot build the seeds: \(error)")
            throw ExitCode(2)
        }
        let known = Set(targets.flatMap(\.knownBugs.keys))
        if let unknown = skip.first(where: { !known.contains($0) }) {
            printError("detector-fuzz: --skip \(unknown): not a known bug class of \(target) (known: \(known.sorted().joined(separator: ", ")))")
            throw ExitCode(2)
        }
        do { try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true) } catch {
            printError("detector-fuzz: cannot create \(out): \(error)")
            throw ExitCode(2)
        }

        if let replay {
            do {
                let ok = try replayInput(replay, target: targets[0], out: out)
                say(ok ? "detector-fuzz: passed: the input ends in a value or a typed error" : "detector-fuzz: FAILED")
                if !ok { throw ExitCode(1) }
            } catch let error as FuzzError {
                printError("detector-fuzz: \(error)")
                throw ExitCode(2)
            }
            return
        }

        let settings = RunSettings(seed: seed, cases: cases ?? (seconds == nil ? 500 : nil), seconds: seconds, out: out,
                                   maximumInput: maxInput, skip: Set(skip), verbose: verbose, corpus: corpus)
        let perTarget = seconds.map { $0 / Double(targets.count) }
        let checking = ProcessInfo.processInfo.environment["DETECTOR_FUZZ_MALLOC_CHECK"].map { "on (\($0))" } ?? "off"
        let budget = [settings.cases.map { "\($0) cases" }, perTarget.map { String(format: "%.0f s", $0) }].compactMap { $0 }.joined(separator: " or ")
        say("detector-fuzz: seed \(seed), \(budget) per target, timeout \(timeout) s of CPU, memory limit \(memoryLimit == 0 ? "none" : "\(memoryLimit) MB"), malloc check \(checking)"
              + (skip.isEmpty ? "" : ", skipping \(skip.joined(separator: ", "))"))
        var reports: [TargetReport] = []
        for target in targets {
            do {
                let report = try fuzz(target, settings: settings, seconds: perTarget)
                say("detector-fuzz: " + report.line)
                reports.append(report)
            } catch {
                printError("detector-fuzz: \(error)")
                throw ExitCode(2)
            }
        }
        let cases = reports.reduce(0) { $0 + $1.cases }, failures = reports.reduce(0) { $0 + $1.failures }
        if failures > 0 {
            say("detector-fuzz: FAILED: \(failures) failures in \(cases) cases (see above; inputs in \(out)/failures/)")
            throw ExitCode(1)
        }
        say("detector-fuzz: passed: \(reports.count) targets, \(cases) cases, seed \(seed): no crash, no hang, no failure")
    }
}
