import ArgumentParser
import Detector

@main
struct Detect: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Find objects in PNG images (work in progress).")
    @Argument(help: "PNG images.") var images: [String] = []
    func run() throws { throw ValidationError("not built yet") }
}
