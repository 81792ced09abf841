// Text helpers of the evaluation plots (PRCurvePlot, ConfusionMatrixPlot), on top of the
// public drawing API (`drawText`, `textWidth`, `textHeight`), so they follow whatever font
// that draws.

/// `text` cut to at most `width` pixels at `scale`, ending in ".." when cut ("" when not even
/// that fits).
func fittedText(_ text: String, width: Int, scale: Int = 1) -> String {
    if textWidth(text, scale: scale) <= width { return text }
    var kept = Substring(text)
    while !kept.isEmpty {
        kept = kept.dropLast()
        let candidate = kept + ".."
        if textWidth(String(candidate), scale: scale) <= width { return String(candidate) }
    }
    return ""
}

extension Image {
    /// Text turned a quarter turn anticlockwise (read from bottom to top, as a y-axis title),
    /// the top-left corner of its rotated box at (x, y): `textHeight` wide, `textWidth` high.
    mutating func drawTextUpwards(_ text: String, x: Int, y: Int, color: RGB, scale: Int = 1) {
        let w = textWidth(text, scale: scale), h = textHeight(scale: scale)
        guard w > 0 else { return }
        // Draw horizontally on a blank strip, then copy the inked pixels rotated:
        // strip (u, v) goes to (x + v, y + w − 1 − u).
        var strip = Image(width: w, height: h, fill: (255, 255, 255))
        let ink = color == .white ? RGB.black : color
        strip.drawText(text, x: 0, y: 0, color: ink, scale: scale)
        for v in 0..<h {
            for u in 0..<w where strip.pixel(x: u, y: v) != .white {
                setPixel(x: x + v, y: y + w - 1 - u, color)
            }
        }
    }
}
