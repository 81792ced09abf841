import Foundation

/// An exclusive advisory lock on a file (`flock(2)`, LOCK_EX | LOCK_NB), held until `unlock()`
/// or until the process ends (the kernel drops it with the descriptor, so a killed holder never
/// leaves a stale lock). The holder writes its pid into the file so that a refused writer can
/// name it. The file itself stays: unlinking a lock file lets a third process lock a new inode
/// while the second still holds the old one.
///
/// flock locks belong to the open file description, so two `FileLock`s on the same path
/// exclude each other even inside one process.
public final class FileLock {
    public let path: String
    private var descriptor: Int32

    /// Takes the lock or throws `FileLockError` at once (never waits).
    public init(path: String) throws {
        self.path = path
        descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw FileLockError(path: path, kind: .cannotOpen, holder: nil, reason: String(cString: strerror(errno)))
        }
        if flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            let holder = FileLock.recordedPid(descriptor)
            close(descriptor)
            if code == EWOULDBLOCK {
                throw FileLockError(path: path, kind: .held, holder: holder, reason: "held by another process")
            }
            throw FileLockError(path: path, kind: .cannotOpen, holder: nil, reason: String(cString: strerror(code)))
        }
        // Ours now: record the pid (best effort; the lock does not depend on it).
        let text = Array("\(getpid())\n".utf8)
        _ = ftruncate(descriptor, 0)
        _ = text.withUnsafeBufferPointer { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
    }

    /// Releases the lock (idempotent).
    public func unlock() {
        guard descriptor >= 0 else { return }
        _ = flock(descriptor, LOCK_UN)
        close(descriptor)
        descriptor = -1
    }

    deinit { unlock() }

    /// The pid the holder wrote into the file, if any.
    private static func recordedPid(_ descriptor: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = buffer.withUnsafeMutableBufferPointer { pread(descriptor, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { return nil }
        let text = String(decoding: buffer.prefix(count), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return Int32(text)
    }
}

public struct FileLockError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable { case held, cannotOpen }
    public var path: String
    public var kind: Kind
    /// The pid recorded by the holder, when the lock is held.
    public var holder: Int32?
    public var reason: String
    public var description: String {
        switch kind {
        case .held: return "\(path): locked by another process\(holder.map { " (pid \($0))" } ?? "")"
        case .cannotOpen: return "\(path): cannot open the lock file: \(reason)"
        }
    }
}
