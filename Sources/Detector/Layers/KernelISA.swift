import CKernels
import Foundation

/// The instruction set the engine's hot kernels run on.
///
/// The Swift kernels are compiled for AVX2 (`-target-cpu haswell` in Package.swift), so the
/// binaries run on any x86-64 server since 2015. On a CPU that also has AVX-512 (F, BW, DQ,
/// VL, with the ZMM state enabled by the operating system), the direct first convolution
/// (forward, weight gradient, and fused with its pool), the depthwise 3x3 (forward, weight
/// and input gradients), the GEMM (`multiply`), the batch statistics and the fused batch norm +
/// max pool run on the C kernels of `CKernels` instead, 16 floats per instruction instead of 8.
/// (The AVX2 path's GEMM is a C kernel too, `ck_gemm_avx2`, on x86-64.)
///
/// The choice is made once per process (`selected`): `DETECTOR_ISA=avx2` or `DETECTOR_ISA=avx512`
/// when set, else AVX-512 when the CPU has it. Asking for AVX-512 on a CPU without it, or an
/// unknown value, prints a warning on standard error and keeps AVX2. Tests run a body on a
/// given path with `withActive(_:_:)`, which binds a task-local override, so tests running in
/// parallel do not change each other's path.
///
/// On other architectures the `.avx2` path is the portable Swift SIMD code.
public enum KernelISA: String, Sendable, CaseIterable {
    case avx2, avx512

    /// Whether this CPU and operating system can run the AVX-512 kernels.
    public static let avx512Available: Bool = ck_avx512_usable() != 0

    /// The process-wide path: `DETECTOR_ISA` when set and possible, else the best available.
    public static let selected: KernelISA = choose(environment: ProcessInfo.processInfo.environment["DETECTOR_ISA"],
                                                   avx512Available: avx512Available, warn: warn)

    /// How `selected` is decided from the variable's value (nil when unset): separated from
    /// the process state for the tests.
    static func choose(environment value: String?, avx512Available: Bool, warn: (String) -> Void) -> KernelISA {
        let best: KernelISA = avx512Available ? .avx512 : .avx2
        guard let value, !value.isEmpty else { return best }
        guard let requested = KernelISA(rawValue: value.lowercased()) else {
            warn("DETECTOR_ISA=\(value) is neither avx2 nor avx512; using \(best.rawValue)")
            return best
        }
        if requested == .avx512 && !avx512Available {
            warn("DETECTOR_ISA=avx512 but this CPU (or its operating system) has no AVX-512; using avx2")
            return .avx2
        }
        return requested
    }

    private static func warn(_ message: String) {
        FileHandle.standardError.write(Data("detector: \(message)\n".utf8))
    }

    /// A path bound for the current task (and the tasks it starts) by `withActive`.
    @TaskLocal static var override: KernelISA?

    /// The path a kernel called now takes. Kernels read it once, on the calling thread, before
    /// splitting work between the cores (the kept worker thread does not see a task's override).
    public static var active: KernelISA { override ?? selected }

    /// Runs `body` with the kernels on `isa` (in this task only).
    /// - Precondition: `isa` is `.avx2` or AVX-512 is available.
    public static func withActive<Result>(_ isa: KernelISA, _ body: () throws -> Result) rethrows -> Result {
        precondition(isa == .avx2 || avx512Available, "AVX-512 kernels requested on a CPU without AVX-512")
        return try $override.withValue(isa, operation: body)
    }
}

extension Activation {
    /// The activation's code in the C kernels' interface (CKernels.h).
    var kernelCode: Int32 {
        switch self {
        case .leaky: 0
        case .relu: 1
        case .relu6: 2
        case .linear: 3
        }
    }
}
