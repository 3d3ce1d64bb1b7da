import Foundation

/// A slave's (or pin's) name as the master stores and compares it.
///
/// Names are compared byte-wise by both stores (`GROUP BY worker`, the pin
/// match), but as Swift strings in memory, where canonically equal spellings
/// (precomposed "café" and "cafe" + U+0301) are one key. Normalising to NFC
/// where a name enters makes the two agree. Also refused, because they make
/// a name that reads as another or forges lines in logs and tables:
/// - control characters (C0, C1: newline, escape, …) and the line and
///   paragraph separators U+2028/2029;
/// - format characters (Unicode category Cf: U+FEFF, zero-width spaces and
///   joiners, bidirectional overrides such as U+202E), invisible in output;
/// - surrogate code points (never valid text);
/// - more than `maxBytes` bytes of UTF-8 after normalisation (MariaDB
///   `worker VARCHAR(255)`: a longer name could never claim there).
public enum PeerName {
    public static let maxBytes = 255

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    /// `raw` in NFC, or an error naming `what` (e.g. "slave name") and what is wrong.
    public static func validated(_ raw: String, what: String) throws -> String {
        let name = raw.precomposedStringWithCanonicalMapping
        guard !name.isEmpty else { throw Invalid(description: "\(what): must not be empty") }
        if let bad = name.unicodeScalars.first(where: isRefused) {
            throw Invalid(description: "\(what): \(quoted(name)) contains \(describe(bad)), which names may not hold (control, line-separator and invisible format characters are refused)")
        }
        let bytes = name.utf8.count
        guard bytes <= maxBytes else {
            throw Invalid(description: "\(what): \(bytes) bytes of UTF-8, over the limit of \(maxBytes)")
        }
        return name
    }

    public static func isRefused(_ s: Unicode.Scalar) -> Bool {
        switch s.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator, .surrogate: return true
        default: return false
        }
    }

    public static func describe(_ s: Unicode.Scalar) -> String {
        "U+" + String(s.value, radix: 16, uppercase: true).leftPadded(to: 4)
    }

    /// The name for an error message: escaped, and cut if long.
    public static func quoted(_ name: String) -> String {
        let shown = name.unicodeScalars.prefix(64).map { isRefused($0) ? "\\u{\(String($0.value, radix: 16))}" : String($0) }.joined()
        return "\"\(shown)\(name.unicodeScalars.count > 64 ? "…" : "")\""
    }
}

extension String {
    fileprivate func leftPadded(to n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}
