import Foundation
import Logging
import Shared

/// Runs store operations on dedicated threads (blocking C calls never run on a
/// NIO event loop) and commits whatever has queued up meanwhile in one
/// transaction: group commit. Each operation runs in its own savepoint, so one
/// failing request does not undo the others, and no caller hears of success
/// before the shared COMMIT has returned.
///
/// The threads are a connection pool: each worker owns one store connection
/// and takes the whole queue (up to `maxBatch`) as its next group. While
/// operations wait and every worker is busy, a second worker starts at once
/// (one group runs while the other commits); more, up to `max_connections`,
/// only when every worker has been on its current group for `stuckAfter`
/// (a slow `list`, a long sweep). Under load, operations that queue behind
/// busy workers join their next group, because a few large groups cost the
/// database far less CPU per job than many small ones on as many connections
/// (docs/BENCHMARKS.md). A worker idle for
/// `idle_timeout` closes its connection while more than `min_connections`
/// remain. SQLite's pool is one connection.
///
/// A lost connection (the database restarted) is replaced: if it failed
/// before COMMIT was sent, nothing was applied, so the whole group runs again
/// on a new connection (reconnecting with backoff, the outage and the recovery
/// logged once each: `StoreOutage`). If it failed during COMMIT the outcome is
/// unknown, so those operations fail with an error that says so; they are
/// never retried. The transaction of one group is `GroupCommit`'s.
public final class StoreExecutor: @unchecked Sendable {
    public struct Pool: Sendable {
        public var minConnections: Int
        public var maxConnections: Int
        /// µs a connection above the minimum may sit idle before it is closed.
        public var idleTimeout: Int64
        /// µs an operation waits for an unreachable database before it fails.
        public var outageWait: Int64

        public init(minConnections: Int, maxConnections: Int, idleTimeout: Int64, outageWait: Int64 = 30_000_000) {
            self.maxConnections = max(1, maxConnections)
            self.minConnections = min(max(0, minConnections), self.maxConnections)
            self.idleTimeout = idleTimeout
            self.outageWait = outageWait
        }

        /// One connection, kept for the executor's life (SQLite).
        public static let single = Pool(minConnections: 1, maxConnections: 1, idleTimeout: .max)
    }

    private final class Pending {
        let body: (JobStore) throws -> Any
        let complete: (Result<Any, Error>) -> Void
        let enqueuedAt = nowMicros()
        init(body: @escaping (JobStore) throws -> Any, complete: @escaping (Result<Any, Error>) -> Void) {
            self.body = body
            self.complete = complete
        }
    }

    /// A worker's connection and the outage epoch it was opened in.
    private struct Connection {
        let store: JobStore
        let epoch: Int
    }

    /// The time store operations are stamped with (the database's, on MariaDB).
    public let clock = StoreClock()
    private let pool: Pool
    private let open: () throws -> JobStore
    /// The database, password redacted, for log lines.
    private let target: String
    private let logger: Logger
    private let lock = NSCondition()
    private var queue: [Pending] = []
    private var stopping = false
    private var initial: JobStore?
    /// Worker threads alive, and those of them waiting for work (or starting).
    private var workers = 0
    private var available = 0
    /// Workers started as soon as operations wait: two, so one group can
    /// run while the other commits.
    private let pipelined = 2
    /// µs every worker must have spent on its current group before more are added.
    private let stuckAfter: Int64 = 50_000
    private var growCheckPending = false
    /// When each busy worker started its current group, by worker number.
    private var groupStarts: [Int: Int64] = [:]
    private var nextWorker = 0
    private var outage = StoreOutage()
    /// Upper bound on one group, so a flood of requests still sees steady commits.
    private let maxBatch = 1024
    /// Deadlock victims are rolled back whole and run again, a few times.
    private let maxDeadlockRetries = 5

    /// `initial` is an open, migrated connection (the one start-up checked);
    /// `open` makes more.
    public init(pool: Pool, target: String, logger: Logger, initial: JobStore?, open: @escaping () throws -> JobStore) {
        self.pool = pool
        self.target = target
        self.logger = logger
        self.initial = initial
        self.open = open
    }

    /// One store connection, never reopened (SQLite, tests).
    public convenience init(store: JobStore, logger: Logger) {
        self.init(pool: .single, target: "store", logger: logger, initial: store) {
            throw ErrorMessage("the store connection cannot be reopened")
        }
    }

    /// Starts `min_connections` workers (at least one if a connection is already open).
    public func start() {
        lock.lock()
        let count = max(pool.minConnections, initial == nil ? 0 : 1)
        for _ in 0..<count { spawnLocked(eager: true) }
        lock.unlock()
    }

    /// Runs `body` in the next group commit and returns its result once committed.
    public func run<T>(_ body: @escaping (JobStore) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (cont: CheckedContinuation<T, Error>) in
            enqueue(Pending(body: { try body($0) }, complete: { result in
                cont.resume(with: result.map { $0 as! T })
            }))
        }
    }

    private func enqueue(_ op: Pending) {
        lock.lock()
        if stopping {
            lock.unlock()
            op.complete(.failure(ErrorMessage("master is shutting down")))
            return
        }
        queue.append(op)
        if available == 0 && workers < pool.maxConnections {
            if workers < pipelined { spawnLocked(eager: false) } else { scheduleGrowCheckLocked() }
        }
        lock.signal()
        lock.unlock()
    }

    /// Call with `lock` held: looks again after `stuckAfter` whether operations
    /// still wait behind workers that are all stuck, and adds a worker if so.
    private func scheduleGrowCheckLocked() {
        guard !growCheckPending else { return }
        growCheckPending = true
        DispatchQueue.global().asyncAfter(deadline: .now() + .microseconds(Int(stuckAfter))) { [weak self] in
            self?.growCheck()
        }
    }

    private func growCheck() {
        lock.lock()
        defer { lock.unlock() }
        growCheckPending = false
        guard !stopping, !queue.isEmpty, available == 0, workers < pool.maxConnections else { return }
        let latestStart = groupStarts.values.max() ?? 0
        if nowMicros() - latestStart >= stuckAfter { spawnLocked(eager: false) }
        scheduleGrowCheckLocked()
    }

    /// Operations waiting for a worker (for tests and diagnostics).
    var queuedOperations: Int {
        lock.lock()
        defer { lock.unlock() }
        return queue.count
    }

    /// Finishes what is queued, then stops every worker and closes its connection.
    public func shutdown() {
        lock.lock()
        stopping = true
        lock.broadcast()
        while workers > 0 { lock.wait() }
        initial = nil
        lock.unlock()
    }

    // MARK: workers

    /// Call with `lock` held.
    private func spawnLocked(eager: Bool) {
        workers += 1
        available += 1
        let store = initial
        initial = nil
        let epoch = outage.epoch
        let thread = Thread { [self] in
            var connection = store.map { Connection(store: $0, epoch: epoch) }
            // Open the minimum at start; a failure here is not an outage yet,
            // the first operation will reconnect and report it.
            if connection == nil && eager { connection = try? connect() }
            work(connection)
        }
        thread.name = "wdpost-store"
        thread.start()
    }

    private func work(_ start: Connection?) {
        var connection = start
        lock.lock()
        let id = nextWorker
        nextWorker += 1
        var idleSince = nowMicros()
        while true {
            if queue.isEmpty {
                if stopping { break }
                // Above the minimum, an idle worker retires after idle_timeout.
                if workers > pool.minConnections && pool.idleTimeout < .max / 2 {
                    let deadline = idleSince + pool.idleTimeout
                    if nowMicros() >= deadline { break }
                    _ = lock.wait(until: Date(timeIntervalSince1970: Double(deadline) / 1_000_000))
                } else {
                    lock.wait()
                }
                continue
            }
            let take = min(queue.count, maxBatch)
            let batch = Array(queue.prefix(take))
            queue.removeFirst(take)
            available -= 1
            groupStarts[id] = nowMicros()
            lock.unlock()
            connection = process(batch, on: connection)
            lock.lock()
            groupStarts[id] = nil
            available += 1
            idleSince = nowMicros()
        }
        workers -= 1
        available -= 1
        lock.broadcast()
        lock.unlock()
        // The connection closes here, off the lock.
        connection = nil
    }

    private func connect() throws -> Connection {
        lock.lock()
        let epoch = outage.epoch
        lock.unlock()
        return Connection(store: try open(), epoch: epoch)
    }

    /// Runs one group to an answer for every operation; returns the connection
    /// to keep (nil once it is known to be dead).
    private func process(_ batch: [Pending], on start: Connection?) -> Connection? {
        var connection = start
        var ops = batch
        var deadlocks = 0
        var backoff = 0.05
        while !ops.isEmpty {
            guard let current = connection else {
                do {
                    connection = try connect()
                    noteRecovered()
                    backoff = 0.05
                } catch {
                    noteOutage(error, epoch: nil)
                    ops = failOverdue(ops, error)
                    if !ops.isEmpty { Thread.sleep(forTimeInterval: backoff) }
                    backoff = min(backoff * 2, 1.0)
                }
                continue
            }
            clock.refreshIfDue(on: current.store)
            switch GroupCommit(logger: logger).run(ops.map(\.body), on: current.store) {
            case let .committed(results):
                for (op, result) in zip(ops, results) { op.complete(result) }
                return connection
            case let .connectionLost(error):
                noteOutage(error, epoch: current.epoch)
                connection = nil
            case let .rolledBack(error):
                deadlocks += 1
                if deadlocks > maxDeadlockRetries {
                    logger.error("store: transaction rolled back \(deadlocks) times, \(ops.count) operation(s) failed: \(error)")
                    ops.forEach { $0.complete(.failure(error)) }
                    return connection
                }
                logger.debug("store: transaction rolled back by the server, running the group again: \(error)")
            case let .unknownOutcome(error):
                noteOutage(error, epoch: current.epoch)
                let message = "the connection to \(target) was lost during COMMIT: the outcome of this request is unknown (\(error))"
                logger.error("store: \(message); \(ops.count) operation(s) answered with an error, not retried")
                ops.forEach { $0.complete(.failure(ErrorMessage(message))) }
                return nil
            case let .failed(error):
                ops.forEach { $0.complete(.failure(error)) }
                return connection
            }
        }
        return connection
    }

    /// Fails the operations that have waited too long for the database (all
    /// of them when shutting down); returns the rest.
    private func failOverdue(_ ops: [Pending], _ error: Error) -> [Pending] {
        lock.lock()
        let stopping = self.stopping
        lock.unlock()
        let now = nowMicros()
        var waiting: [Pending] = []
        for op in ops {
            if stopping || now - op.enqueuedAt >= pool.outageWait {
                op.complete(.failure(ErrorMessage("database \(target) unavailable: \(error)")))
            } else {
                waiting.append(op)
            }
        }
        return waiting
    }

    private func noteOutage(_ error: Error, epoch: Int?) {
        lock.lock()
        let news = outage.lost(connectionEpoch: epoch, now: nowMicros())
        lock.unlock()
        guard news else { return }
        logger.error("store: lost the database \(target): \(error); reconnecting, requests wait up to \(DurationText.format(micros: pool.outageWait))")
    }

    private func noteRecovered() {
        lock.lock()
        let downFor = outage.recovered(now: nowMicros())
        lock.unlock()
        guard let down = downFor else { return }
        logger.notice("store: reconnected to \(target) after \(DurationText.format(micros: down))")
    }
}
