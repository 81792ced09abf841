import Foundation

/// The progress line of a long run, e.g. `1200/10000 images, 45.3 images/s, ETA 3m14s`: how
/// many are done, the rate so far and the time left at that rate (none before the first
/// image is done or once all are).
public func progressText(done: Int, total: Int, elapsedSeconds: Double) -> String {
    var text = "\(done)/\(total) images"
    guard done > 0, elapsedSeconds > 0 else { return text }
    let rate = Double(done) / elapsedSeconds
    text += String(format: ", %.1f images/s", rate)
    if done < total { text += ", ETA " + durationText(Double(total - done) / rate) }
    return text
}

/// A duration as `42s`, `3m14s` or `2h05m` (rounded to the second, or to the minute beyond
/// an hour).
public func durationText(_ seconds: Double) -> String {
    guard seconds.isFinite else { return "?" }
    let s = Int(seconds.rounded())
    if s < 60 { return "\(s)s" }
    if s < 3600 { return "\(s / 60)m\(String(format: "%02d", s % 60))s" }
    let m = Int((seconds / 60).rounded())
    return "\(m / 60)h\(String(format: "%02d", m % 60))m"
}

/// An epoch's times for its log line, training and validation apart:
/// `train 12.3 s (210 img/s), val 1.4 s`. `trainSeconds` is the time of the epoch's training
/// steps (waiting for a batch included, validation and checkpoints not) and `imagesPerSecond`
/// its images over that time (`EpochSummary.seconds`, `.imagesPerSecond`); `val` only when
/// the epoch was validated.
public func epochTimesText(trainSeconds: Double, imagesPerSecond: Double, validationSeconds: Double?) -> String {
    var text = String(format: "train %.1f s (%.0f img/s)", trainSeconds, imagesPerSecond)
    if let validationSeconds { text += String(format: ", val %.1f s", validationSeconds) }
    return text
}
