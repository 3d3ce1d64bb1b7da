import Foundation
import Shared

/// The embedded store: one SQLite file, one connection, one master.
public final class SQLiteStore: SharedJobSQL {
    let db: SQLiteConnection
    var sql: JobSQL<SQLiteConnection> { JobSQL(db: db, dialect: .sqlite) }
    /// Held while this connection serves a master (see `SQLiteFileLock`).
    var masterLock: SQLiteFileLock?

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
        // 4: the claim index leads with kind (within state), as MariaDB's
        // migration 7: a claim reads only the ranges of its kinds (see
        // `ClaimRead`). The rowid after created_at is the tie-break (submit order).
        """
        CREATE INDEX jobs_claim_kind ON jobs (state, kind, deadline_at, priority DESC, created_at);
        DROP INDEX jobs_claim;
        """,
        // 5: a proof job's sector size (claims honour a slave's allowed_sizes)
        // and sector count (`list`), as MariaDB's migration 9.
        """
        ALTER TABLE jobs ADD COLUMN sector_size TEXT NOT NULL DEFAULT '';
        ALTER TABLE jobs ADD COLUMN sectors INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE jobs_archive ADD COLUMN sector_size TEXT NOT NULL DEFAULT '';
        ALTER TABLE jobs_archive ADD COLUMN sectors INTEGER NOT NULL DEFAULT 0;
        """,
        // 6: the ComputeChain outbox (see ComputeChainSQL.swift).
        ComputeChainSQL<SQLiteConnection>.sqliteSchema,
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

    public func insert(_ jobs: [NewJob], maxTry: Int, now: Int64) throws -> [String] {
        try jobs.map { new in
            if let key = new.uniqueKey,
               let existing = try db.query("SELECT id FROM jobs WHERE unique_key = ?", [.text(key)], { $0.text(0) }).first {
                return existing
            }
            let id = JobID.make()
            try db.run("""
                INSERT INTO jobs (id, kind, state, miner_id, deadline_idx, partitions, priority, deadline_at, unique_key,
                                  input, max_try, created_at, pin, sector_size, sectors)
                VALUES (?, ?, 'ReadyToRun', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, [.text(id), .text(new.kind), .text(new.minerID), .int(Int64(new.deadlineIdx)),
                      .text(PartitionList.format(new.partitions)), .int(Int64(new.priority)),
                      .int(new.deadlineAt ?? Int64.max), new.uniqueKey.map { .text($0) } ?? .null,
                      .blob(new.input), .int(Int64(maxTry)), .int(now), .text(new.worker ?? ""),
                      .text(new.sectorSize ?? ""), .int(Int64(new.sectors ?? 0))])
            return id
        }
    }

    public func claim(worker: String, kinds: [String], miners: [String], sizes: [String], limit: Int, now: Int64) throws -> [Job] {
        guard !kinds.isEmpty, limit > 0 else { return [] }
        let read = Self.candidateRead(kinds: kinds, worker: worker, miners: miners, sizes: sizes, limit: limit, now: now)
        let candidates = try db.query(read.sql, read.params, JobSQL<SQLiteConnection>.job)
        var claimed: [Job] = []
        var inputBytes = 0
        for var job in candidates {
            // The answer must fit the slave's frame: at least one job, then
            // only while the inputs stay within the budget; the rest stay ready.
            if !claimed.isEmpty && inputBytes + job.input.count > InputLimits.claimInputBytes { break }
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
            inputBytes += job.input.count
        }
        return claimed
    }

    /// A claim's candidate read: up to `limit` ready jobs of `kinds` for
    /// `worker`, whole, in claim order (see `ClaimRead`).
    static func candidateRead(kinds: [String], worker: String, miners: [String], sizes: [String] = [], limit: Int,
                              now: Int64) -> (sql: String, params: [SQLValue]) {
        var filter = "not_before <= ? AND (pin = '' OR pin = ?)"
        var params: [SQLValue] = [.int(now), .text(worker)]
        let restriction = ClaimRestriction(miners: miners, sizes: sizes)
        filter += restriction.sql
        params += restriction.params
        let order = "deadline_at, priority DESC, created_at"
        let read = ClaimRead(kinds: kinds, filter: filter, filterParams: params, order: order)
        let columns = JobSQL<SQLiteConnection>.columns
        if read.kinds.count == 1 {
            return (read.range(columns), read.rangeParams(limit: limit))
        }
        // Each kind's first `limit` jobs, merged.
        let ranges = read.ranges(columns) { "SELECT * FROM (\($0))" }
        return ("\(ranges) ORDER BY \(order) LIMIT ?", read.rangeParams(limit: limit) + [.int(Int64(limit))])
    }

    static let finished = "state IN ('Succeed', 'Failed') AND finished_at > 0 AND finished_at < ?"

    /// Copy, then delete, `n` jobs by id, each still finished before the
    /// cut-off (the last parameter).
    static func archiveStatements(ids n: Int) -> [String] {
        let picked = "id IN (\(JobSQL<SQLiteConnection>.placeholders(n))) AND \(JobSQL<SQLiteConnection>.Dialect.sqlite.recheck(finished))"
        return ["INSERT OR REPLACE INTO jobs_archive SELECT * FROM jobs WHERE \(picked) ORDER BY created_at, rowid",
                "DELETE FROM jobs WHERE \(picked)"]
    }

    /// The ids first, then copy and delete exactly those (one writer: nothing
    /// changes between), so each call is bounded by `limit`. The archive's
    /// rowid is the list's tie-break among jobs created together (as the live
    /// table's is), so rows go in in creation order, batch after batch: the
    /// ids are read along the creation-time index, where the oldest, those
    /// due, come first.
    public func archive(finishedBefore: Int64, limit: Int) throws -> Int {
        guard limit > 0 else { return 0 }
        let ids = try db.query("SELECT id FROM jobs INDEXED BY jobs_created WHERE \(Self.finished) ORDER BY created_at, rowid LIMIT ?",
                               [.int(finishedBefore), .int(JobSQL<SQLiteConnection>.sqlLimit(limit))]) { $0.text(0) }
        return try JobSQL<SQLiteConnection>.chunked(ids).reduce(0) { moved, chunk in
            let rows = JobSQL<SQLiteConnection>.padded(chunk)
            let params = rows.map { SQLValue.text($0) } + [.int(finishedBefore)]
            let statements = Self.archiveStatements(ids: rows.count)
            try db.run(statements[0], params)
            return moved + (try db.run(statements[1], params))
        }
    }
}
