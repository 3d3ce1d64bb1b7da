import Shared

/// Leases are random so that no two claims, on any master, share one.
enum JobLeaseToken {
    static func make() -> Int64 {
        let v = SecureRandom.int64() & Int64.max
        return v == 0 ? 1 : v
    }
}
