import Testing
@testable import Detector

@Suite struct ProgressTests {
    @Test func progressLine() {
        #expect(progressText(done: 0, total: 10, elapsedSeconds: 0) == "0/10 images")
        #expect(progressText(done: 5, total: 10, elapsedSeconds: 2) == "5/10 images, 2.5 images/s, ETA 2s")
        #expect(progressText(done: 10, total: 10, elapsedSeconds: 4) == "10/10 images, 2.5 images/s")
        #expect(progressText(done: 100, total: 10_000, elapsedSeconds: 10) == "100/10000 images, 10.0 images/s, ETA 16m30s")
    }

    @Test(arguments: [(0.4, "0s"), (59.4, "59s"), (59.6, "1m00s"), (61, "1m01s"), (3599.4, "59m59s"), (3599.6, "1h00m"),
                      (7530, "2h06m"), (Double.infinity, "?")])
    func durations(seconds: Double, text: String) {
        #expect(durationText(seconds) == text)
    }

    /// Tenths below a minute; beyond an hour the whole minutes (7530 s is 2h05m, where
    /// `durationText` rounds to 2h06m).
    @Test(arguments: [(0.44, "0.4 s"), (3, "3.0 s"), (59.94, "59.9 s"), (60, "1m00s"), (245.4, "4m05s"), (3599.6, "1h00m"),
                      (7530, "2h05m"), (Double.nan, "?")])
    func durationsWithTenths(seconds: Double, text: String) {
        #expect(durationTextWithTenths(seconds) == text)
    }
}
