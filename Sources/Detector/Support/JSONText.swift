import Foundation

/// `s` as a JSON string literal (RFC 8259 §7), quotes included: `"` and `\` escaped, newline,
/// carriage return and tab as `\n`, `\r`, `\t`, every other scalar below U+0020 as `\uXXXX`
/// (JSON's requirement), and the scalars `alsoEscaping` picks as `\uXXXX` too (one per UTF-16
/// unit, so a surrogate pair above U+FFFF). Every other character stays as it is (written as
/// UTF-8), so any JSON parser reads the literal back to exactly `s`.
///
/// The one JSON string escaper of the toolkit: the safetensors header, the model config's
/// JSON text, detect's JSON and text outputs (`textField` passes the invisible characters), the
/// COCO results and the evaluation and import summaries all write strings through it.
func jsonString(_ s: String, alsoEscaping: (Unicode.Scalar) -> Bool) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if scalar.value < 0x20 || alsoEscaping(scalar) {
                for unit in String(scalar).utf16 { out += String(format: "\\u%04x", unit) }
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out + "\""
}

/// `jsonString(_:alsoEscaping:)` escaping only what JSON requires.
func jsonString(_ s: String) -> String { jsonString(s, alsoEscaping: { _ in false }) }
