import Foundation

/// A slave's `allowed_miners` and `allowed_sizes` as a claim's SQL condition.
/// Jobs without a miner (or a size) are not proof jobs and stay claimable by
/// every slave that runs their kind.
///
/// Miners are matched by actor number however they are written: damocles
/// sends `miner_id` 1037 (stored as "1037"), while operators write
/// `f01037` or `t01037` in a slave's config, so each allowed miner stands
/// for all three spellings.
struct ClaimRestriction {
    let sql: String
    let params: [SQLValue]

    init(miners: [String], sizes: [String]) {
        var sql = ""
        var params: [SQLValue] = []
        let spellings = Self.spellings(miners)
        if !spellings.isEmpty {
            sql += " AND (miner_id = '' OR miner_id IN (\(Self.placeholders(spellings.count))))"
            params += spellings.map { .text($0) }
        }
        if !sizes.isEmpty {
            sql += " AND (sector_size = '' OR sector_size IN (\(Self.placeholders(sizes.count))))"
            params += sizes.map { .text($0) }
        }
        self.sql = sql
        self.params = params
    }

    static func placeholders(_ n: Int) -> String { Array(repeating: "?", count: n).joined(separator: ",") }

    /// Every spelling of the miners named: "1037", "f01037" and "t01037" for
    /// any of the three; a name that is not an actor id as it is. Each once,
    /// in a stable order (the statement is prepared once per length).
    static func spellings(_ miners: [String]) -> [String] {
        var out: [String] = []
        var seen = Set<String>()
        for miner in miners {
            let forms = actorNumber(miner).map { [$0, "f0" + $0, "t0" + $0] } ?? [miner]
            for form in forms where seen.insert(form).inserted { out.append(form) }
        }
        return out
    }

    /// The actor number of "1037", "f01037" or "t01037"; nil for anything else.
    static func actorNumber(_ miner: String) -> String? {
        var digits = Substring(miner)
        if let first = digits.first, first == "f" || first == "t" {
            digits = digits.dropFirst()
            guard digits.first == "0", digits.count > 1 else { return nil }
            digits = digits.dropFirst()
        }
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let n = UInt64(digits) else { return nil }
        return String(n)
    }
}
