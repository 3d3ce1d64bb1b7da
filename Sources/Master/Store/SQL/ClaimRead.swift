/// The ranges a claim's candidate read covers, shared by both stores.
///
/// Both claim indexes lead with (state, kind) and follow with claim order,
/// so the ready jobs of one kind are one range already in order: the read
/// never passes over jobs of kinds it did not ask for, so a backlog of a kind
/// no connected slave runs costs the other kinds' claims nothing. For several
/// kinds, each kind's range is read up to what the claim may need and the
/// heads are merged; `kind IN (…)` would read every ready job of those kinds
/// and sort them. The other conditions (`filter`: a retry not yet due,
/// another worker's pin, another miner) are checked on each row the range
/// read passes; jobs they turn away ahead of a kind's ready ones are
/// stepped over by every claim of that kind. Those columns are not in the
/// keys: MariaDB's planner did not reliably check them in the index, the cost
/// still grew with the rows turned away, and SQLite's key cannot take them
/// without losing its submit-order tie-break (docs/BENCHMARKS.md has the
/// figures).
struct ClaimRead {
    /// Distinct, in the order asked.
    let kinds: [String]
    /// Conditions besides state and kind, with `filterParams` for their `?`s.
    let filter: String
    let filterParams: [SQLValue]
    /// Claim order, as an ORDER BY list over the index's order columns.
    let order: String

    init(kinds: [String], filter: String, filterParams: [SQLValue], order: String) {
        var seen = Set<String>()
        self.kinds = kinds.filter { seen.insert($0).inserted }
        self.filter = filter
        self.filterParams = filterParams
        self.order = order
    }

    /// One kind's range: `select` of its first `?` ready jobs in claim order.
    func range(_ select: String) -> String {
        "SELECT \(select) FROM jobs WHERE state = 'ReadyToRun' AND kind = ? AND \(filter) ORDER BY \(order) LIMIT ?"
    }

    /// The parameters of one `range` per kind, in `kinds` order, each cut at `limit`.
    func rangeParams(limit: Int) -> [SQLValue] {
        kinds.flatMap { [SQLValue.text($0)] + filterParams + [.int(Int64(limit))] }
    }

    /// The ranges of all kinds as one UNION ALL, each range made a member by
    /// `member` (MariaDB takes a parenthesised read; SQLite takes no
    /// parentheses there, only a subquery).
    func ranges(_ select: String, member: (String) -> String = { "(\($0))" }) -> String {
        Array(repeating: member(range(select)), count: kinds.count).joined(separator: " UNION ALL ")
    }
}
