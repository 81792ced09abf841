import Foundation

// Where the installed commands find the files shipped in models/ (the trained model, the
// configs): the working directory, $DETECTOR_SHARE, the installation's share folder, a
// development build's repository, then the machine-wide share folder.

/// The machine-wide share folder of the default `make install` (PREFIX /usr/local): the last
/// place a shipped file is looked for, and never when `DETECTOR_SHARE` is set.
public let systemShareFolder = "/usr/local/share/detector"

/// The path of the running executable. On Linux it is read from /proc/self/exe (already free
/// of symlinks): argv[0] is only the name that was typed when the shell found the command on
/// PATH (`detect`, not `/opt/x/bin/detect`), and it would be looked up against the working
/// directory. Elsewhere argv[0], searched on PATH when it has no slash.
public func currentExecutablePath() -> String {
    #if os(Linux)
    if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return path }
    #endif
    let argument = CommandLine.arguments.first ?? ""
    if argument.contains("/") { return argument }
    for folder in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
        let candidate = String(folder) + "/" + argument
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return argument
}

/// Where `detect` finds its model when none is given: `DETECTOR_MODEL` when set, else the
/// shipped `tiny-dsc-shapes.safetensors` (see `shippedFileCandidates`).
public func defaultModelPath(executablePath: String = currentExecutablePath(),
                             environment: [String: String] = ProcessInfo.processInfo.environment,
                             workingDirectory: String = FileManager.default.currentDirectoryPath) -> String? {
    if let path = environment["DETECTOR_MODEL"], !path.isEmpty { return path }
    return shippedFilePath(shippedModelName, executablePath: executablePath, environment: environment,
                           workingDirectory: workingDirectory)
}

/// The file name of the shipped trained model.
public let shippedModelName = "tiny-dsc-shapes.safetensors"

/// The places a file shipped in `models/` (a config or the trained weights) is looked for,
/// first to last:
///
/// 1. `models/NAME` under the working directory (running from the repository);
/// 2. `$DETECTOR_SHARE/NAME`, when that variable is set and not empty;
/// 3. `../share/detector/NAME` beside the executable, symlinks resolved (`make install`
///    puts the binaries in PREFIX/bin and the files in PREFIX/share/detector);
/// 4. `models/NAME` in the repository of a development build: the nearest folder above the
///    executable that holds `Package.swift`, when it also holds `models/`. Walking up rather
///    than counting folders, because SwiftPM's `.build/debug` is a symlink to
///    `.build/x86_64-unknown-linux-gnu/debug` and the resolved binary sits one level deeper
///    than `.build/debug/detect` suggests;
/// 5. `systemShareFolder/NAME` (/usr/local/share/detector), only when `DETECTOR_SHARE` is
///    not set: that variable replaces the machine-wide folder, so that a test (or a user
///    trying another version) can shut out whatever an earlier `make install` left there.
///    The executable's own share folder (3) stays: it belongs to the same installation as
///    the binary, not to the machine.
public func shippedFileCandidates(_ name: String,
                                  executablePath: String = currentExecutablePath(),
                                  environment: [String: String] = ProcessInfo.processInfo.environment,
                                  workingDirectory: String = FileManager.default.currentDirectoryPath,
                                  systemShare: String = systemShareFolder) -> [String] {
    let workingFolder = URL(fileURLWithPath: workingDirectory, isDirectory: true)
    var candidates = [workingFolder.appendingPathComponent("models/\(name)").path]
    let share = environment["DETECTOR_SHARE"].flatMap { $0.isEmpty ? nil : $0 }
    if let share {
        candidates.append(URL(fileURLWithPath: share, isDirectory: true, relativeTo: workingFolder)
            .appendingPathComponent(name).standardizedFileURL.path)
    }
    if !executablePath.isEmpty {
        let executable = URL(fileURLWithPath: executablePath, relativeTo: workingFolder).resolvingSymlinksInPath()
        let binFolder = executable.deletingLastPathComponent()
        candidates.append(binFolder.deletingLastPathComponent().appendingPathComponent("share/detector/\(name)").path)
        if let repository = developmentRepository(above: binFolder) {
            candidates.append(repository.appendingPathComponent("models/\(name)").path)
        }
    }
    if share == nil { candidates.append(URL(fileURLWithPath: systemShare, isDirectory: true).appendingPathComponent(name).path) }
    return candidates
}

/// The first of `shippedFileCandidates` that exists.
public func shippedFilePath(_ name: String,
                            executablePath: String = currentExecutablePath(),
                            environment: [String: String] = ProcessInfo.processInfo.environment,
                            workingDirectory: String = FileManager.default.currentDirectoryPath,
                            systemShare: String = systemShareFolder) -> String? {
    shippedFileCandidates(name, executablePath: executablePath, environment: environment,
                          workingDirectory: workingDirectory, systemShare: systemShare)
        .first { FileManager.default.fileExists(atPath: $0) }
}

/// The package a development build belongs to: the nearest folder at or above `folder` that
/// holds `Package.swift`, if it also holds `models/`. The search stops at the first
/// `Package.swift`, so a binary installed somewhere inside an unrelated Swift package never
/// takes that package's files.
func developmentRepository(above folder: URL) -> URL? {
    var current = folder.standardizedFileURL
    while true {
        if FileManager.default.fileExists(atPath: current.appendingPathComponent("Package.swift").path) {
            var isFolder: ObjCBool = false
            let models = current.appendingPathComponent("models").path
            return FileManager.default.fileExists(atPath: models, isDirectory: &isFolder) && isFolder.boolValue ? current : nil
        }
        let parent = current.deletingLastPathComponent()
        if parent.path == current.path || current.path == "/" { return nil }
        current = parent
    }
}

/// A config path as given on a command line: the path itself when it exists; a default
/// `models/NAME` missing from the working directory is looked up as a shipped file (so the
/// installed commands work from any directory); otherwise the path unchanged, for the
/// loader to report.
public func resolveConfigPath(_ path: String,
                              executablePath: String = currentExecutablePath(),
                              environment: [String: String] = ProcessInfo.processInfo.environment,
                              workingDirectory: String = FileManager.default.currentDirectoryPath) -> String {
    let absolute = URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: workingDirectory, isDirectory: true)).path
    if FileManager.default.fileExists(atPath: absolute) { return path }
    if path.hasPrefix("models/"),
       let shipped = shippedFilePath(String(path.dropFirst("models/".count)), executablePath: executablePath,
                                     environment: environment, workingDirectory: workingDirectory) {
        return shipped
    }
    return path
}
