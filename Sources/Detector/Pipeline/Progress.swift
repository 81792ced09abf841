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

// Two ways to write a duration, side by side because their texts differ and both are printed
// (and asserted by the tests): `durationText`, whole seconds, for progress lines, ETAs, the
// epoch lines and the command's summaries (`its time budget of 3s`); `durationTextWithTenths`,
// tenths below a minute, for the trainer's own time-budget messages (`time budget reached: 2
// epochs in 2.9 s of 3.0 s`), where a budget of seconds still shows how much of it was used.

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

/// A duration as `42.0 s` below a minute, else as `4m05s` (rounded to the second) or `1h02m`
/// (the rounded seconds' whole minutes, not rounded to the minute as in `durationText`).
func durationTextWithTenths(_ seconds: Double) -> String {
    guard seconds.isFinite else { return "?" }
    if seconds < 60 { return String(format: "%.1f s", seconds) }
    let s = Int(seconds.rounded())
    return s >= 3600 ? String(format: "%dh%02dm", s / 3600, s % 3600 / 60) : String(format: "%dm%02ds", s / 60, s % 60)
}
