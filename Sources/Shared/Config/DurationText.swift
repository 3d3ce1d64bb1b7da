import Foundation

/// Parses the duration strings used in the config files: Go's format (`15s`,
/// `10m`, `25h0m0s`, `1.5h`, `300ms`) plus whole days (`2days`, `1day`, `3d`),
/// which operators of the Go predecessor already write. Values are microseconds,
/// the unit of every timestamp in the store.
public enum DurationText {
    public struct ParseError: Error, CustomStringConvertible {
        public let text: String
        /// Set when the text is a duration, but longer than `maxMicros`.
        public var tooLong = false
        public var description: String {
            tooLong ? "\"\(text)\" is longer than the longest duration allowed, \(DurationText.maxText)"
                : "\"\(text)\" is not a duration (expected e.g. \"15s\", \"10m\", \"25h0m0s\", \"2days\")"
        }
    }

    /// The longest duration any setting takes: 100 years. Every duration is
    /// added to the current time (µs since 1970, about 1.8 × 10^15) or turned
    /// into nanoseconds for a timer; this bound keeps both far inside Int64
    /// (10^18 of headroom) so no setting can make the arithmetic overflow.
    public static let maxMicros: Int64 = 36_525 * 86_400 * 1_000_000
    public static let maxText = "36525days (100 years)"

    private static let units: [(String, Double)] = [
        // Longest names first so "ms" is not read as "m" followed by garbage.
        ("days", 86_400e6), ("day", 86_400e6), ("ns", 1e-3), ("us", 1), ("µs", 1),
        ("ms", 1e3), ("d", 86_400e6), ("h", 3_600e6), ("m", 60e6), ("s", 1e6),
    ]

    public static func micros(_ text: String) throws -> Int64 {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed == "0" { return 0 }
        var rest = Substring(trimmed)
        guard !rest.isEmpty else { throw ParseError(text: text) }
        var total = 0.0
        var tooLong = false
        while !rest.isEmpty {
            let number = rest.prefix(while: { ("0"..."9").contains($0) || $0 == "." })
            guard !number.isEmpty, let value = Double(number), value.isFinite else { throw ParseError(text: text) }
            rest = rest.dropFirst(number.count)
            guard let unit = units.first(where: { rest.hasPrefix($0.0) }) else { throw ParseError(text: text) }
            rest = rest.dropFirst(unit.0.count)
            // Checked term by term, so no sum of huge terms can leave Double's exact range unnoticed.
            let term = value * unit.1
            if !term.isFinite || term > Double(maxMicros) { tooLong = true }
            total += term
        }
        // The whole text is parsed first: a malformed one is reported as such, not as too long.
        guard !tooLong, total <= Double(maxMicros) else { throw ParseError(text: text, tooLong: true) }
        return Int64(total.rounded())
    }

    /// Short human form for tables: `850ms`, `12s`, `3m4s`, `2h5m`, `3d4h`.
    public static func format(micros: Int64) -> String {
        if micros < 0 { return "-" }
        if micros < 1_000_000 { return "\(micros / 1000)ms" }
        let s = micros / 1_000_000
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m\(s % 60)s" }
        if s < 86_400 { return "\(s / 3600)h\(s % 3600 / 60)m" }
        return "\(s / 86_400)d\(s % 86_400 / 3600)h"
    }
}

/// Wall-clock time in microseconds since the Unix epoch.
public func nowMicros() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
}
