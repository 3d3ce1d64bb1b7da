import Foundation
import Shared

/// The outbox in SQL both backends accept, over whichever connection the
/// store holds (as `CommitteeSQL`).
struct ComputeChainSQL<Connection: SQLConnection> {
    let db: Connection

    /// SQLite's DDL; MariaDB's is in `MariaDBSchema` (engine, charset).
    static var sqliteSchema: String { """
        CREATE TABLE computechain_tasks (
            task_id VARCHAR(36) NOT NULL PRIMARY KEY,
            worker VARCHAR(128) NOT NULL,
            block_height BIGINT NOT NULL,
            block_hash VARCHAR(128) NOT NULL,
            job_id VARCHAR(16) NOT NULL,
            state VARCHAR(16) NOT NULL,
            result_hash VARCHAR(128) NOT NULL DEFAULT '',
            nonce BIGINT NOT NULL DEFAULT -1,
            tx_hash VARCHAR(64) NOT NULL DEFAULT '',
            sent_height BIGINT NOT NULL DEFAULT -1,
            sends INTEGER NOT NULL DEFAULT 0,
            rejections INTEGER NOT NULL DEFAULT 0,
            confirmed_height BIGINT NOT NULL DEFAULT -1,
            error TEXT,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL);
        CREATE INDEX computechain_tasks_state ON computechain_tasks (state, block_height);
        CREATE INDEX computechain_tasks_height ON computechain_tasks (block_height);
        """ }

    static var columns: String { """
        task_id, worker, block_height, block_hash, job_id, state, result_hash, nonce, tx_hash, sent_height, sends, \
        rejections, confirmed_height, error
        """ }

    static func task(_ r: Connection.Row) throws -> ChainTask {
        guard let state = ChainTask.State(rawValue: r.text(5)) else {
            throw StoreError.invalid("computechain_tasks: task \(r.text(0)) has state \"\(r.text(5))\", which this wdpost does not know")
        }
        var t = ChainTask(taskID: r.text(0), worker: r.text(1), blockHeight: r.int(2), blockHash: r.text(3), jobID: r.text(4), state: state)
        t.resultHash = r.text(6)
        t.nonce = r.int(7)
        t.txHash = r.text(8)
        t.sentHeight = r.int(9)
        t.sends = Int(r.int(10))
        t.rejections = Int(r.int(11))
        t.confirmedHeight = r.int(12)
        t.error = r.isNull(13) ? "" : r.text(13)
        return t
    }

    func insert(_ t: ChainTask, now: Int64) throws -> Bool {
        guard try db.query("SELECT 1 FROM computechain_tasks WHERE task_id = ?", [.text(t.taskID)], { _ in true }).isEmpty else { return false }
        try db.run("""
            INSERT INTO computechain_tasks (\(Self.columns), created_at, updated_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [.text(t.taskID), .text(t.worker), .int(t.blockHeight), .text(t.blockHash), .text(t.jobID)] + Self.mutable(t) + [.int(now), .int(now)])
        return true
    }

    /// state … error, in column order.
    static func mutable(_ t: ChainTask) -> [SQLValue] {
        [.text(t.state.rawValue), .text(t.resultHash), .int(t.nonce), .text(t.txHash), .int(t.sentHeight), .int(Int64(t.sends)),
         .int(Int64(t.rejections)), .int(t.confirmedHeight), .text(t.error)]
    }

    func update(_ t: ChainTask, now: Int64) throws {
        try db.run("""
            UPDATE computechain_tasks SET state = ?, result_hash = ?, nonce = ?, tx_hash = ?, sent_height = ?, sends = ?,
                   rejections = ?, confirmed_height = ?, error = ?, updated_at = ?
            WHERE task_id = ?
            """, Self.mutable(t) + [.int(now), .text(t.taskID)])
    }

    func tasks(states: [ChainTask.State]) throws -> [ChainTask] {
        guard !states.isEmpty else { return [] }
        let marks = Array(repeating: "?", count: states.count).joined(separator: ", ")
        return try db.query("""
            SELECT \(Self.columns) FROM computechain_tasks WHERE state IN (\(marks)) ORDER BY block_height, worker, task_id
            """, states.map { .text($0.rawValue) }, Self.task)
    }

    func task(id: String) throws -> ChainTask? {
        try db.query("SELECT \(Self.columns) FROM computechain_tasks WHERE task_id = ?", [.text(id)], Self.task).first
    }

    func counts() throws -> [ChainTaskCount] {
        try db.query("""
            SELECT worker, state, COUNT(*), MAX(block_height) FROM computechain_tasks GROUP BY worker, state ORDER BY worker, state
            """, []) { (r: Connection.Row) -> ChainTaskCount in
            guard let state = ChainTask.State(rawValue: r.text(1)) else {
                throw StoreError.invalid("computechain_tasks: state \"\(r.text(1))\", which this wdpost does not know")
            }
            return ChainTaskCount(worker: r.text(0), state: state, count: Int(r.int(2)), lastHeight: r.int(3))
        }
    }

    func lastHeight() throws -> Int64? {
        try db.query("SELECT MAX(block_height) FROM computechain_tasks", []) { (r: Connection.Row) -> Int64? in r.isNull(0) ? nil : r.int(0) }.first ?? nil
    }
}

extension SQLiteStore: ComputeChainStore {
    var chainSQL: ComputeChainSQL<SQLiteConnection> { ComputeChainSQL(db: db) }
    public func insertChainTask(_ task: ChainTask, now: Int64) throws -> Bool { try chainSQL.insert(task, now: now) }
    public func updateChainTask(_ task: ChainTask, now: Int64) throws { try chainSQL.update(task, now: now) }
    public func chainTasks(states: [ChainTask.State]) throws -> [ChainTask] { try chainSQL.tasks(states: states) }
    public func chainTask(id: String) throws -> ChainTask? { try chainSQL.task(id: id) }
    public func chainTaskCounts() throws -> [ChainTaskCount] { try chainSQL.counts() }
    public func lastTaskedHeight() throws -> Int64? { try chainSQL.lastHeight() }
}

extension MariaDBStore: ComputeChainStore {
    var chainSQL: ComputeChainSQL<MariaDBConnection> { ComputeChainSQL(db: db) }
    public func insertChainTask(_ task: ChainTask, now: Int64) throws -> Bool { try chainSQL.insert(task, now: now) }
    public func updateChainTask(_ task: ChainTask, now: Int64) throws { try chainSQL.update(task, now: now) }
    public func chainTasks(states: [ChainTask.State]) throws -> [ChainTask] { try chainSQL.tasks(states: states) }
    public func chainTask(id: String) throws -> ChainTask? { try chainSQL.task(id: id) }
    public func chainTaskCounts() throws -> [ChainTaskCount] { try chainSQL.counts() }
    public func lastTaskedHeight() throws -> Int64? { try chainSQL.lastHeight() }
}
