/// Text from outside (names, errors, a processor's stderr) made safe for a
/// log line or a table cell: control characters escaped, so no peer can
/// start a forged line, and long text cut, so no peer can make one line
/// megabytes long.
public enum LogText {
    /// Longest text kept whole in one log field (the message or a metadata value).
    public static let maxFieldBytes = 8 << 10

    public static func escaped(_ text: String, maxBytes: Int = maxFieldBytes) -> String {
        var plain = text.utf8.count <= maxBytes
        if plain {
            for scalar in text.unicodeScalars where needsEscape(scalar) { plain = false; break }
        }
        if plain { return text }
        var out = ""
        var bytes = 0
        for scalar in text.unicodeScalars {
            let piece: String
            switch scalar {
            case "\n": piece = "\\n"
            case "\r": piece = "\\r"
            case "\t": piece = "\\t"
            default: piece = needsEscape(scalar) ? "\\u{\(String(scalar.value, radix: 16))}" : String(scalar)
            }
            bytes += piece.utf8.count
            if bytes > maxBytes {
                out += "…[\(text.utf8.count) bytes, cut]"
                break
            }
            out += piece
        }
        return out
    }

    /// C0 and C1 controls, DEL, and the Unicode line and paragraph separators.
    static func needsEscape(_ s: Unicode.Scalar) -> Bool {
        s.value < 0x20 || (0x7f...0x9f).contains(s.value) || s.value == 0x2028 || s.value == 0x2029
    }
}
