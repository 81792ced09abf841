import ArgumentParser
import Detector
import Foundation

// What the commands share: one way to print an error, one exit status for every error a user
// can cause, and the engine's --threads option.

/// An error of a command itself (not of the library), printed as `error: MESSAGE`.
public struct CommandError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Writes one line to standard error.
public func log(_ text: String) { FileHandle.standardError.write(Data((text + "\n").utf8)) }

/// How both commands report an error: `error: ` and the error's (or message's) description.
public func errorLine(_ error: Any) -> String { "error: \(error)" }

/// Writes `errorLine(error)` to standard error.
public func logError(_ error: Any) { log(errorLine(error)) }

/// Runs `body`; any error other than ArgumentParser's own (an exit code, a validation error)
/// is printed as `error: ...` and becomes exit status 1.
public func report<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let error as ExitCode { throw error } catch let error as ValidationError {
        throw error
    } catch {
        logError(error)
        throw ExitCode.failure
    }
}

extension ParsableCommand {
    /// ArgumentParser's own main, except that bad input (a value out of range, a malformed
    /// number, an unknown option: its exit code 64) exits 1 like every other error of the
    /// command, with ArgumentParser's message and usage. `--help` still exits 0.
    public static func mainExitingOneOnBadInput(_ arguments: [String]? = nil) -> Never {
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
            exit()
        } catch {
            if exitCode(for: error) == .validationFailure {
                log(fullMessage(for: error))
                Foundation.exit(ExitCode.failure.rawValue)
            }
            exit(withError: error)
        }
    }
}

/// `--threads N`, the engine's thread count, for every command that runs the network. Without
/// it, `DETECTOR_THREADS`, else the CPUs the process may use (see `Engine`). Both are checked
/// while the arguments are parsed, so a bad value exits 1 before anything is read.
public struct EngineOptions: ParsableArguments {
    @Option(help: "Threads of the engine (the caller and N - 1 workers), \(Engine.threadCountRange.lowerBound) to \(Engine.threadCountRange.upperBound). Default: $\(Engine.environmentVariable), else the CPUs this process may use (\(Engine.availableProcessorCount) here).")
    public var threads: Int?

    public init() {}

    public func validate() throws {
        do { _ = try resolvedThreadCount() } catch { throw ValidationError("\(error)") }
    }

    /// --threads, else DETECTOR_THREADS, else nil (the engine's default).
    public func resolvedThreadCount(environment: [String: String] = ProcessInfo.processInfo.environment) throws(EngineError) -> Int? {
        if let threads {
            guard Engine.threadCountRange.contains(threads) else { throw .threadCountOutOfRange(threads, source: "--threads") }
            return threads
        }
        return try Engine.threadCount(environment: environment)
    }

    /// Sets the engine's process-wide thread count; call it before building a network.
    public func apply() throws {
        if let count = try resolvedThreadCount() { try Engine.setThreadCount(count) }
    }
}
