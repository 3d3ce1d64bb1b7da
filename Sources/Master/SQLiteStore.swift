import Foundation
import Shared

/// The embedded store: one SQLite file, one connection, one master.
public final class SQLiteStore: JobStore {
    let db: SQLiteConnection

    public init(path: String) throws {
        db = try SQLiteConnection(path: path)
        // WAL lets readers run beside the writer; synchronous=FULL makes every
        // commit durable before the master acknowledges anything.
        try db.exec("PRAGMA journal_mode=WAL")
        try db.exec("PRAGMA synchronous=FULL")
        // The working set (ready and running jobs, their indexes) should stay in memory.
        try db.exec("PRAGMA cache_size=-65536")
        try db.exec("PRAGMA temp_store=MEMORY")
    }

    static let columns = """
        id, kind, state, miner_id, deadline_idx, partitions, priority, deadline_at, unique_key, input, output, \
        try_num, max_try, lease, worker, not_before, created_at, started_at, heartbeat_at, finished_at, error, pin
        """

    static let migrations: [String] = [
        """
        CREATE TABLE jobs (
            id TEXT PRIMARY KEY, kind TEXT NOT NULL, state TEXT NOT NULL,
            miner_id TEXT NOT NULL DEFAULT '', deadline_idx INTEGER NOT NULL DEFAULT -1,
            partitions TEXT NOT NULL DEFAULT '', priority INTEGER NOT NULL DEFAULT 0,
            deadline_at INTEGER NOT NULL, unique_key TEXT UNIQUE,
            input BLOB NOT NULL, output BLOB,
            try_num INTEGER NOT NULL DEFAULT 0, max_try INTEGER NOT NULL,
            lease INTEGER NOT NULL DEFAULT 0, worker TEXT NOT NULL DEFAULT '',
            not_before INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL,
            started_at INTEGER NOT NULL DEFAULT 0, heartbeat_at INTEGER NOT NULL DEFAULT 0,
            finished_at INTEGER NOT NULL DEFAULT 0, error TEXT NOT NULL DEFAULT '');
        CREATE INDEX jobs_claim ON jobs (state, deadline_at, priority DESC, created_at);
        CREATE INDEX jobs_running ON jobs (state, heartbeat_at);
        CREATE INDEX jobs_created ON jobs (created_at);
        CREATE TABLE jobs_archive AS SELECT * FROM jobs WHERE 0;
        CREATE UNIQUE INDEX jobs_archive_id ON jobs_archive (id);
        CREATE INDEX jobs_archive_created ON jobs_archive (created_at);
        """,
        // 2: jobs pinned to one worker (DBC probes run on the machine under test).
        // Both tables keep the same columns in the same order: archive copies rows with SELECT *.
        """
        ALTER TABLE jobs ADD COLUMN pin VARCHAR(255) NOT NULL DEFAULT '';
        ALTER TABLE jobs_archive ADD COLUMN pin VARCHAR(255) NOT NULL DEFAULT '';
        """,
        // 3: DeepBrainChain verification orders (see CommitteeSQL.swift).
        CommitteeSQL<SQLiteConnection>.sqliteSchema,
    ]

    public func migrate() throws {
        try db.exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        let current = try db.query("SELECT MAX(version) FROM schema_version") { $0.isNull(0) ? 0 : Int($0.int(0)) }.first ?? 0
        guard current <= Self.migrations.count else {
            throw StoreError.invalid("database schema version \(current) is newer than this wdpost (\(Self.migrations.count)); upgrade wdpost")
        }
        for version in current..<Self.migrations.count {
            try db.exec("BEGIN IMMEDIATE")
            do {
                try db.exec(Self.migrations[version])
                try db.run("INSERT INTO schema_version (version) VALUES (?)", [.int(Int64(version + 1))])
                try db.exec("COMMIT")
            } catch {
                try? db.exec("ROLLBACK")
                throw error
            }
        }
    }

    // Transaction control runs as cached prepared statements: a group commit
    // opens a savepoint per operation, and re-parsing these each time showed.
    public func begin() throws { try db.run("BEGIN IMMEDIATE") }
    public func commit() throws { try db.run("COMMIT") }
    public func rollback() throws { try db.run("ROLLBACK") }
    public func savepoint() throws { try db.run("SAVEPOINT op") }
    public func releaseSavepoint() throws { try db.run("RELEASE op") }
    public func rollbackToSavepoint() throws {
        try db.run("ROLLBACK TO op")
        try db.run("RELEASE op")
    }

    static func placeholders(_ n: Int) -> String { Array(repeating: "?", count: n).joined(separator: ",") }

    static func job(_ r: SQLiteRow) -> Job {
        Job(id: r.text(0), kind: r.text(1), state: JobState(rawValue: r.text(2)) ?? .failed, minerID: r.text(3),
            deadlineIdx: Int(r.int(4)), partitions: PartitionList.parse(r.text(5)), priority: Int(r.int(6)),
            deadlineAt: r.int(7) == Int64.max ? nil : r.int(7), uniqueKey: r.isNull(8) ? nil : r.text(8),
            input: r.blob(9), output: r.isNull(10) ? nil : r.blob(10), tryNum: Int(r.int(11)), maxTry: Int(r.int(12)),
            lease: r.int(13), worker: r.text(14), notBefore: r.int(15), createdAt: r.int(16), startedAt: r.int(17),
            heartbeatAt: r.int(18), finishedAt: r.int(19), error: r.text(20), pin: r.text(21))
    }

    public func insert(_ jobs: [NewJob], maxTry: Int, now: Int64) throws -> [String] {
        try jobs.map { new in
            if let key = new.uniqueKey,
               let existing = try db.query("SELECT id FROM jobs WHERE unique_key = ?", [.text(key)], { $0.text(0) }).first {
                return existing
            }
            let id = JobID.make()
            try db.run("""
                INSERT INTO jobs (id, kind, state, miner_id, deadline_idx, partitions, priority, deadline_at, unique_key,
                                  input, max_try, created_at, pin)
                VALUES (?, ?, 'ReadyToRun', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, [.text(id), .text(new.kind), .text(new.minerID), .int(Int64(new.deadlineIdx)),
                      .text(PartitionList.format(new.partitions)), .int(Int64(new.priority)),
                      .int(new.deadlineAt ?? Int64.max), new.uniqueKey.map { .text($0) } ?? .null,
                      .blob(new.input), .int(Int64(maxTry)), .int(now), .text(new.worker ?? "")])
            return id
        }
    }

    public func claim(worker: String, kinds: [String], miners: [String], limit: Int, now: Int64) throws -> [Job] {
        guard !kinds.isEmpty, limit > 0 else { return [] }
        var params: [SQLValue] = [.int(now), .text(worker)] + kinds.map { .text($0) }
        var minerFilter = ""
        if !miners.isEmpty {
            minerFilter = " AND (miner_id = '' OR miner_id IN (\(Self.placeholders(miners.count))))"
            params += miners.map { .text($0) }
        }
        params.append(.int(Int64(limit)))
        let candidates = try db.query("""
            SELECT \(Self.columns) FROM jobs
            WHERE state = 'ReadyToRun' AND not_before <= ? AND (pin = '' OR pin = ?)
              AND kind IN (\(Self.placeholders(kinds.count)))\(minerFilter)
            ORDER BY deadline_at, priority DESC, created_at LIMIT ?
            """, params, Self.job)
        var claimed: [Job] = []
        for var job in candidates {
            let lease = JobLeaseToken.make()
            let changed = try db.run("""
                UPDATE jobs SET state = 'Running', try_num = try_num + 1, lease = ?, worker = ?,
                       started_at = ?, heartbeat_at = ?, finished_at = 0
                WHERE id = ? AND state = 'ReadyToRun'
                """, [.int(lease), .text(worker), .int(now), .int(now), .text(job.id)])
            guard changed == 1 else { continue }
            job.state = .running; job.tryNum += 1; job.lease = lease; job.worker = worker
            job.startedAt = now; job.heartbeatAt = now; job.finishedAt = 0
            claimed.append(job)
        }
        return claimed
    }

    public func heartbeat(_ leases: [JobLease], now: Int64) throws -> [String] {
        try leases.compactMap { l in
            let changed = try db.run("UPDATE jobs SET heartbeat_at = ? WHERE id = ? AND lease = ? AND state = 'Running'",
                                     [.int(now), .text(l.id), .int(l.lease)])
            return changed == 1 ? nil : l.id
        }
    }

    /// The failure transition shared by finish-with-error, release and the sweeps.
    private func fail(id: String, lease: Int64, reason: String, now: Int64, retry: RetryPolicy) throws -> Bool {
        try db.run("""
            UPDATE jobs SET
                state = CASE WHEN try_num < max_try THEN 'ReadyToRun' ELSE 'Failed' END,
                finished_at = CASE WHEN try_num < max_try THEN 0 ELSE ? END,
                not_before = ?, error = ?
            WHERE id = ? AND lease = ? AND state = 'Running'
            """, [.int(now), .int(retry.notBefore), .text(reason), .text(id), .int(lease)]) == 1
    }

    public func finish(_ result: JobResult, now: Int64, retry: RetryPolicy) throws -> FinishOutcome {
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

    public func release(_ lease: JobLease, reason: String, now: Int64, retry: RetryPolicy) throws -> Bool {
        // A released job was not the job's fault: give the try back.
        let changed = try db.run("""
            UPDATE jobs SET state = 'ReadyToRun', try_num = MAX(try_num - 1, 0), not_before = ?, error = ?
            WHERE id = ? AND lease = ? AND state = 'Running'
            """, [.int(now), .text(reason), .text(lease.id), .int(lease.lease)])
        return changed == 1
    }

    public func expire(heartbeatBefore: Int64, startedBefore: Int64, now: Int64, retry: RetryPolicy) throws -> [Expired] {
        let stuck = try db.query("""
            SELECT id, lease, worker, heartbeat_at < ?, try_num < max_try FROM jobs
            WHERE state = 'Running' AND (heartbeat_at < ? OR started_at < ?)
            """, [.int(heartbeatBefore), .int(heartbeatBefore), .int(startedBefore)]) {
            (id: $0.text(0), lease: $0.int(1), worker: $0.text(2), heartbeat: $0.int(3) != 0, retry: $0.int(4) != 0)
        }
        return try stuck.compactMap { s in
            let reason = s.heartbeat ? "heartbeat timeout (worker \(s.worker))" : "task timeout (worker \(s.worker))"
            guard try fail(id: s.id, lease: s.lease, reason: reason, now: now, retry: retry) else { return nil }
            return Expired(id: s.id, worker: s.worker, reason: reason, requeued: s.retry)
        }
    }

    public func archive(finishedBefore: Int64) throws -> Int {
        let finished = "state IN ('Succeed', 'Failed') AND finished_at > 0 AND finished_at < ?"
        try db.run("INSERT OR REPLACE INTO jobs_archive SELECT * FROM jobs WHERE \(finished)", [.int(finishedBefore)])
        return try db.run("DELETE FROM jobs WHERE \(finished)", [.int(finishedBefore)])
    }

    public func purge(createdBefore: Int64) throws -> Int {
        try db.run("DELETE FROM jobs WHERE created_at < ?", [.int(createdBefore)])
            + db.run("DELETE FROM jobs_archive WHERE created_at < ?", [.int(createdBefore)])
    }

    public func hasReady(kinds: [String], now: Int64) throws -> Bool {
        guard !kinds.isEmpty else { return false }
        return try !db.query("""
            SELECT 1 FROM jobs WHERE state = 'ReadyToRun' AND not_before <= ? AND kind IN (\(Self.placeholders(kinds.count))) LIMIT 1
            """, [.int(now)] + kinds.map { .text($0) }) { _ in true }.isEmpty
    }

    public func list(all: Bool) throws -> [Job] {
        if all {
            return try db.query("SELECT \(Self.columns) FROM jobs_archive ORDER BY created_at", [], Self.job)
                + db.query("SELECT \(Self.columns) FROM jobs ORDER BY created_at", [], Self.job)
        }
        return try db.query("""
            SELECT \(Self.columns) FROM jobs WHERE state IN ('ReadyToRun', 'Running', 'Failed') ORDER BY created_at
            """, [], Self.job)
    }

    public func get(_ id: String) throws -> Job? {
        try db.query("SELECT \(Self.columns) FROM jobs WHERE id = ?", [.text(id)], Self.job).first
            ?? db.query("SELECT \(Self.columns) FROM jobs_archive WHERE id = ?", [.text(id)], Self.job).first
    }

    private func requireKnown(_ ids: [String]) throws {
        let missing = try ids.filter { try db.query("SELECT 1 FROM jobs WHERE id = ?", [.text($0)]) { _ in true }.isEmpty }
        if !missing.isEmpty { throw StoreError.unknownJobs(missing) }
    }

    public func reset(_ ids: [String], now: Int64) throws -> Int {
        try requireKnown(ids)
        return try ids.reduce(0) { n, id in
            n + (try db.run("""
                UPDATE jobs SET state = 'ReadyToRun', try_num = 0, not_before = 0, finished_at = 0, error = ''
                WHERE id = ?
                """, [.text(id)]))
        }
    }

    public func remove(_ ids: [String]) throws -> Int {
        try requireKnown(ids)
        return try ids.reduce(0) { n, id in n + (try db.run("DELETE FROM jobs WHERE id = ?", [.text(id)])) }
    }

    public func removeAll() throws -> Int { try db.run("DELETE FROM jobs") }

    public func countByStateAndKind() throws -> [JobCount] {
        try db.query("SELECT state, kind, COUNT(*) FROM jobs GROUP BY state, kind ORDER BY state, kind") {
            JobCount(state: $0.text(0), kind: $0.text(1), count: Int($0.int(2)))
        }
    }

    public func latestFailures(limit: Int) throws -> [Job] {
        try db.query("SELECT \(Self.columns) FROM jobs WHERE state = 'Failed' ORDER BY finished_at DESC LIMIT ?", [.int(Int64(limit))], Self.job)
    }

    public func runningByWorker() throws -> [String: Int] {
        Dictionary(uniqueKeysWithValues: try db.query(
            "SELECT worker, COUNT(*) FROM jobs WHERE state = 'Running' GROUP BY worker") { ($0.text(0), Int($0.int(1))) })
    }
}

/// Leases are random so that no two claims, on any master, share one.
enum JobLeaseToken {
    static func make() -> Int64 {
        let v = SecureRandom.int64() & Int64.max
        return v == 0 ? 1 : v
    }
}
