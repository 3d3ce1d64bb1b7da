import Foundation

/// JSON text exactly as Python's `json.dumps(value, sort_keys=True,
/// separators=(",", ":"), ensure_ascii=True)` writes it, for the values a
/// ComputeChain payload holds (strings, integers, null, flat objects): the
/// transaction hash covers these bytes, so they must match the node's.
public enum PythonJSON: Sendable, Equatable {
    case string(String)
    case int(Int64)
    case null
    case object([String: PythonJSON])

    public var text: String {
        switch self {
        case let .string(s): return Self.quoted(s)
        case let .int(i): return String(i)
        case .null: return "null"
        case let .object(fields):
            // sort_keys sorts by code point, as Swift's String comparison does for these keys.
            let parts = fields.keys.sorted { Array($0.unicodeScalars.map(\.value)).lexicographicallyPrecedes($1.unicodeScalars.map(\.value)) }
                .map { "\(Self.quoted($0)):\(fields[$0]!.text)" }
            return "{" + parts.joined(separator: ",") + "}"
        }
    }

    /// Python's ensure_ascii escaping: the short escapes, other control
    /// characters and everything past ASCII as \uXXXX (UTF-16 halves past the BMP).
    static func quoted(_ s: String) -> String {
        var out = "\""
        for unit in s.utf16 {
            switch unit {
            case 0x22: out += "\\\""
            case 0x5c: out += "\\\\"
            case 0x0a: out += "\\n"
            case 0x0d: out += "\\r"
            case 0x09: out += "\\t"
            case 0x08: out += "\\b"
            case 0x0c: out += "\\f"
            case 0x20...0x7e: out.unicodeScalars.append(UnicodeScalar(UInt8(unit)))
            default: out += String(format: "\\u%04x", unit)
            }
        }
        return out + "\""
    }
}
