import ArgumentParser
import Detector

@main
struct TrainDetector: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "train-detector", abstract: "Train a detector (work in progress).")
    func run() throws { throw ValidationError("not built yet") }
}
