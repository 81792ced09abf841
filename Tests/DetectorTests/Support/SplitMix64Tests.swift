import Testing
import Detector

@Suite struct SplitMix64Tests {
    @Test func splitMixIsDeterministic() {
        var a = SplitMix64(seed: 42), b = SplitMix64(seed: 42)
        #expect((0..<10).map { _ in a.next() } == (0..<10).map { _ in b.next() })
        // First output of SplitMix64 seeded with 0 (reference value of the published algorithm).
        var z = SplitMix64(seed: 0)
        #expect(z.next() == 0xE220_A839_7B1D_CDAF)
    }

    /// The published algorithm by hand for seed 1: the state advances by the golden gamma
    /// 0x9E3779B97F4A7C15 and the output is the state mixed (xor-shift 30, × 0xBF58476D1CE4E5B9,
    /// xor-shift 27, × 0x94D049BB133111EB, xor-shift 31), so the first outputs are those of the
    /// mix of 1 + γ, 1 + 2γ, ...
    @Test func outputsAreTheMixOfTheAdvancingState() {
        func mix(_ x: UInt64) -> UInt64 {
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        var rng = SplitMix64(seed: 1)
        for k in 1...5 { #expect(rng.next() == mix(1 &+ UInt64(k) &* 0x9E37_79B9_7F4A_7C15)) }
    }

    /// 24 bits of the first output of seed 0 (0xE220A8...): 0xE220A8 / 2^24.
    @Test func unitFloatTakesTheTop24Bits() {
        var z = SplitMix64(seed: 0)
        #expect(z.nextUnitFloat() == Float(0xE2_20A8) / 16_777_216)
    }

    @Test func differentSeedsGiveDifferentStreams() {
        var a = SplitMix64(seed: 1), b = SplitMix64(seed: 2)
        #expect((0..<4).map { _ in a.next() } != (0..<4).map { _ in b.next() })
    }
}
