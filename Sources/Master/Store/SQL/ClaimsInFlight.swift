import Foundation

/// The jobs this process's MariaDB connections have claimed in transactions
/// that have not ended, and the turn their claims take.
///
/// A master runs two batches at once (one executing while the other
/// commits). The second batch's candidate read still sees the first one's
/// jobs as ready (READ COMMITTED shows the last committed row), so without
/// this it would read them, have its lock skip them, and read again: rows read
/// and locked in vain. So claims take turns within the process (the read, lock
/// and update of one claim, a millisecond or so; none of them waits for a row
/// lock, so holding the turn cannot deadlock), and each read leaves out the
/// jobs of claims whose transactions are still open.
/// Other masters' claims are still kept apart by the lock's SKIP LOCKED.
/// Leaving a job out is safe: if its claim rolls back, the next claim after
/// that finds it.
final class ClaimsInFlight: @unchecked Sendable {
    private let lock = NSLock()
    private var ids: Set<String> = []
    /// Held through one claim's statements, so the next claim's read comes
    /// after this one's jobs are added.
    private let turn = NSLock()

    func claiming<T>(_ body: () throws -> T) rethrows -> T {
        turn.lock()
        defer { turn.unlock() }
        return try body()
    }

    func add(_ claimed: [String]) {
        lock.withLock { ids.formUnion(claimed) }
    }

    func remove(_ ended: [String]) {
        guard !ended.isEmpty else { return }
        lock.withLock { ids.subtract(ended) }
    }

    /// At most `limit` of them (which ones does not matter: leaving one out
    /// is only a saving).
    func some(_ limit: Int) -> [String] {
        lock.withLock { Array(ids.prefix(limit)) }
    }
}
