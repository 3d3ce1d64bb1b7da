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
public final class MariaDBStore: SharedJobSQL {
    let db: MariaDBConnection
    var sql: JobSQL<MariaDBConnection> { JobSQL(db: db, dialect: .mariadb) }

    /// What this process's connections are claiming, and their claims' turn
    /// (see `ClaimsInFlight`).
    static let claimsInFlight = ClaimsInFlight()
    /// This connection's part of it, until its transaction ends (commit,
    /// rollback, the next begin, or the connection's end).
    private var claimedInTransaction: [String] = []

    public init(url: MariaDBURL) throws {
        db = try MariaDBConnection(url)
    }

    deinit { Self.claimsInFlight.remove(claimedInTransaction) }

    /// The transaction ended (or the connection did): its claims are no longer in flight.
    private func endClaims() {
        Self.claimsInFlight.remove(claimedInTransaction)
        claimedInTransaction.removeAll()
    }

    static var columns: String { MariaDBSchema.columns }

    /// The server's clock: UTC arithmetic, so neither the session's time
    /// zone nor a daylight-saving change can shift it.
    public func databaseTimeMicros() throws -> Int64? {
        try db.query("SELECT TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', UTC_TIMESTAMP(6))") { $0.int(0) }.first
    }

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

    public func begin() throws {
        endClaims()
        try db.exec("START TRANSACTION")
    }
    public func commit() throws {
        defer { endClaims() }
        try db.exec("COMMIT")
    }
    public func rollback() throws {
        defer { endClaims() }
        try db.exec("ROLLBACK")
    }
    public func savepoint() throws { try db.exec("SAVEPOINT op") }
    public func releaseSavepoint() throws { try db.exec("RELEASE SAVEPOINT op") }
    public func rollbackToSavepoint() throws { try db.exec("ROLLBACK TO SAVEPOINT op") }

    private func existingID(uniqueKey key: String) throws -> String? {
        try db.query("SELECT id FROM jobs WHERE unique_key = ?", [.text(key)]) { $0.text(0) }.first
    }

    public func insert(_ jobs: [NewJob], maxTry: Int, now: Int64) throws -> [String] {
        // Jobs without a unique key, nearly always all of them, go in
        // multi-row INSERTs: one round trip for up to 256 jobs instead of one
        // each. A keyed job is inserted on its own (it may already exist, or
        // repeat an earlier key of this batch), after the plain jobs before it,
        // so the insertion sequence, the claim order's last tie-break, stays
        // the submit order.
        var ids = [String](repeating: "", count: jobs.count)
        var plain: [Int] = []
        for (i, new) in jobs.enumerated() {
            guard let key = new.uniqueKey else { plain.append(i); continue }
            try insertPlain(plain, of: jobs, into: &ids, maxTry: maxTry, now: now)
            plain.removeAll()
            ids[i] = try insertKeyed(new, key: key, maxTry: maxTry, now: now)
        }
        try insertPlain(plain, of: jobs, into: &ids, maxTry: maxTry, now: now)
        return ids
    }

    /// Inserts `jobs[indices]` in multi-row chunks, writing their new ids to `ids`.
    private func insertPlain(_ indices: [Int], of jobs: [NewJob], into ids: inout [String], maxTry: Int, now: Int64) throws {
        var rest = indices[...]
        while !rest.isEmpty {
            // Fixed chunk sizes keep the prepared-statement cache to a handful
            // of statements; the byte bound keeps a chunk of large inputs well
            // under the server's max_allowed_packet (16 MiB by default).
            let size = Self.insertChunks.first { n in
                n <= rest.count && rest.prefix(n).reduce(0) { $0 + jobs[$1].input.count } <= Self.insertChunkBytes
            } ?? 1
            var params: [SQLValue] = []
            for i in rest.prefix(size) {
                ids[i] = JobID.make()
                params += Self.insertValues(id: ids[i], jobs[i], maxTry: maxTry, now: now)
            }
            rest = rest.dropFirst(size)
            let rows = Array(repeating: Self.insertRow, count: size).joined(separator: ", ")
            try db.run("INSERT INTO jobs (\(Self.insertColumns)) VALUES \(rows)", params)
        }
    }

    static let insertChunks = [256, 64, 16, 4, 1]
    static let insertChunkBytes = 4 << 20
    static let insertColumns = """
        id, kind, state, miner_id, deadline_idx, partitions, priority, deadline_at, unique_key, input, max_try, created_at, error, pin, \
        sector_size, sectors
        """
    static let insertRow = "(?, ?, 'ReadyToRun', ?, ?, ?, ?, ?, ?, ?, ?, ?, '', ?, ?, ?)"

    static func insertValues(id: String, _ new: NewJob, maxTry: Int, now: Int64) -> [SQLValue] {
        [.text(id), .text(new.kind), .text(new.minerID), .int(Int64(new.deadlineIdx)),
         .text(PartitionList.format(new.partitions)), .int(Int64(new.priority)),
         .int(new.deadlineAt ?? Int64.max), new.uniqueKey.map { .text($0) } ?? .null,
         .blob(new.input), .int(Int64(maxTry)), .int(now), .text(new.worker ?? ""),
         .text(new.sectorSize ?? ""), .int(Int64(new.sectors ?? 0))]
    }

    private func insertKeyed(_ new: NewJob, key: String, maxTry: Int, now: Int64) throws -> String {
        if let existing = try existingID(uniqueKey: key) { return existing }
        let id = JobID.make()
        do {
            try db.run("INSERT INTO jobs (\(Self.insertColumns)) VALUES \(Self.insertRow)",
                       Self.insertValues(id: id, new, maxTry: maxTry, now: now))
        } catch let error as MariaDBError where error.isDuplicateKey {
            // Another master inserted the same key first (our insert waited
            // for its commit): the key's job is theirs, as with a sequential submit.
            if let existing = try existingID(uniqueKey: key) { return existing }
            throw error
        }
        return id
    }

    public func claim(worker: String, kinds: [String], miners: [String], sizes: [String], limit: Int, now: Int64) throws -> [Job] {
        try claim([ClaimWanted(worker: worker, limit: limit)], kinds: kinds, miners: miners, sizes: sizes, now: now)[0]
    }

    /// One claim for several workers: the same three statements as for one
    /// (candidates, lock, update), whatever the number of workers. Jobs go
    /// in claim order to the earliest entry that still wants jobs and may
    /// take them (a pinned job only to its worker). Claims of this process
    /// take turns (see `ClaimsInFlight`).
    public func claim(_ wanted: [ClaimWanted], kinds: [String], miners: [String], sizes: [String], now: Int64) throws -> [[Job]] {
        try Self.claimsInFlight.claiming { try claimInTurn(wanted, kinds: kinds, miners: miners, sizes: sizes, now: now) }
    }

    private func claimInTurn(_ wanted: [ClaimWanted], kinds: [String], miners: [String], sizes: [String], now: Int64) throws -> [[Job]] {
        var claimed = [[Job]](repeating: [], count: wanted.count)
        var remaining = wanted.map { max(0, $0.limit) }
        // Each entry's answer must fit the slave's frame (see `lockAndClaim`).
        var inputBudget = wanted.map { _ in InputLimits.claimInputBytes }
        guard !kinds.isEmpty, remaining.contains(where: { $0 > 0 }) else { return claimed }
        // Padded like the id lists, so the statement's length varies little.
        let workers = JobSQL<MariaDBConnection>.padded(Array(Set(wanted.map(\.worker))).sorted())
        var filter = "not_before <= ? AND (pin = '' OR pin IN (\(JobSQL<MariaDBConnection>.placeholders(workers.count))))"
        var params: [SQLValue] = [.int(now)] + workers.map { .text($0) }
        let restriction = ClaimRestriction(miners: miners, sizes: sizes)
        filter += restriction.sql
        params += restriction.params
        // Candidates, whole rows, come from a plain read in claim order; they
        // are then locked by primary key with SKIP LOCKED. Locking the ordered
        // query itself would also keep every row it steps over (another kind,
        // another worker's pin, a retry not yet due) locked to the end of the
        // transaction, even under READ COMMITTED, where another master's claim
        // skips it (`testOpenClaimHoldsOnlyWhatItTook`).
        // The read already visits each candidate's row (input and the rest),
        // so the lock reads only ids: no second copy of the inputs, no second
        // sort.
        // Jobs this master's other connections have claimed in transactions
        // still open: still ready to this read, but taken.
        let others = JobSQL<MariaDBConnection>.padded(Self.claimsInFlight.some(JobSQL<MariaDBConnection>.maxRows))
        if !others.isEmpty {
            filter += " AND id NOT IN (\(JobSQL<MariaDBConnection>.placeholders(others.count)))"
            params += others.map { .text($0) }
        }
        let read = ClaimRead(kinds: kinds, filter: filter, filterParams: params, order: Self.claimOrder)
        var skipped = 0
        while true {
            let total = remaining.reduce(0, +)
            guard total > 0 else { break }
            // A little more than wanted, for rows the lock skips (another
            // master is claiming them), but not much: each is a whole row,
            // input included, and this master's own claims are left out above.
            let asked = min(total, JobSQL<MariaDBConnection>.maxRows)
            let page = asked + min(2, asked / 16)
            let candidates = try candidates(read, page: page, offset: skipped)
            // Take the page in claim order, as many at a time as are still wanted.
            var rest = candidates[...]
            while !rest.isEmpty {
                let want = min(remaining.reduce(0, +), JobSQL<MariaDBConnection>.maxRows)
                guard want > 0 else { break }
                let jobs = Array(rest.prefix(want))
                rest = rest.dropFirst(jobs.count)
                let got = try lockAndClaim(jobs, for: wanted, remaining: &remaining, inputBudget: &inputBudget, now: now)
                skipped += jobs.count - got.reduce(0) { $0 + $1.count }
                for (i, jobs) in got.enumerated() { claimed[i] += jobs }
            }
            // Jobs claimed here leave the next page (this transaction sees its
            // own updates); skipped ones stay, so the offset counts only those.
            if candidates.count < page { break }
        }
        return claimed
    }

    static let claimOrder = "deadline_at, priority DESC, created_at, seq"

    /// `page` ready jobs in claim order after the first `offset` (rows the
    /// lock skipped), whole. One kind is its index range; for several, each
    /// kind's first `offset + page` ids are merged and only the page's rows
    /// are read whole (by primary key), so no input is read that is not
    /// handed out.
    private func candidates(_ read: ClaimRead, page: Int, offset: Int) throws -> [Job] {
        if read.kinds.count == 1 {
            return try db.query("\(read.range(Self.columns)) OFFSET ?",
                                read.rangeParams(limit: page) + [.int(Int64(offset))], JobSQL<MariaDBConnection>.job)
        }
        return try db.query("""
            SELECT \(Self.columns) FROM jobs FORCE INDEX (PRIMARY) JOIN (
                SELECT id AS pick, deadline_at AS d, priority AS p, created_at AS c, seq AS s
                FROM (\(read.ranges("id, deadline_at, priority, created_at, seq"))) AS heads
                ORDER BY \(Self.claimOrder) LIMIT ? OFFSET ?
            ) AS picked ON jobs.id = picked.pick
            ORDER BY picked.d, picked.p DESC, picked.c, picked.s
            """, read.rangeParams(limit: offset + page) + [.int(Int64(page)), .int(Int64(offset))], JobSQL<MariaDBConnection>.job)
    }

    /// Locks those of `candidates` that are still ready in one statement by
    /// primary key (rows another master is claiming are locked: skipped, not
    /// waited for), shares them out among `wanted` in claim order and moves
    /// them to Running in one UPDATE. The jobs of one entry share one new
    /// lease: fencing keys on (id, lease), and the lease is new for each job's
    /// claim. Both statements go by primary key (forced, as in
    /// `JobSQL.Dialect.byID`): walking the claim index's ReadyToRun range
    /// would touch every ready job.
    /// An entry takes jobs while their inputs fit its `inputBudget` (bytes
    /// left), and always its first one; the first that does not fit ends its
    /// claim, and the job stays ready for the next.
    private func lockAndClaim(_ candidates: [Job], for wanted: [ClaimWanted], remaining: inout [Int], inputBudget: inout [Int],
                              now: Int64) throws -> [[Job]] {
        let lockIDs = JobSQL<MariaDBConnection>.padded(candidates.map(\.id))
        // Still ready: another master may have claimed (and committed) a
        // candidate since the read; its try count, if it ran meanwhile, is
        // taken from the locked row.
        let locked = Dictionary(try db.query("""
            SELECT id, try_num FROM jobs FORCE INDEX (PRIMARY)
            WHERE id IN (\(JobSQL<MariaDBConnection>.placeholders(lockIDs.count))) AND state = 'ReadyToRun' AND not_before <= ?
            FOR UPDATE SKIP LOCKED
            """, lockIDs.map { .text($0) } + [.int(now)]) { ($0.text(0), Int($0.int(1))) }, uniquingKeysWith: { a, _ in a })
        var shares = [[Job]](repeating: [], count: wanted.count)
        var leases: [Int64?] = Array(repeating: nil, count: wanted.count)
        for candidate in candidates {
            guard let tryNum = locked[candidate.id] else { continue }
            // A locked job no entry may take stays ready; its lock ends with the transaction.
            var taker: Int?
            for i in wanted.indices where remaining[i] > 0 && (candidate.pin.isEmpty || candidate.pin == wanted[i].worker) {
                let first = remaining[i] == max(0, wanted[i].limit)
                if !first && candidate.input.count > inputBudget[i] {
                    remaining[i] = 0
                    continue
                }
                taker = i
                break
            }
            guard let i = taker else { continue }
            let lease = leases[i] ?? JobLeaseToken.make()
            leases[i] = lease
            var job = candidate
            job.state = .running; job.tryNum = tryNum + 1; job.lease = lease; job.worker = wanted[i].worker
            job.startedAt = now; job.heartbeatAt = now; job.finishedAt = 0
            shares[i].append(job)
            remaining[i] -= 1
            inputBudget[i] -= min(inputBudget[i], candidate.input.count)
        }
        let claimed = shares.flatMap { $0 }.count
        guard claimed > 0 else { return shares }
        let taken = JobSQL<MariaDBConnection>.padded(shares.flatMap { $0 })
        let cases = JobSQL<MariaDBConnection>.caseArms(taken.count)
        let changed = try db.run("""
            UPDATE jobs FORCE INDEX (PRIMARY) SET state = 'Running', try_num = try_num + 1,
                   lease = CASE id \(cases) END, worker = CASE id \(cases) END,
                   started_at = ?, heartbeat_at = ?, finished_at = 0
            WHERE id IN (\(JobSQL<MariaDBConnection>.placeholders(taken.count))) AND state = 'ReadyToRun'
            """, taken.flatMap { [SQLValue.text($0.id), .int($0.lease)] } + taken.flatMap { [SQLValue.text($0.id), .text($0.worker)] }
                + [.int(now), .int(now)] + taken.map { .text($0.id) })
        // The rows are locked by this transaction, so none can have changed state.
        guard changed == claimed else {
            throw StoreError.invalid("claim: \(changed) of \(claimed) locked jobs changed; refusing a partial claim")
        }
        let ids = shares.flatMap { $0.map(\.id) }
        claimedInTransaction += ids
        Self.claimsInFlight.add(ids)
        return shares
    }

    public func archive(finishedBefore: Int64, limit: Int) throws -> Int {
        guard limit > 0 else { return 0 }
        // Lock first, then copy and delete exactly the locked rows: a job that
        // finishes meanwhile (on any master) is neither copied nor deleted, and
        // rows another master is archiving are skipped, not waited for.
        let finished = "state IN ('Succeed', 'Failed') AND finished_at > 0 AND finished_at < ?"
        let ids = try db.query("SELECT id FROM jobs WHERE \(finished) LIMIT ? FOR UPDATE SKIP LOCKED",
                               [.int(finishedBefore), .int(JobSQL<MariaDBConnection>.sqlLimit(limit))]) { $0.text(0) }
        // By primary key, forced: a DELETE with an IN list planned as a table
        // scan waits for rows another master holds (and deadlocked two masters
        // archiving at once). A plain INSERT: ids are never reused, and unlike
        // REPLACE or INSERT IGNORE it takes no next-key locks for a duplicate check.
        return try JobSQL<MariaDBConnection>.chunked(ids).reduce(0) { moved, chunk in
            let rows = JobSQL<MariaDBConnection>.padded(chunk)
            let list = JobSQL<MariaDBConnection>.placeholders(rows.count)
            let params = rows.map { SQLValue.text($0) } + [.int(finishedBefore)]
            try db.run("""
                INSERT INTO jobs_archive (\(Self.columns), seq) SELECT \(Self.columns), seq FROM jobs FORCE INDEX (PRIMARY)
                WHERE id IN (\(list)) AND \(finished)
                """, params)
            return moved + (try db.run("\(sql.dialect.delete(from: "jobs")) WHERE id IN (\(list)) AND \(finished)", params))
        }
    }
}
