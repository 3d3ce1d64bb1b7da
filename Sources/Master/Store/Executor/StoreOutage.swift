/// Whether the database is currently unreachable, and since when, as the
/// executor's workers find out; each outage is news once. The epoch grows
/// with each outage: a connection opened before the latest outage is known to
/// be dead, and replacing it is not news. Kept under the executor's lock.
struct StoreOutage {
    private(set) var active = false
    private(set) var since: Int64 = 0
    private(set) var epoch = 0

    /// A connection of `connectionEpoch` (nil: a connect attempt) failed; true
    /// when that starts an outage, which is then to be reported.
    mutating func lost(connectionEpoch: Int?, now: Int64) -> Bool {
        if active || (connectionEpoch.map { $0 < epoch } ?? false) { return false }
        active = true
        since = now
        epoch += 1
        return true
    }

    /// A connection was made again: how long the outage lasted, when there was one.
    mutating func recovered(now: Int64) -> Int64? {
        guard active else { return nil }
        active = false
        return now - since
    }
}
