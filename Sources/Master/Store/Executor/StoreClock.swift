import Foundation
import Shared

/// The time every store operation is stamped with and compared against
/// (heartbeats, claims, finishes, retries' `not_before`, created_at, the
/// sweeps' cut-offs).
///
/// Masters sharing one MariaDB database judge each other's heartbeats: a
/// master whose clock ran ahead of another's by more than heartbeat_timeout
/// would take back every job the other's slaves are running, and one behind
/// would write heartbeats that look stale to everyone else. So on MariaDB the
/// time is the database server's, the one clock all masters share: it is read
/// on a pool connection before the first group and again every
/// `refreshInterval`, and advanced in between with this host's monotonic clock
/// (so a step of the local wall clock changes nothing either). SQLite has one
/// master, and its time is the local clock.
public final class StoreClock: @unchecked Sendable {
    /// How often the database's clock is read again (one query per interval,
    /// on whichever pool connection runs the next group).
    static let refreshInterval: Int64 = 10_000_000

    private struct Reading {
        /// The database's time (µs since the epoch)…
        var database: Int64
        /// …at this monotonic instant (µs): the middle of the query's round trip.
        var monotonic: Int64
    }

    private let lock = NSLock()
    private var reading: Reading?
    /// The store keeps no clock of its own (SQLite): stop asking.
    private var local = false
    private var refreshing = false

    public init() {}

    /// Now, in µs since the epoch, on the clock the store's rows are compared with.
    public func now() -> Int64 {
        let r = lock.withLock { reading }
        guard let r else { return nowMicros() }
        return r.database + (Self.monotonicMicros() - r.monotonic)
    }

    /// Reads the database's clock on `store` when a reading is due; a failed
    /// read keeps the previous one (the group that follows on this connection
    /// meets the same failure and handles it).
    func refreshIfDue(on store: JobStore) {
        let due = lock.withLock { () -> Bool in
            guard !local else { return false }
            // Until the first reading every connection reads for itself: no
            // group runs on the local clock while another one is reading.
            guard let r = reading else { return true }
            guard !refreshing, Self.monotonicMicros() - r.monotonic >= Self.refreshInterval else { return false }
            refreshing = true
            return true
        }
        guard due else { return }
        let t0 = Self.monotonicMicros()
        let database = Result { try store.databaseTimeMicros() }
        let t1 = Self.monotonicMicros()
        lock.withLock {
            refreshing = false
            switch database {
            case .success(let micros?): reading = Reading(database: micros, monotonic: t0 + (t1 - t0) / 2)
            case .success(nil): local = true
            case .failure: break
            }
        }
    }

    static func monotonicMicros() -> Int64 { Int64(DispatchTime.now().uptimeNanoseconds / 1_000) }
}
