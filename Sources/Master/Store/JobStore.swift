import Foundation
import Shared

public enum StoreError: Error, CustomStringConvertible {
    case unknownJobs([String])
    case invalid(String)
    /// A row holds a value wdpost does not know: changed by hand, or by a newer release.
    case corruptRow(table: String, id: String, column: String, value: String, expected: String)

    public var description: String {
        switch self {
        case let .unknownJobs(ids): return "unknown job id\(ids.count == 1 ? "" : "s"): \(ids.joined(separator: ", "))"
        case let .invalid(message): return message
        case let .corruptRow(table, id, column, value, expected):
            return "\(table) row \(id): column \(column) holds \"\(value)\", expected one of \(expected) (changed outside wdpost, or by a newer release?)"
        }
    }
}

/// What a backend's error means for the open transaction, so the executor can
/// tell a group it may run again from one whose outcome is unknown.
public protocol StoreTransactionError: Error {
    /// The connection is gone. Before COMMIT was sent this means nothing was
    /// applied (the server rolls back a transaction whose client vanished).
    var isConnectionLost: Bool { get }
    /// The server rolled the whole transaction back (a deadlock victim) and
    /// the connection is still good.
    var isTransactionRolledBack: Bool { get }
}

/// Why a running job was taken back by a sweep.
public struct Expired: Sendable {
    public var id: String
    public var worker: String
    public var reason: String
    public var requeued: Bool
}

/// What a finish did, finer than the wire's `FinishStatus` so the master can
/// log a first acceptance apart from a repeat whose first ack was lost.
public enum FinishOutcome: Sendable {
    case recorded
    /// A failed attempt recorded, and the job has tries left: it will run again.
    case requeued
    case repeated
    case stale

    public var status: FinishStatus { self == .stale ? .stale : .accepted }
}

public struct JobCount: Sendable, Equatable, Codable {
    public var state: String
    public var kind: String
    public var count: Int
    public init(state: String, kind: String, count: Int) { self.state = state; self.kind = kind; self.count = count }
}

/// Retry policy applied by every failure transition.
public struct RetryPolicy: Sendable {
    /// Not before this time (µs) may a failed attempt be claimed again.
    public var notBefore: Int64
    public init(notBefore: Int64) { self.notBefore = notBefore }
    /// Claimable again `micros` after `now` (the store's clock, see `StoreClock`).
    public static func after(_ micros: Int64, from now: Int64) -> RetryPolicy { RetryPolicy(notBefore: now.addingSaturating(micros)) }
}

/// The job table behind one protocol, implemented by SQLite and MariaDB and
/// held to the same conformance tests. Every state transition is one
/// conditional UPDATE keyed on (id, lease, state), so a late packet or a second
/// master can never apply it twice.
///
/// Methods are synchronous and called from the store executor's thread, inside
/// a transaction the executor opens (see `StoreExecutor`).
public protocol JobStore: AnyObject {
    /// Creates or upgrades the schema.
    func migrate() throws

    /// The database server's clock, in µs since the epoch, for `StoreClock`;
    /// nil where the store has no clock of its own (SQLite, in this process).
    func databaseTimeMicros() throws -> Int64?

    func begin() throws
    func commit() throws
    func rollback() throws
    /// Nested scope inside the open transaction, so one failing request in a
    /// group commit does not undo the others.
    func savepoint() throws
    func releaseSavepoint() throws
    func rollbackToSavepoint() throws

    /// Inserts new jobs; a job whose unique key exists returns the existing id.
    func insert(_ jobs: [NewJob], maxTry: Int, now: Int64) throws -> [String]
    /// Moves up to `limit` claimable jobs to Running for `worker`, each with a new lease.
    /// `miners` and `sizes` (empty: any) restrict proof jobs (see `ClaimRestriction`).
    func claim(worker: String, kinds: [String], miners: [String], sizes: [String], limit: Int, now: Int64) throws -> [Job]
    /// Claims for several workers with the same kinds, miners and sizes at once, the
    /// earlier entries first; the jobs of each entry, as `claim` would give them.
    func claim(_ wanted: [ClaimWanted], kinds: [String], miners: [String], sizes: [String], now: Int64) throws -> [[Job]]
    /// Refreshes heartbeats; returns the ids the worker must abort (not held with that lease).
    func heartbeat(_ leases: [JobLease], now: Int64) throws -> [String]
    func finish(_ result: JobResult, now: Int64, retry: RetryPolicy) throws -> FinishOutcome
    /// Several results at once, with the same outcomes as one by one.
    func finish(_ results: [JobResult], now: Int64, retry: RetryPolicy) throws -> [FinishOutcome]
    /// A slave gives back a job it will not finish (shutdown).
    func release(_ lease: JobLease, reason: String, now: Int64, retry: RetryPolicy) throws -> Bool
    // The sweeps below each change at most `limit` rows, so a sweep's
    // transaction stays short however large the backlog: the maintenance
    // tasks call them again until a call changes fewer than its limit. Rows
    // another master is sweeping at the same moment are skipped (MariaDB), not
    // waited for, and every change is conditional, so no row is swept twice.

    /// Running jobs whose heartbeat is older than `heartbeatBefore` or that started before
    /// `startedBefore` go back to ReadyToRun (or Failed when out of tries); at most `limit`.
    func expire(heartbeatBefore: Int64, startedBefore: Int64, now: Int64, retry: RetryPolicy, limit: Int) throws -> [Expired]
    /// Moves at most `limit` jobs finished before the cut-off to the archive table; returns how many.
    func archive(finishedBefore: Int64, limit: Int) throws -> Int
    /// Deletes at most `limit` finished jobs (live first, then archived)
    /// created before the cut-off; ready and running ones stay whatever their
    /// age. Returns how many.
    func purge(createdBefore: Int64, limit: Int) throws -> Int
    /// Whether any job is ready now (used to wake parked pulls after retries fall due).
    func hasReady(kinds: [String], now: Int64) throws -> Bool

    func list(all: Bool) throws -> [Job]
    /// One page of the list (see `JobSQL+List.swift`).
    func list(all: Bool, after: ListCursor?, limit: Int?, brief: Bool, maxBytes: Int) throws -> ListPage
    func get(_ id: String) throws -> Job?
    func reset(_ ids: [String], now: Int64) throws -> Int
    /// Puts a Failed job back to ReadyToRun with its tries renewed (a damocles
    /// task asked again); false when the job is not Failed (it changes nothing then).
    func rerunFailed(_ id: String) throws -> Bool
    func remove(_ ids: [String]) throws -> Int
    func removeAll() throws -> Int
    /// Running jobs per worker, for `wdpost slaves`.
    func runningByWorker() throws -> [String: Int]
    /// Live jobs by state and kind, for metrics and the status page.
    func countByStateAndKind() throws -> [JobCount]
    /// The most recently failed jobs, newest first.
    func latestFailures(limit: Int) throws -> [Job]
}

/// One worker's share of a merged claim.
public struct ClaimWanted: Sendable {
    public var worker: String
    public var limit: Int
    public init(worker: String, limit: Int) { self.worker = worker; self.limit = limit }
}

extension JobStore {
    public func databaseTimeMicros() throws -> Int64? { nil }

    /// The sweeps without a bound: everything due, in one call.
    public func expire(heartbeatBefore: Int64, startedBefore: Int64, now: Int64, retry: RetryPolicy) throws -> [Expired] {
        try expire(heartbeatBefore: heartbeatBefore, startedBefore: startedBefore, now: now, retry: retry, limit: .max)
    }
    public func archive(finishedBefore: Int64) throws -> Int { try archive(finishedBefore: finishedBefore, limit: .max) }
    public func purge(createdBefore: Int64) throws -> Int { try purge(createdBefore: createdBefore, limit: .max) }

    /// One claim per worker (SQLite: each is a read of the same in-process file).
    public func claim(_ wanted: [ClaimWanted], kinds: [String], miners: [String], sizes: [String], now: Int64) throws -> [[Job]] {
        try wanted.map { try claim(worker: $0.worker, kinds: kinds, miners: miners, sizes: sizes, limit: $0.limit, now: now) }
    }

    /// A claim without a sector-size restriction.
    public func claim(worker: String, kinds: [String], miners: [String], limit: Int, now: Int64) throws -> [Job] {
        try claim(worker: worker, kinds: kinds, miners: miners, sizes: [], limit: limit, now: now)
    }

    public func claim(_ wanted: [ClaimWanted], kinds: [String], miners: [String], now: Int64) throws -> [[Job]] {
        try claim(wanted, kinds: kinds, miners: miners, sizes: [], now: now)
    }
}
