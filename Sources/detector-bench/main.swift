import ArgumentParser
import Detector

@main
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "detector-bench", abstract: "Benchmark the engine (work in progress).")
    func run() throws { throw ValidationError("not built yet") }
}
