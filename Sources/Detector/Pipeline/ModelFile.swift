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
    if let env = ProcessInfo.processInfo.environment["DETECTOR_MODEL"], !env.isEmpty { return env }
    return shippedFilePath("tiny-dsc-shapes.safetensors", executablePath: executablePath)
}

/// A file shipped in `models/` (a config or the trained weights): under the working
/// directory, beside the installed binary (`../share/detector/`), in the repository of a
/// development build (`.build/release/x` → `models/`), or in /usr/local/share/detector.
public func shippedFilePath(_ name: String, executablePath: String = CommandLine.arguments.first ?? "") -> String? {
    var candidates: [String] = []
    candidates.append(FileManager.default.currentDirectoryPath + "/models/" + name)
    let executable = URL(fileURLWithPath: executablePath).resolvingSymlinksInPath()
    let binFolder = executable.deletingLastPathComponent()
    candidates.append(binFolder.deletingLastPathComponent().appendingPathComponent("share/detector/\(name)").path)
    // A development build: .build/release/detect → repository models/.
    candidates.append(binFolder.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("models/\(name)").path)
    candidates.append("/usr/local/share/detector/\(name)")
    return candidates.first { FileManager.default.fileExists(atPath: $0) }
}

/// A config path as given on a command line: the path itself when it exists; a default
/// `models/NAME` missing from the working directory is looked up as a shipped file (so the
/// installed commands work from any directory); otherwise the path unchanged, for the
/// loader to report.
public func resolveConfigPath(_ path: String) -> String {
    if FileManager.default.fileExists(atPath: path) { return path }
    if path.hasPrefix("models/"), let shipped = shippedFilePath(String(path.dropFirst("models/".count))) { return shipped }
    return path
}
