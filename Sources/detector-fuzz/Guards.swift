import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

// A trap (a Swift runtime error, a precondition, an overflow, a failed allocation, a signal
// from libpng) kills the process, so nothing after it can be reported from ordinary code. What
// the runner does instead: it writes each input to the crash file before the case runs, a
// signal handler prints which target and case died and where its input is, and a watchdog
// thread ends a case that runs too long. These globals are what the handler and the watchdog
// read; they are written only by the fuzzing thread, between cases.

/// Index of the case running now, -1 between cases.
let currentCase = Atomic<Int>(-1)
/// When the running case started: the fuzzing thread's CPU time and the wall clock (ns).
let caseStartCPU = Atomic<Int>(0)
let caseStartWall = Atomic<Int>(0)

/// The crash note for the running target ("target png, input runs/fuzz/current-png.bin"),
/// as a C string the signal handler can write without allocating.
nonisolated(unsafe) var crashNote: UnsafeMutablePointer<CChar>? = nil
nonisolated(unsafe) var crashNoteLength = 0
/// The handlers installed before ours, by signal number.
nonisolated(unsafe) let previousActions = UnsafeMutablePointer<sigaction>.allocate(capacity: 65)
nonisolated(unsafe) var fuzzThreadClock = clockid_t(CLOCK_THREAD_CPUTIME_ID)

func nanoseconds(_ clock: clockid_t) -> Int {
    var t = timespec()
    clock_gettime(clock, &t)
    return t.tv_sec * 1_000_000_000 + t.tv_nsec
}

/// Sets the note the signal handler prints for the target about to run.
func setCrashNote(_ text: String) {
    crashNote?.deallocate()
    let bytes = Array(text.utf8)
    let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count + 1)
    for (i, b) in bytes.enumerated() { buffer[i] = CChar(bitPattern: b) }
    buffer[bytes.count] = 0
    crashNote = buffer
    crashNoteLength = bytes.count
}

/// Writes "detector-fuzz: CRASH (signal N) at case I of <note>" with write(2) only, then
/// restores the previous handler and returns: the faulting instruction runs again (or abort
/// raises again) and the previous handler (Swift's backtracer, or the default) takes over.
private func crashHandler(_ number: Int32) {
    func put(_ text: StaticString) { _ = write(2, text.utf8Start, text.utf8CodeUnitCount) }
    func putNumber(_ value: Int) {
        var digits: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        var n = value < 0 ? 0 : value, k = digits.count
        repeat { k -= 1; digits[k] = UInt8(48 + n % 10); n /= 10 } while n > 0 && k > 0
        digits.withUnsafeBufferPointer { _ = write(2, $0.baseAddress! + k, digits.count - k) }
    }
    put("\ndetector-fuzz: CRASH (signal ")
    putNumber(Int(number))
    let index = currentCase.load(ordering: .relaxed)
    if index >= 0 { put(") at case "); putNumber(index); put(" of ") } else { put(") in the harness itself, between cases of ") }
    if let note = crashNote { _ = write(2, note, crashNoteLength) }
    put("\n")
    sigaction(number, previousActions + Int(number), nil)
}

func installCrashHandler() {
    for sig in [SIGILL, SIGTRAP, SIGSEGV, SIGBUS, SIGABRT, SIGFPE] {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { crashHandler($0) }
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0
        sigaction(sig, &action, previousActions + Int(sig))
    }
}

/// Starts the watchdog: a case that has used `cpuLimit` seconds of the fuzzing thread's CPU
/// (or 10 times that of wall time, for a case blocked rather than spinning) is a hang: the
/// watchdog prints the case and its input and exits with status 3.
func startWatchdog(cpuLimit: Double) {
    var clock = clockid_t()
    pthread_getcpuclockid(pthread_self(), &clock)
    fuzzThreadClock = clock
    let cpuNanos = Int(cpuLimit * 1e9), wallNanos = Int(cpuLimit * 10e9)
    let thread = Thread {
        while true {
            usleep(50_000)
            let index = currentCase.load(ordering: .acquiring)
            guard index >= 0 else { continue }
            let cpu = nanoseconds(fuzzThreadClock) - caseStartCPU.load(ordering: .relaxed)
            let wall = nanoseconds(CLOCK_MONOTONIC) - caseStartWall.load(ordering: .relaxed)
            guard currentCase.load(ordering: .acquiring) == index, cpu > cpuNanos || wall > wallNanos else { continue }
            let note = crashNote.map { String(cString: $0) } ?? ""
            FileHandle.standardError.write(Data(String(format: "\ndetector-fuzz: HANG: case %d of %@ ran %.1f s (CPU %.1f s; the limit is %.1f s of CPU)\n",
                                                       index, note, Double(wall) / 1e9, Double(cpu) / 1e9, cpuLimit).utf8))
            _exit(3)
        }
    }
    thread.stackSize = 1 << 20
    thread.start()
}

/// Marks the start and the end of a case for the watchdog and the crash handler.
func beginCase(_ index: Int) {
    caseStartCPU.store(nanoseconds(fuzzThreadClock), ordering: .relaxed)
    caseStartWall.store(nanoseconds(CLOCK_MONOTONIC), ordering: .relaxed)
    currentCase.store(index, ordering: .releasing)
}

func endCase() { currentCase.store(-1, ordering: .releasing) }

/// Caps the address space, so that a loader allocating without bound fails its allocation
/// (a trap, reported with its input) instead of swapping or waking the OOM killer.
func limitMemory(megabytes: Int) {
    guard megabytes > 0 else { return }
    var limit = rlimit(rlim_cur: rlim_t(megabytes) << 20, rlim_max: rlim_t(megabytes) << 20)
    var current = rlimit()
    getrlimit(__rlimit_resource_t(RLIMIT_AS.rawValue), &current)
    // A lower hard limit stays (RLIM_INFINITY is the largest value, so it never is lower).
    if current.rlim_max < limit.rlim_max { limit.rlim_cur = current.rlim_max; limit.rlim_max = current.rlim_max }
    setrlimit(__rlimit_resource_t(RLIMIT_AS.rawValue), &limit)
}

/// glibc's checking allocator (libc_malloc_debug with glibc.malloc.check=3) puts a check byte
/// after every allocation and aborts at free when it was overwritten: a heap overflow in C code
/// (libpng writing past the pixel buffer) becomes a crash at the case that caused it instead
/// of silent corruption found much later, if ever. Re-executes this program with it preloaded
/// when the library exists and it is not loaded yet; returns (and runs unchecked) otherwise.
func reexecWithMallocCheck() {
    let env = ProcessInfo.processInfo.environment
    guard env["DETECTOR_FUZZ_MALLOC_CHECK"] == nil else { return }
    let candidates = ["/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/lib64", "/usr/lib64"]
        .map { $0 + "/libc_malloc_debug.so.0" }
    guard let library = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else { return }
    setenv("DETECTOR_FUZZ_MALLOC_CHECK", library, 1)
    setenv("LD_PRELOAD", [env["LD_PRELOAD"], library].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ":"), 1)
    setenv("GLIBC_TUNABLES", [env["GLIBC_TUNABLES"], "glibc.malloc.check=3"].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ":"), 1)
    execv("/proc/self/exe", CommandLine.unsafeArgv)
    unsetenv("DETECTOR_FUZZ_MALLOC_CHECK")  // exec failed: carry on without the check
}
