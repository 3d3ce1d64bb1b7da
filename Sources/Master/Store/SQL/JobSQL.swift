import Foundation
import Shared

/// The job-table SQL both backends share: every state transition that is one
/// conditional statement on (id, lease, state), and the reads. Each store
/// keeps only what really differs (claims, archive, schema, transactions).
struct JobSQL<Connection: SQLConnection> {
    /// How the two SQL dialects differ where this file needs it.
    struct Dialect {
        /// The larger of two values: SQLite's scalar MAX, MariaDB's GREATEST.
        var greatest: String
        /// Appended to a sweep's read: MariaDB locks the rows it will change,
        /// skipping those another master holds; SQLite has one writer.
        var lockForUpdate: String
        /// After the table name of a statement that picks rows by an id list:
        /// MariaDB's planner may otherwise walk a state index (every Running
        /// job, waiting on the row locks of other transactions) when few rows
        /// are in that state; SQLite plans it by primary key anyway.
        var byID: String
        /// The column that orders rows of equal created_at as they were
        /// inserted (the list's tie-break and page cursor): MariaDB's seq,
        /// SQLite's rowid.
        var insertionOrder: String

        /// The head of a DELETE by an id list, by primary key (see `byID`;
        /// MariaDB takes an index hint only in the multi-table form).
        func delete(from table: String) -> String {
            byID.isEmpty ? "DELETE FROM \(table)" : "DELETE \(table) FROM \(table)\(byID)"
        }

        /// A condition re-checked on rows picked by an id list, kept away from
        /// the planner's index choice: without statistics SQLite takes a state
        /// or created_at index for narrower than 512 ids and walks every
        /// finished row (a unary + makes a term unusable by indexes); MariaDB
        /// is held to its primary key by `byID` already.
        func recheck(_ condition: String) -> String { byID.isEmpty ? "+(\(condition))" : "(\(condition))" }

        static var sqlite: Dialect { Dialect(greatest: "MAX", lockForUpdate: "", byID: "", insertionOrder: "rowid") }
        static var mariadb: Dialect {
            Dialect(greatest: "GREATEST", lockForUpdate: " FOR UPDATE SKIP LOCKED", byID: " FORCE INDEX (PRIMARY)", insertionOrder: "seq")
        }
    }

    let db: Connection
    let dialect: Dialect

    static var columns: String { JobColumn.list }

    static func placeholders(_ n: Int) -> String { Array(repeating: "?", count: n).joined(separator: ",") }
    /// The arms of a `CASE id … END` that gives each of `n` rows its own value.
    static func caseArms(_ n: Int) -> String { Array(repeating: "WHEN ? THEN ?", count: n).joined(separator: " ") }

    /// Most rows one id-list statement names: its parameters stay far below
    /// the server's limit (65,535 on MariaDB) however many slaves' requests
    /// the master merged.
    static var maxRows: Int { 512 }

    /// `rows` lengthened to the next power of two by repeating the last one,
    /// so id-list statements come in a few lengths: each connection prepares
    /// and caches a handful of statements (MariaDB counts them against
    /// max_prepared_stmt_count), not one per list length. A repeated id in an
    /// IN list or a CASE changes nothing.
    static func padded<T>(_ rows: some Collection<T>) -> [T] {
        var out = Array(rows)
        guard let last = out.last else { return out }
        var size = 1
        while size < out.count { size *= 2 }
        out += Array(repeating: last, count: size - out.count)
        return out
    }

    /// `items` in consecutive pieces of at most `maxRows`.
    static func chunked<T>(_ items: [T]) -> [ArraySlice<T>] {
        stride(from: 0, to: items.count, by: maxRows).map { items[$0..<min($0 + maxRows, items.count)] }
    }

    static func job(_ r: Connection.Row) throws -> Job { try JobColumn.job(r) }

    func jobs(_ sql: String, _ params: [SQLValue]) throws -> [Job] { try db.query(sql, params, Self.job) }

    /// One conditional write for all of a slave's running jobs (a heartbeat
    /// carries every job it runs); the rows are read back only when some did
    /// not change, to name the jobs the slave must abort.
    func heartbeat(_ leases: [JobLease], now: Int64) throws -> [String] {
        guard leases.count > 1, Set(leases.map(\.id)).count == leases.count else {
            return try leases.compactMap { l in
                let changed = try db.run("UPDATE jobs SET heartbeat_at = ? WHERE id = ? AND lease = ? AND state = 'Running'",
                                         [.int(now), .text(l.id), .int(l.lease)])
                return changed == 1 ? nil : l.id
            }
        }
        return try Self.chunked(leases).flatMap { try heartbeatChunk($0, now: now) }
    }

    private func heartbeatChunk(_ chunk: ArraySlice<JobLease>, now: Int64) throws -> [String] {
        let rows = Self.padded(chunk)
        let ids = rows.map { SQLValue.text($0.id) }
        let cases = Self.caseArms(rows.count)
        let leaseCases = rows.flatMap { [SQLValue.text($0.id), .int($0.lease)] }
        let changed = try db.run("""
            UPDATE jobs\(dialect.byID) SET heartbeat_at = ?
            WHERE id IN (\(Self.placeholders(rows.count))) AND state = 'Running' AND lease = CASE id \(cases) END
            """, [.int(now)] + ids + leaseCases)
        if changed == chunk.count { return [] }
        let held = Set(try db.query("""
            SELECT id FROM jobs\(dialect.byID) WHERE id IN (\(Self.placeholders(rows.count))) AND state = 'Running'
              AND lease = CASE id \(cases) END
            """, ids + leaseCases) { $0.text(0) })
        return chunk.map(\.id).filter { !held.contains($0) }
    }

    /// The failure transition shared by finish-with-error and the sweeps.
    func fail(id: String, lease: Int64, reason: String, now: Int64, retry: RetryPolicy) throws -> Bool {
        try db.run("""
            UPDATE jobs SET
                state = CASE WHEN try_num < max_try THEN 'ReadyToRun' ELSE 'Failed' END,
                finished_at = CASE WHEN try_num < max_try THEN 0 ELSE ? END,
                not_before = ?, error = ?
            WHERE id = ? AND lease = ? AND state = 'Running'
            """, [.int(now), .int(retry.notBefore), .text(reason), .text(id), .int(lease)]) == 1
    }

    func finish(_ result: JobResult, now: Int64, retry: RetryPolicy) throws -> FinishOutcome {
        if result.ok {
            let changed = try db.run("""
                UPDATE jobs SET state = 'Succeed', output = ?, finished_at = ?, error = ''
                WHERE id = ? AND lease = ? AND state = 'Running'
                """, [.blob(result.output), .int(now), .text(result.id), .int(result.lease)])
            if changed == 1 { return .recorded }
            // A repeat of a finish already recorded (its ack was lost) is acknowledged again.
            let repeated = try db.query("SELECT 1 FROM jobs WHERE id = ? AND lease = ? AND state = 'Succeed'",
                                        [.text(result.id), .int(result.lease)]) { _ in true }
            return repeated.isEmpty ? .stale : .repeated
        }
        if try fail(id: result.id, lease: result.lease, reason: result.error, now: now, retry: retry) {
            let state = try db.query("SELECT state FROM jobs WHERE id = ?", [.text(result.id)]) { $0.text(0) }.first
            return state == JobState.readyToRun.rawValue ? .requeued : .recorded
        }
        let repeated = try db.query("""
            SELECT 1 FROM jobs WHERE id = ? AND lease = ? AND state IN ('ReadyToRun', 'Failed') AND error = ?
            """, [.text(result.id), .int(result.lease), .text(result.error)]) { _ in true }
        return repeated.isEmpty ? .stale : .repeated
    }

    /// Several results: the successes are recorded with one conditional
    /// write for the lot (on MariaDB each statement is a round trip; this is
    /// the busiest path), and read back only when some of them did not
    /// change; failures, rare, go one by one.
    func finish(_ results: [JobResult], now: Int64, retry: RetryPolicy) throws -> [FinishOutcome] {
        let ok = results.filter(\.ok)
        guard ok.count > 1, Set(ok.map(\.id)).count == ok.count else {
            return try results.map { try finish($0, now: now, retry: retry) }
        }
        var decided: [String: FinishOutcome] = [:]
        for chunk in Self.chunked(ok) {
            try recordSuccesses(chunk, now: now, into: &decided)
        }
        return try results.map { r in
            if r.ok, let outcome = decided[r.id] { return outcome }
            return try finish(r, now: now, retry: retry)
        }
    }

    /// One write for `chunk`; each row changes only if it is still Running
    /// under the result's own lease, so a stale result cannot be recorded.
    private func recordSuccesses(_ chunk: ArraySlice<JobResult>, now: Int64, into decided: inout [String: FinishOutcome]) throws {
        let rows = Self.padded(chunk)
        let cases = Self.caseArms(rows.count)
        let ids = rows.map { SQLValue.text($0.id) }
        let changed = try db.run("""
            UPDATE jobs\(dialect.byID) SET state = 'Succeed', finished_at = ?, error = '', output = CASE id \(cases) END
            WHERE id IN (\(Self.placeholders(rows.count))) AND state = 'Running' AND lease = CASE id \(cases) END
            """, [.int(now)] + rows.flatMap { [SQLValue.text($0.id), .blob($0.output)] } + ids
                + rows.flatMap { [SQLValue.text($0.id), .int($0.lease)] })
        if changed == chunk.count {
            for r in chunk { decided[r.id] = .recorded }
            return
        }
        // Some were not Running under their lease. A row Succeed under the
        // result's lease was recorded by this write (finished_at is this
        // call's `now`) or earlier, by a finish whose ack was lost (repeated).
        // Rows are unique by id byte-wise; as Swift strings two ids could still
        // be equal (canonically equivalent), so the dictionary must not trap on it.
        let current = Dictionary(try db.query("""
            SELECT id, lease, state, finished_at FROM jobs\(dialect.byID) WHERE id IN (\(Self.placeholders(rows.count)))
            """, ids) { ($0.text(0), (lease: $0.int(1), state: $0.text(2), finishedAt: $0.int(3))) }, uniquingKeysWith: { a, _ in a })
        for r in chunk {
            guard let c = current[r.id], c.lease == r.lease, c.state == JobState.succeed.rawValue else {
                decided[r.id] = .stale
                continue
            }
            decided[r.id] = c.finishedAt == now ? .recorded : .repeated
        }
    }

    func release(_ lease: JobLease, reason: String, now: Int64) throws -> Bool {
        // A released job was not the job's fault: give the try back.
        try db.run("""
            UPDATE jobs SET state = 'ReadyToRun', try_num = \(dialect.greatest)(try_num - 1, 0), not_before = ?, error = ?
            WHERE id = ? AND lease = ? AND state = 'Running'
            """, [.int(now), .text(reason), .text(lease.id), .int(lease.lease)]) == 1
    }

    func expire(heartbeatBefore: Int64, startedBefore: Int64, now: Int64, retry: RetryPolicy, limit: Int) throws -> [Expired] {
        guard limit > 0 else { return [] }
        let stuck = try db.query("""
            SELECT id, lease, worker, heartbeat_at < ?, try_num < max_try FROM jobs
            WHERE state = 'Running' AND (heartbeat_at < ? OR started_at < ?) LIMIT ?\(dialect.lockForUpdate)
            """, [.int(heartbeatBefore), .int(heartbeatBefore), .int(startedBefore), .int(Self.sqlLimit(limit))]) {
            (id: $0.text(0), lease: $0.int(1), worker: $0.text(2), heartbeat: $0.int(3) != 0, retry: $0.int(4) != 0)
        }
        return try stuck.compactMap { s in
            let reason = s.heartbeat ? "heartbeat timeout (worker \(s.worker))" : "task timeout (worker \(s.worker))"
            guard try fail(id: s.id, lease: s.lease, reason: reason, now: now, retry: retry) else { return nil }
            return Expired(id: s.id, worker: s.worker, reason: reason, requeued: s.retry)
        }
    }

    /// A sweep's row limit as SQL's LIMIT takes it (`Int.max`: no bound).
    static func sqlLimit(_ limit: Int) -> Int64 { Int64(max(0, limit)) }

    /// Only finished jobs expire: a job still ready or running past its
    /// lifetime is stuck, and stays to be seen (the archive holds finished
    /// jobs only). Live jobs go first, then archived ones, `limit` in all.
    func purge(createdBefore: Int64, limit: Int) throws -> Int {
        let live = try deleteSelected(from: "jobs", where: Self.purgeLive, [.int(createdBefore)], limit: limit)
        guard live < limit else { return live }
        return live + (try deleteSelected(from: "jobs_archive", where: Self.purgeArchived, [.int(createdBefore)], limit: limit - live))
    }

    /// Deletes at most `limit` rows of `table` matching `condition`: their
    /// ids are read first (locked, skipping rows another master holds), then
    /// deleted by primary key under the same condition.
    func deleteSelected(from table: String, where condition: String, _ params: [SQLValue], limit: Int) throws -> Int {
        guard limit > 0 else { return 0 }
        let ids = try db.query("SELECT id FROM \(table) WHERE \(condition) LIMIT ?\(dialect.lockForUpdate)",
                               params + [.int(Self.sqlLimit(limit))]) { $0.text(0) }
        return try Self.chunked(ids).reduce(0) { n, chunk in
            let rows = Self.padded(chunk)
            return n + (try db.run(deleteByID(from: table, where: condition, ids: rows.count), rows.map { .text($0) } + params))
        }
    }

    /// Deletes `n` rows of `table` by id, each still matching `condition`.
    func deleteByID(from table: String, where condition: String, ids n: Int) -> String {
        "\(dialect.delete(from: table)) WHERE id IN (\(Self.placeholders(n))) AND \(dialect.recheck(condition))"
    }

    /// The lifetime sweep's conditions, live and archived.
    static var purgeLive: String { "created_at < ? AND state IN ('Succeed', 'Failed')" }
    static var purgeArchived: String { "created_at < ?" }

    func hasReady(kinds: [String], now: Int64) throws -> Bool {
        guard !kinds.isEmpty else { return false }
        return try !db.query("""
            SELECT 1 FROM jobs WHERE state = 'ReadyToRun' AND not_before <= ? AND kind IN (\(Self.placeholders(kinds.count))) LIMIT 1
            """, [.int(now)] + kinds.map { .text($0) }) { _ in true }.isEmpty
    }

    func get(_ id: String) throws -> Job? {
        try jobs("SELECT \(Self.columns) FROM jobs WHERE id = ?", [.text(id)]).first
            ?? jobs("SELECT \(Self.columns) FROM jobs_archive WHERE id = ?", [.text(id)]).first
    }

    /// Refuses the whole request when any id is unknown, so it changes nothing.
    private func requireKnown(_ ids: [String]) throws {
        let missing = try ids.filter { try db.query("SELECT 1 FROM jobs WHERE id = ?", [.text($0)]) { _ in true }.isEmpty }
        if !missing.isEmpty { throw StoreError.unknownJobs(missing) }
    }

    func reset(_ ids: [String]) throws -> Int {
        try requireKnown(ids)
        return try ids.reduce(0) { n, id in
            n + (try db.run("""
                UPDATE jobs SET state = 'ReadyToRun', try_num = 0, not_before = 0, finished_at = 0, error = ''
                WHERE id = ?
                """, [.text(id)]))
        }
    }

    func rerunFailed(_ id: String) throws -> Bool {
        try db.run("""
            UPDATE jobs SET state = 'ReadyToRun', try_num = 0, not_before = 0, finished_at = 0
            WHERE id = ? AND state = 'Failed'
            """, [.text(id)]) == 1
    }

    func remove(_ ids: [String]) throws -> Int {
        try requireKnown(ids)
        return try ids.reduce(0) { n, id in n + (try db.run("DELETE FROM jobs WHERE id = ?", [.text(id)])) }
    }

    func removeAll() throws -> Int { try db.run("DELETE FROM jobs", []) }

    func countByStateAndKind() throws -> [JobCount] {
        try db.query("SELECT state, kind, COUNT(*) FROM jobs GROUP BY state, kind ORDER BY state, kind", []) {
            JobCount(state: $0.text(0), kind: $0.text(1), count: Int($0.int(2)))
        }
    }

    func latestFailures(limit: Int) throws -> [Job] {
        try jobs("SELECT \(Self.columns) FROM jobs WHERE state = 'Failed' ORDER BY finished_at DESC LIMIT ?", [.int(Int64(limit))])
    }

    /// GROUP BY compares bytes; Swift strings compare canonically, so two
    /// byte-different groups may be one key here: their counts add up.
    func runningByWorker() throws -> [String: Int] {
        Dictionary(try db.query(
            "SELECT worker, COUNT(*) FROM jobs WHERE state = 'Running' GROUP BY worker", []) { ($0.text(0), Int($0.int(1))) },
            uniquingKeysWith: +)
    }
}

/// The `JobStore` methods both backends answer with `JobSQL`.
protocol SharedJobSQL: JobStore {
    associatedtype Connection: SQLConnection
    var sql: JobSQL<Connection> { get }
}

extension SharedJobSQL {
    public func heartbeat(_ leases: [JobLease], now: Int64) throws -> [String] { try sql.heartbeat(leases, now: now) }
    public func finish(_ result: JobResult, now: Int64, retry: RetryPolicy) throws -> FinishOutcome { try sql.finish(result, now: now, retry: retry) }
    public func finish(_ results: [JobResult], now: Int64, retry: RetryPolicy) throws -> [FinishOutcome] {
        try sql.finish(results, now: now, retry: retry)
    }
    public func release(_ lease: JobLease, reason: String, now: Int64, retry: RetryPolicy) throws -> Bool {
        try sql.release(lease, reason: reason, now: now)
    }
    public func expire(heartbeatBefore: Int64, startedBefore: Int64, now: Int64, retry: RetryPolicy, limit: Int) throws -> [Expired] {
        try sql.expire(heartbeatBefore: heartbeatBefore, startedBefore: startedBefore, now: now, retry: retry, limit: limit)
    }
    public func purge(createdBefore: Int64, limit: Int) throws -> Int { try sql.purge(createdBefore: createdBefore, limit: limit) }
    public func hasReady(kinds: [String], now: Int64) throws -> Bool { try sql.hasReady(kinds: kinds, now: now) }
    public func list(all: Bool) throws -> [Job] { try sql.list(all: all) }
    public func list(all: Bool, after: ListCursor?, limit: Int?, brief: Bool, maxBytes: Int) throws -> ListPage {
        try sql.list(all: all, after: after, limit: limit, brief: brief, maxBytes: maxBytes)
    }
    public func get(_ id: String) throws -> Job? { try sql.get(id) }
    public func reset(_ ids: [String], now: Int64) throws -> Int { try sql.reset(ids) }
    public func rerunFailed(_ id: String) throws -> Bool { try sql.rerunFailed(id) }
    public func remove(_ ids: [String]) throws -> Int { try sql.remove(ids) }
    public func removeAll() throws -> Int { try sql.removeAll() }
    public func countByStateAndKind() throws -> [JobCount] { try sql.countByStateAndKind() }
    public func latestFailures(limit: Int) throws -> [Job] { try sql.latestFailures(limit: limit) }
    public func runningByWorker() throws -> [String: Int] { try sql.runningByWorker() }
}
