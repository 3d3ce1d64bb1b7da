import Foundation
import Shared

/// The production store: MariaDB or MySQL, shared by any number of masters.
/// Same semantics as `SQLiteStore` (the conformance suite holds both to them);
/// what differs is how concurrent masters are kept apart:
/// - claims lock their candidates with `FOR UPDATE SKIP LOCKED`, so two
///   masters claiming at once take different jobs instead of waiting;
/// - every transition is still a conditional UPDATE on (id, lease, state), so
///   a sweep run by two masters at once applies each change once;
/// - archiving locks the rows it moves, so a job cannot finish between being
///   copied and being deleted.
/// A deadlock is still possible in principle; the server then rolls the
/// whole transaction back and the executor runs the group again.
/// One instance is one connection; the executor's pool holds several.
public final class MariaDBStore: JobStore {
    let db: MariaDBConnection

    public init(url: MariaDBURL) throws {
        db = try MariaDBConnection(url)
    }

    static var columns: String { MariaDBSchema.columns }

    public func migrate() throws {
        // DDL cannot share a transaction, so masters starting together take
        // turns on a named lock (per database: the name hashes DATABASE()).
        let lock = "CONCAT('wdpost-migrate-', MD5(DATABASE()))"
        let locked = try db.query("SELECT GET_LOCK(\(lock), 60)") { $0.isNull(0) ? 0 : $0.int(0) }.first ?? 0
        guard locked == 1 else {
            throw StoreError.invalid("\(db.url): timed out waiting for another master to finish migrating the schema")
        }
        defer { _ = try? db.query("SELECT RELEASE_LOCK(\(lock))") { _ in () } }
        try db.exec(MariaDBSchema.versionTable)
        let current = Int(try db.query("SELECT COALESCE(MAX(version), 0) FROM schema_version") { $0.int(0) }.first ?? 0)
        let latest = MariaDBSchema.migrations.count
        guard current <= latest else {
            throw StoreError.invalid("\(db.url): database schema version \(current) is newer than this wdpost (\(latest)); upgrade wdpost")
        }
        for version in current..<latest {
            for statement in MariaDBSchema.migrations[version] { try db.exec(statement) }
            try db.run("INSERT INTO schema_version (version) VALUES (?)", [.int(Int64(version + 1))])
        }
    }

    public func begin() throws { try db.exec("START TRANSACTION") }
    public func commit() throws { try db.exec("COMMIT") }
    public func rollback() throws { try db.exec("ROLLBACK") }
    public func savepoint() throws { try db.exec("SAVEPOINT op") }
    public func releaseSavepoint() throws { try db.exec("RELEASE SAVEPOINT op") }
    public func rollbackToSavepoint() throws { try db.exec("ROLLBACK TO SAVEPOINT op") }

    static func placeholders(_ n: Int) -> String { Array(repeating: "?", count: n).joined(separator: ",") }

    static func job(_ r: MariaDBRow) -> Job {
        Job(id: r.text(0), kind: r.text(1), state: JobState(rawValue: r.text(2)) ?? .failed, minerID: r.text(3),
            deadlineIdx: Int(r.int(4)), partitions: PartitionList.parse(r.text(5)), priority: Int(r.int(6)),
            deadlineAt: r.int(7) == Int64.max ? nil : r.int(7), uniqueKey: r.isNull(8) ? nil : r.text(8),
            input: r.blob(9), output: r.isNull(10) ? nil : r.blob(10), tryNum: Int(r.int(11)), maxTry: Int(r.int(12)),
            lease: r.int(13), worker: r.text(14), notBefore: r.int(15), createdAt: r.int(16), startedAt: r.int(17),
            heartbeatAt: r.int(18), finishedAt: r.int(19), error: r.text(20), pin: r.text(21))
    }

    private func existingID(uniqueKey key: String) throws -> String? {
        try db.query("SELECT id FROM jobs WHERE unique_key = ?", [.text(key)]) { $0.text(0) }.first
    }

    public func insert(_ jobs: [NewJob], maxTry: Int, now: Int64) throws -> [String] {
        try jobs.map { new in
            if let key = new.uniqueKey, let existing = try existingID(uniqueKey: key) { return existing }
            let id = JobID.make()
            do {
                try db.run("""
                    INSERT INTO jobs (id, kind, state, miner_id, deadline_idx, partitions, priority, deadline_at, unique_key,
                                      input, max_try, created_at, error, pin)
                    VALUES (?, ?, 'ReadyToRun', ?, ?, ?, ?, ?, ?, ?, ?, ?, '', ?)
                    """, [.text(id), .text(new.kind), .text(new.minerID), .int(Int64(new.deadlineIdx)),
                          .text(PartitionList.format(new.partitions)), .int(Int64(new.priority)),
                          .int(new.deadlineAt ?? Int64.max), new.uniqueKey.map { .text($0) } ?? .null,
                          .blob(new.input), .int(Int64(maxTry)), .int(now), .text(new.worker ?? "")])
            } catch let error as MariaDBError where error.isDuplicateKey && new.uniqueKey != nil {
                // Another master inserted the same key first (our insert waited
                // for its commit): the key's job is theirs, as with a sequential submit.
                if let key = new.uniqueKey, let existing = try existingID(uniqueKey: key) { return existing }
                throw error
            }
            return id
        }
    }

    public func claim(worker: String, kinds: [String], miners: [String], limit: Int, now: Int64) throws -> [Job] {
        guard !kinds.isEmpty, limit > 0 else { return [] }
        var filter: [SQLValue] = [.int(now), .text(worker)] + kinds.map { .text($0) }
        var minerFilter = ""
        if !miners.isEmpty {
            minerFilter = " AND (miner_id = '' OR miner_id IN (\(Self.placeholders(miners.count))))"
            filter += miners.map { .text($0) }
        }
        // Candidates come from a plain read in claim order; they are then locked
        // by primary key with SKIP LOCKED. Locking the ordered query itself
        // would lock every row the sort reads (all ready jobs, not just
        // `limit`), so a second master's claims would find nothing to take.
        let page = limit + 8
        var skipped = 0
        var claimed: [Job] = []
        while claimed.count < limit {
            let candidates = try db.query("""
                SELECT id FROM jobs
                WHERE state = 'ReadyToRun' AND not_before <= ? AND (pin = '' OR pin = ?)
                  AND kind IN (\(Self.placeholders(kinds.count)))\(minerFilter)
                ORDER BY deadline_at, priority DESC, created_at, seq LIMIT ? OFFSET ?
                """, filter + [.int(Int64(page)), .int(Int64(skipped))]) { $0.text(0) }
            // Take the page in claim order, as many at a time as are still wanted.
            var rest = candidates[...]
            while claimed.count < limit && !rest.isEmpty {
                let wanted = Array(rest.prefix(limit - claimed.count))
                rest = rest.dropFirst(wanted.count)
                let got = try lockAndClaim(wanted, worker: worker, now: now)
                skipped += wanted.count - got.count
                claimed += got
            }
            // Jobs claimed here leave the next page (this transaction sees its
            // own updates); skipped ones stay, so the offset counts only those.
            if candidates.count < page { break }
        }
        return claimed
    }

    /// Locks those of `ids` that are still ready in one statement by primary
    /// key (rows another master is claiming are locked: skipped, not waited
    /// for) and moves them to Running in one UPDATE. They share one new lease:
    /// fencing keys on (id, lease), and the lease is new for each job's claim.
    /// One round trip for the lot instead of two per job.
    private func lockAndClaim(_ ids: [String], worker: String, now: Int64) throws -> [Job] {
        let locked = try db.query("""
            SELECT \(Self.columns) FROM jobs
            WHERE id IN (\(Self.placeholders(ids.count))) AND state = 'ReadyToRun' AND not_before <= ?
            ORDER BY deadline_at, priority DESC, created_at, seq
            FOR UPDATE SKIP LOCKED
            """, ids.map { .text($0) } + [.int(now)], Self.job)
        guard !locked.isEmpty else { return [] }
        let lease = JobLeaseToken.make()
        let changed = try db.run("""
            UPDATE jobs SET state = 'Running', try_num = try_num + 1, lease = ?, worker = ?,
                   started_at = ?, heartbeat_at = ?, finished_at = 0
            WHERE id IN (\(Self.placeholders(locked.count))) AND state = 'ReadyToRun'
            """, [.int(lease), .text(worker), .int(now), .int(now)] + locked.map { .text($0.id) })
        // The rows are locked by this transaction, so none can have changed state.
        guard changed == locked.count else {
            throw StoreError.invalid("claim: \(changed) of \(locked.count) locked jobs changed; refusing a partial claim")
        }
        return locked.map { job in
            var job = job
            job.state = .running; job.tryNum += 1; job.lease = lease; job.worker = worker
            job.startedAt = now; job.heartbeatAt = now; job.finishedAt = 0
            return job
        }
    }

    public func heartbeat(_ leases: [JobLease], now: Int64) throws -> [String] {
        try leases.compactMap { l in
            let changed = try db.run("UPDATE jobs SET heartbeat_at = ? WHERE id = ? AND lease = ? AND state = 'Running'",
                                     [.int(now), .text(l.id), .int(l.lease)])
            return changed == 1 ? nil : l.id
        }
    }

    /// The failure transition shared by finish-with-error and the sweeps.
    private func fail(id: String, lease: Int64, reason: String, now: Int64, retry: RetryPolicy) throws -> Bool {
        // MariaDB applies SET assignments left to right; none of these reads a
        // column assigned before it, so the order does not matter here.
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
            UPDATE jobs SET state = 'ReadyToRun', try_num = GREATEST(try_num - 1, 0), not_before = ?, error = ?
            WHERE id = ? AND lease = ? AND state = 'Running'
            """, [.int(now), .text(reason), .text(lease.id), .int(lease.lease)])
        return changed == 1
    }

    public func expire(heartbeatBefore: Int64, startedBefore: Int64, now: Int64, retry: RetryPolicy) throws -> [Expired] {
        // Rows another master is already expiring (or finishing) are locked:
        // skip them; the conditional UPDATE below would refuse them anyway.
        let stuck = try db.query("""
            SELECT id, lease, worker, heartbeat_at < ?, try_num < max_try FROM jobs
            WHERE state = 'Running' AND (heartbeat_at < ? OR started_at < ?)
            FOR UPDATE SKIP LOCKED
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
        // Lock first, then copy and delete exactly the locked rows: a job that
        // finishes meanwhile (on any master) is neither copied nor deleted.
        let ids = try db.query("""
            SELECT id FROM jobs WHERE state IN ('Succeed', 'Failed') AND finished_at > 0 AND finished_at < ?
            FOR UPDATE SKIP LOCKED
            """, [.int(finishedBefore)]) { $0.text(0) }
        // One row per statement, by primary key. A DELETE with an IN list may be
        // planned as a table scan, which waits for rows another master holds
        // (and deadlocked two masters archiving at once). A plain INSERT: ids
        // are never reused, and unlike REPLACE or INSERT IGNORE it takes no
        // next-key locks for a duplicate check.
        return try ids.reduce(0) { moved, id in
            try db.run("INSERT INTO jobs_archive (\(Self.columns), seq) SELECT \(Self.columns), seq FROM jobs WHERE id = ?", [.text(id)])
            return moved + (try db.run("DELETE FROM jobs WHERE id = ?", [.text(id)]))
        }
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
            return try db.query("SELECT \(Self.columns) FROM jobs_archive ORDER BY created_at, seq", [], Self.job)
                + db.query("SELECT \(Self.columns) FROM jobs ORDER BY created_at, seq", [], Self.job)
        }
        return try db.query("""
            SELECT \(Self.columns) FROM jobs WHERE state IN ('ReadyToRun', 'Running', 'Failed') ORDER BY created_at, seq
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
        try db.query("SELECT state, kind, COUNT(*) FROM jobs GROUP BY state, kind ORDER BY state, kind", []) {
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
