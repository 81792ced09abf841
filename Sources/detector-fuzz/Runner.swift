import Detector
import Foundation
#if canImport(Glibc)
import Glibc
#endif

struct RunSettings {
    var seed: UInt64
    var cases: Int?
    var seconds: Double?
    var out: String
    /// Overrides each target's own limit.
    var maximumInput: Int?
    var skip: Set<String>
    var verbose: Bool
    /// A folder with a subfolder per target of inputs to run before any mutation (the
    /// reproducers of bugs found earlier): each must end in a value or a typed error.
    var corpus: String?
}

/// The files of `folder/target/`, sorted by name (none when the folder does not exist).
func corpusFiles(_ folder: String?, target: String) throws -> [(name: String, bytes: [UInt8])] {
    guard let folder else { return [] }
    let path = folder + "/" + target
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: path) else { return [] }
    return try names.filter { !$0.hasPrefix(".") }.sorted().map { name in
        guard let data = FileManager.default.contents(atPath: path + "/" + name) else { throw FuzzError("cannot read \(path)/\(name)") }
        return (name, [UInt8](data))
    }
}

/// What one target's run did.
struct TargetReport {
    var name: String
    var cases = 0, values = 0, errors = 0, failures = 0, skipped = 0
    var seconds = 0.0
    /// CPU seconds of the fuzzing thread: on a shared machine, cases per CPU second say more
    /// about the loaders than cases per second of wall time.
    var cpuSeconds = 0.0
    var distinctOutcomes = 0, corpus = 0
    var casesPerSecond: Double { seconds > 0 ? Double(cases) / seconds : 0 }

    var line: String {
        String(format: "%@: %d cases in %.1f s (%.0f cases/s, %.0f per CPU second): %d values, %d typed errors, %d failures, %d skipped; %d distinct outcomes, corpus %d",
               name, cases, seconds, casesPerSecond, cpuSeconds > 0 ? Double(cases) / cpuSeconds : 0,
               values, errors, failures, skipped, distinctOutcomes, corpus)
    }
}

/// Writes the input with plain write(2): it must be on disk (in the page cache) before the case
/// runs, since a trap leaves no chance to write it afterwards.
func writeCrashFile(_ bytes: [UInt8], to path: String) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard fd >= 0 else { throw FuzzError("cannot write \(path): \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    try bytes.withUnsafeBytes { raw in
        var done = 0
        while done < raw.count {
            let n = write(fd, raw.baseAddress! + done, raw.count - done)
            guard n > 0 else { throw FuzzError("cannot write \(path): \(String(cString: strerror(errno)))") }
            done += n
        }
    }
}

/// A stable number for a target name (Swift's `hashValue` changes from run to run).
func stableHash(_ text: String) -> UInt64 {
    text.utf8.reduce(0xCBF2_9CE4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01B3 }  // FNV-1a
}

/// Runs the seeds of `target` (each must give a value), then the files of the regression
/// corpus (each must end in a value or a typed error), then mutations, until `cases` or
/// `seconds` runs out. The mutation corpus starts as the seeds and the files and takes in
/// every input whose outcome signature is new (a cheap stand-in for coverage: an input that reaches a check no earlier input reached
/// is worth mutating further). Same seed, same sequence of cases.
func fuzz(_ target: FuzzTarget, settings: RunSettings, seconds: Double?) throws -> TargetReport {
    let fm = FileManager.default
    try fm.createDirectory(atPath: settings.out + "/failures", withIntermediateDirectories: true)
    let current = settings.out + "/current-\(target.name).bin"
    let work = settings.out + "/work-\(target.name)"
    try? fm.removeItem(atPath: work)
    try fm.createDirectory(atPath: work, withIntermediateDirectories: true)
    try target.prepare(work)
    setCrashNote("target \(target.name) (seed \(settings.seed)); the input is \(current); replay: detector-fuzz --replay \(current) --target \(target.name)")

    let skips = target.knownBugs.filter { settings.skip.contains($0.key) }
    let regression = try corpusFiles(settings.corpus, target: target.name)
    let fixed = target.seeds + regression.map(\.bytes)  // the cases before the mutations
    let maximumInput = settings.maximumInput ?? target.maximumInput
    var mutator = Mutator(seed: settings.seed ^ stableHash(target.name), maximumSize: maximumInput)
    var corpus: [[UInt8]] = []
    var seen: Set<String> = []
    var failureSignatures: Set<String> = []
    var report = TargetReport(name: target.name)
    let start = Date(), startCPU = nanoseconds(fuzzThreadClock)
    var index = 0
    while true {
        if let cases = settings.cases, index >= cases { break }
        if let seconds, index >= fixed.count, Date().timeIntervalSince(start) >= seconds { break }
        if settings.cases == nil && seconds == nil { break }
        let isSeed = index < target.seeds.count
        let input: [UInt8]
        if index < fixed.count {
            input = fixed[index]
        } else {
            let pool = corpus.isEmpty ? fixed : corpus
            input = mutator.mutate(pool[mutator.rng.nextInt(below: pool.count)], format: target.format, corpus: pool)
        }
        defer { index += 1 }
        if let skipped = skips.first(where: { $0.value(input) }) {
            report.skipped += 1
            if index < fixed.count && settings.verbose { say("  case \(index) skipped (\(skipped.key))") }
            continue
        }
        let note = "target \(target.name) (seed \(settings.seed)); the input is \(current); replay: detector-fuzz --replay \(current) --target \(target.name)"
        if index >= target.seeds.count && index < fixed.count {
            let name = regression[index - target.seeds.count].name
            if settings.verbose { say("  case \(index): \(name)") }
            setCrashNote(note + " (the corpus file \(settings.corpus ?? "")/\(target.name)/\(name))")
        } else if index == fixed.count {
            setCrashNote(note)
        }
        try writeCrashFile(input, to: current)
        beginCase(index)
        let outcome = target.run(FuzzCase(bytes: input, path: current, workFolder: work, index: index))
        endCase()
        report.cases += 1
        let signature: String
        switch outcome {
        case let .value(s): report.values += 1; signature = "value " + s
        case let .error(s): report.errors += 1; signature = s
        case let .failure(message):
            report.failures += 1
            signature = "failure " + message
            let key = signatureOf(failure: message)
            if failureSignatures.insert(key).inserted {
                let saved = settings.out + "/failures/\(target.name)-\(settings.seed)-\(index).bin"
                try writeCrashFile(input, to: saved)
                printError("detector-fuzz: FAILURE at case \(index) of target \(target.name): \(message)\n  input saved to \(saved); replay: detector-fuzz --replay \(saved) --target \(target.name)")
            }
        }
        if isSeed, !signature.hasPrefix("value ") {
            // A valid input that does not load: nothing built on it would mean much, so the
            // target stops here (the other targets still run).
            if case .error = outcome { report.failures += 1 }
            printError("detector-fuzz: seed \(index) of target \(target.name) does not load (\(signature)); the target stops: a bug of the loader or of the harness")
            break
        }
        if seen.insert(signature).inserted || (index < fixed.count && index >= target.seeds.count) {
            if settings.verbose { say("  case \(index): \(signature)") }
            if corpus.count < 2000 && input.count <= maximumInput / 2 { corpus.append(input) }
        }
    }
    report.seconds = Date().timeIntervalSince(start)
    report.cpuSeconds = Double(nanoseconds(fuzzThreadClock) - startCPU) / 1e9
    report.distinctOutcomes = seen.count
    report.corpus = corpus.count
    return report
}

/// Failures of the same kind on different inputs: the start of the message, numbers and
/// quoted text blanked.
func signatureOf(failure message: String) -> String { String(signature(message).prefix(40)) }

/// Runs one input through `target` as every case index would (the index picks the class count
/// of the label target, the Data slice of the PNG target, which cases also load a data set),
/// and prints each distinct outcome. True when none is a failure.
func replayInput(_ path: String, target: FuzzTarget, out: String) throws -> Bool {
    guard let data = FileManager.default.contents(atPath: path) else { throw FuzzError("cannot read \(path)") }
    let bytes = [UInt8](data)
    let fm = FileManager.default
    let work = out + "/work-replay-\(target.name)"
    try? fm.removeItem(atPath: work)
    try fm.createDirectory(atPath: work, withIntermediateDirectories: true)
    try target.prepare(work)
    // The loaders read the file as given; a copy keeps the original safe from the data set writes.
    let copy = out + "/replay-\(target.name).bin"
    try writeCrashFile(bytes, to: copy)
    setCrashNote("target \(target.name), replaying \(path)")
    say("detector-fuzz: replaying \(path) (\(bytes.count) bytes) on target \(target.name)")
    for (name, matches) in target.knownBugs.sorted(by: { $0.key < $1.key }) where matches(bytes) {
        say("  the input is in the known bug class \(name)")
    }
    var printed: Set<String> = []
    var ok = true
    for index in 0..<24 {
        beginCase(index)
        let outcome = target.run(FuzzCase(bytes: bytes, path: copy, workFolder: work, index: index))
        endCase()
        let line: String
        switch outcome {
        case let .value(s): line = "value: \(s)"
        case let .error(s): line = "typed error: \(s)"
        case let .failure(message): line = "FAILURE: \(message)"; ok = false
        }
        if printed.insert(line).inserted { say("  case index \(index): \(line)") }
    }
    return ok
}

/// A line on stdout, written at once (unbuffered: a crash must not swallow the lines before it).
func say(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}

func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
