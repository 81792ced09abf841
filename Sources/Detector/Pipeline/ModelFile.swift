import Foundation

/// A network from a weights file: the config stored in its metadata, then every tensor.
public func loadNetwork(path: String) throws -> Network {
    let checkpoint = try Checkpoint.load(path: path)
    let config = try ModelConfig.decode(Data(checkpoint.configJSON.utf8), source: "\(path) (config in metadata)")
    let network = try Network(config: config, seed: 0)
    try checkpoint.apply(to: network.parameters)
    return network
}

/// Where `detect` finds its model when none is given: `DETECTOR_MODEL`, then
/// `models/tiny-dsc-shapes.safetensors` under the working directory, then beside the installed
/// binary (`../share/detector/`), then /usr/local/share/detector.
public func defaultModelPath(executablePath: String = CommandLine.arguments.first ?? "") -> String? {
    let name = "tiny-dsc-shapes.safetensors"
    var candidates: [String] = []
    if let env = ProcessInfo.processInfo.environment["DETECTOR_MODEL"], !env.isEmpty { return env }
    candidates.append(FileManager.default.currentDirectoryPath + "/models/" + name)
    let executable = URL(fileURLWithPath: executablePath).resolvingSymlinksInPath()
    let binFolder = executable.deletingLastPathComponent()
    candidates.append(binFolder.deletingLastPathComponent().appendingPathComponent("share/detector/\(name)").path)
    // A development build: .build/release/detect → repository models/.
    candidates.append(binFolder.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("models/\(name)").path)
    candidates.append("/usr/local/share/detector/\(name)")
    return candidates.first { FileManager.default.fileExists(atPath: $0) }
}
