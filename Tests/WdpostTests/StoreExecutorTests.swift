import Foundation
import Logging
@testable import Master
import Shared
import XCTest

/// The executor over real MariaDB connections: the pool's limits, and what
/// happens to a group when its connection dies before or during COMMIT.
final class StoreExecutorTests: XCTestCase {
    var url: MariaDBURL!
    var observer: MariaDBConnection!
    let logs = CapturedLogs()

    override func setUpWithError() throws {
        url = try TestMariaDB.freshDatabase("executor")
        try MariaDBStore(url: url).migrate()
        observer = try MariaDBConnection(url, selectDatabase: false)
    }

    override func tearDown() {
        observer = nil
        if let url { TestMariaDB.dropDatabase(url) }
    }

    func executor(_ pool: StoreExecutor.Pool, open: (() throws -> JobStore)? = nil) throws -> StoreExecutor {
        let url = self.url!
        let executor = StoreExecutor(pool: pool, target: "test-db", logger: logs.logger, initial: try MariaDBStore(url: url),
                                     open: open ?? { try MariaDBStore(url: url) })
        executor.start()
        return executor
    }

    /// Connections the server holds open on the test database, once it
    /// reaches `expected` (closing is asynchronous on the server) or 5 s pass.
    func serverConnections(settlingAt expected: Int) async throws -> Int {
        let deadline = Date().addingTimeInterval(5)
        while true {
            let n = Int(try observer.query("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = ?", [.text(url.database)]) { $0.int(0) }.first ?? 0)
            if n == expected || Date() > deadline { return n }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
    }

    func kill(_ store: JobStore) throws {
        let id = try (store as! MariaDBStore).db.query("SELECT CONNECTION_ID()") { $0.int(0) }[0]
        try observer.run("KILL CONNECTION ?", [.int(id)])
    }

    func jobCount() throws -> Int {
        Int(try MariaDBConnection(url).query("SELECT COUNT(*) FROM jobs") { $0.int(0) }[0])
    }

    func testGroupLostBeforeCommitRunsAgainOnANewConnection() async throws {
        let executor = try executor(StoreExecutor.Pool(minConnections: 1, maxConnections: 1, idleTimeout: .max))
        defer { executor.shutdown() }
        let attempts = Locked(0)
        let ids = try await executor.run { store -> [String] in
            attempts.update { $0 += 1 }
            let ids = try store.insert([NewJob(kind: "noop")], maxTry: 3, now: 1)
            // The first attempt's connection dies mid-group, before COMMIT.
            if attempts.value == 1 { try self.kill(store) }
            _ = try store.list(all: false)
            return ids
        }
        XCTAssertEqual(attempts.value, 2, "the group ran again after the connection was replaced")
        XCTAssertEqual(ids.count, 1)
        XCTAssertEqual(try jobCount(), 1, "the lost attempt left nothing behind")
        XCTAssertEqual(logs.count(containing: "lost the database test-db"), 1)
        XCTAssertEqual(logs.count(containing: "reconnected to test-db"), 1)
    }

    func testConnectionLostDuringCommitFailsTheGroupAndNeverRetriesIt() async throws {
        let url = self.url!
        let executor = StoreExecutor(pool: StoreExecutor.Pool(minConnections: 1, maxConnections: 1, idleTimeout: .max),
                                     target: "test-db", logger: logs.logger,
                                     initial: KillOnCommit(try MariaDBStore(url: url), observer: nil)) {
            KillOnCommit(try MariaDBStore(url: url), observer: nil)
        }
        executor.start()
        defer { executor.shutdown() }
        let attempts = Locked(0)
        do {
            _ = try await executor.run { store -> [String] in
                attempts.update { $0 += 1 }
                (store as! KillOnCommit).observer = self.observer
                return try store.insert([NewJob(kind: "noop")], maxTry: 3, now: 1)
            }
            XCTFail("a group whose COMMIT was cut off must not report success")
        } catch {
            XCTAssertTrue("\(error)".contains("outcome of this request is unknown"), "\(error)")
        }
        XCTAssertEqual(attempts.value, 1, "a possibly applied group is never run again")
        // The executor has moved on to a fresh connection.
        let n = try await executor.run { try $0.list(all: true).count }
        XCTAssertLessThanOrEqual(n, 1)
    }

    func testPoolGrowsToMaxConnectionsAndShrinksToMinAfterIdleTimeout() async throws {
        let executor = try executor(StoreExecutor.Pool(minConnections: 1, maxConnections: 3, idleTimeout: 300_000))
        defer { executor.shutdown() }
        let atStart = try await serverConnections(settlingAt: 1)
        XCTAssertEqual(atStart, 1, "min_connections are open at start")
        // Each operation blocks its worker until released, so every new one needs another connection.
        let release = DispatchSemaphore(value: 0)
        let started = DispatchSemaphore(value: 0)
        let concurrent = Locked((now: 0, peak: 0))
        var tasks: [Task<Void, Error>] = []
        for i in 0..<5 {
            tasks.append(Task {
                _ = try await executor.run { store -> Int in
                    concurrent.update { $0.now += 1; $0.peak = max($0.peak, $0.now) }
                    started.signal()
                    release.wait()
                    concurrent.update { $0.now -= 1 }
                    return try store.list(all: false).count
                }
            })
            // Operations 1-3 each get a worker; 4 and 5 queue behind them.
            if i < 3 { XCTAssertEqual(started.wait(timeout: .now() + 10), .success, "operation \(i) should start") }
        }
        let busy = try await serverConnections(settlingAt: 3)
        XCTAssertEqual(busy, 3)
        XCTAssertEqual(started.wait(timeout: .now() + 0.3), .timedOut, "max_connections = 3: a fourth may not run")
        for _ in 0..<5 { release.signal() }
        for task in tasks { try await task.value }
        XCTAssertEqual(concurrent.value.peak, 3)
        // Idle workers above the minimum close their connections after idle_timeout.
        let idle = try await serverConnections(settlingAt: 1)
        XCTAssertEqual(idle, 1)
        let n = try await executor.run { try $0.list(all: false).count }
        XCTAssertEqual(n, 0, "the remaining connection still works")
    }

    func testUnreachableDatabaseFailsOperationsAfterTheOutageWait() async throws {
        var closed = url!
        closed.port = try unusedPort()
        let executor = StoreExecutor(pool: StoreExecutor.Pool(minConnections: 0, maxConnections: 2, idleTimeout: 1_000_000, outageWait: 300_000),
                                     target: "test-db", logger: logs.logger, initial: nil) { try MariaDBStore(url: closed) }
        executor.start()
        defer { executor.shutdown() }
        let started = Date()
        for _ in 0..<2 {
            do {
                _ = try await executor.run { try $0.list(all: false) }
                XCTFail("no database, no success")
            } catch {
                XCTAssertTrue("\(error)".contains("database test-db unavailable"), "\(error)")
            }
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 5)
        XCTAssertEqual(logs.count(containing: "lost the database test-db"), 1, "an outage is logged once")
    }

    func testOperationsQueuedTogetherCommitInOneTransaction() async throws {
        let executor = try executor(StoreExecutor.Pool(minConnections: 1, maxConnections: 1, idleTimeout: .max))
        defer { executor.shutdown() }
        let gate = DispatchSemaphore(value: 0)
        let blocker = Task { try await executor.run { _ in gate.wait() } }
        // While the only worker is held, ten submits queue up; they then run as one group.
        // A second connection sees none of them until the group commits.
        let peer = try MariaDBConnection(url)
        let seenByPeer = Locked<[Int64]>([])
        let submits = (0..<10).map { _ in
            Task {
                try await executor.run { store -> [String] in
                    let ids = try store.insert([NewJob(kind: "noop")], maxTry: 1, now: 1)
                    let committed = try peer.query("SELECT COUNT(*) FROM jobs") { $0.int(0) }[0]
                    seenByPeer.update { $0.append(committed) }
                    return ids
                }
            }
        }
        let deadline = Date().addingTimeInterval(10)
        while executor.queuedOperations < 10 && Date() < deadline { try await Task.sleep(nanoseconds: 5_000_000) }
        gate.signal()
        try await blocker.value
        for task in submits { _ = try await task.value }
        XCTAssertEqual(seenByPeer.value, Array(repeating: 0, count: 10), "one transaction for the whole group")
        XCTAssertEqual(try jobCount(), 10)
    }
}

/// A real MariaDB store whose connection is killed just before COMMIT, so
/// COMMIT meets a dead connection: the one moment whose outcome is unknown.
final class KillOnCommit: JobStore {
    let inner: MariaDBStore
    var observer: MariaDBConnection?
    init(_ inner: MariaDBStore, observer: MariaDBConnection?) { self.inner = inner; self.observer = observer }

    func commit() throws {
        if let observer {
            let id = try inner.db.query("SELECT CONNECTION_ID()") { $0.int(0) }[0]
            try observer.run("KILL CONNECTION ?", [.int(id)])
        }
        try inner.commit()
    }

    func migrate() throws { try inner.migrate() }
    func begin() throws { try inner.begin() }
    func rollback() throws { try inner.rollback() }
    func savepoint() throws { try inner.savepoint() }
    func releaseSavepoint() throws { try inner.releaseSavepoint() }
    func rollbackToSavepoint() throws { try inner.rollbackToSavepoint() }
    func insert(_ jobs: [NewJob], maxTry: Int, now: Int64) throws -> [String] { try inner.insert(jobs, maxTry: maxTry, now: now) }
    func claim(worker: String, kinds: [String], miners: [String], sizes: [String], limit: Int, now: Int64) throws -> [Job] {
        try inner.claim(worker: worker, kinds: kinds, miners: miners, sizes: sizes, limit: limit, now: now)
    }
    func rerunFailed(_ id: String) throws -> Bool { try inner.rerunFailed(id) }
    func heartbeat(_ leases: [JobLease], now: Int64) throws -> [String] { try inner.heartbeat(leases, now: now) }
    func finish(_ result: JobResult, now: Int64, retry: RetryPolicy) throws -> FinishOutcome { try inner.finish(result, now: now, retry: retry) }
    func finish(_ results: [JobResult], now: Int64, retry: RetryPolicy) throws -> [FinishOutcome] { try inner.finish(results, now: now, retry: retry) }
    func release(_ lease: JobLease, reason: String, now: Int64, retry: RetryPolicy) throws -> Bool {
        try inner.release(lease, reason: reason, now: now, retry: retry)
    }
    func expire(heartbeatBefore: Int64, startedBefore: Int64, now: Int64, retry: RetryPolicy, limit: Int) throws -> [Expired] {
        try inner.expire(heartbeatBefore: heartbeatBefore, startedBefore: startedBefore, now: now, retry: retry, limit: limit)
    }
    func archive(finishedBefore: Int64, limit: Int) throws -> Int { try inner.archive(finishedBefore: finishedBefore, limit: limit) }
    func purge(createdBefore: Int64, limit: Int) throws -> Int { try inner.purge(createdBefore: createdBefore, limit: limit) }
    func hasReady(kinds: [String], now: Int64) throws -> Bool { try inner.hasReady(kinds: kinds, now: now) }
    func list(all: Bool) throws -> [Job] { try inner.list(all: all) }
    func list(all: Bool, after: ListCursor?, limit: Int?, brief: Bool, maxBytes: Int) throws -> ListPage {
        try inner.list(all: all, after: after, limit: limit, brief: brief, maxBytes: maxBytes)
    }
    func get(_ id: String) throws -> Job? { try inner.get(id) }
    func reset(_ ids: [String], now: Int64) throws -> Int { try inner.reset(ids, now: now) }
    func remove(_ ids: [String]) throws -> Int { try inner.remove(ids) }
    func removeAll() throws -> Int { try inner.removeAll() }
    func runningByWorker() throws -> [String: Int] { try inner.runningByWorker() }
    func countByStateAndKind() throws -> [JobCount] { try inner.countByStateAndKind() }
    func latestFailures(limit: Int) throws -> [Job] { try inner.latestFailures(limit: limit) }
}

/// Log lines kept in memory, to check what the executor reported.
final class CapturedLogs: @unchecked Sendable {
    private let lines = Locked<[String]>([])

    var logger: Logger {
        let lines = self.lines
        return Logger(label: "test") { _ in Handler(lines: lines) }
    }

    func count(containing needle: String) -> Int { lines.value.filter { $0.contains(needle) }.count }

    struct Handler: LogHandler {
        let lines: Locked<[String]>
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String, file: String, function: String, line: UInt) {
            lines.update { $0.append("\(level) \(message)") }
        }
    }
}
