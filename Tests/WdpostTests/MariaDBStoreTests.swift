import Foundation
@testable import Master
import Shared
import XCTest

/// The conformance suite on a real MariaDB server, plus what only a shared
/// database has: several connections (masters) claiming and sweeping at once.
final class MariaDBStoreTests: XCTestCase {
    func freshStore() throws -> MariaDBStore {
        let url = try TestMariaDB.url()
        try TestMariaDB.emptyDatabase(url)
        let store = try MariaDBStore(url: url)
        try store.migrate()
        return store
    }

    func testConformance() throws {
        for (name, check) in StoreConformance.allChecks {
            let store = try freshStore()
            XCTAssertNoThrow(try check(StoreConformance(store: store)), name)
        }
    }

    func testCommitteeConformance() throws {
        for (name, check) in CommitteeStoreConformance.allChecks {
            let store = try freshStore()
            XCTAssertNoThrow(try check(CommitteeStoreConformance(store: store)), name)
        }
    }

    func testComputeChainConformance() throws {
        for (name, check) in ComputeChainStoreConformance.allChecks {
            let store = try freshStore()
            XCTAssertNoThrow(try check(ComputeChainStoreConformance(store: store)), name)
        }
    }

    func testMigrationIsVersionedAndIdempotent() throws {
        let store = try freshStore()
        XCTAssertNoThrow(try MariaDBStore(url: store.db.url).migrate(), "a second master migrating finds nothing to do")
        let versions = try store.db.query("SELECT version FROM schema_version ORDER BY version") { $0.int(0) }
        XCTAssertEqual(versions, Array(1...Int64(MariaDBSchema.migrations.count)))
        try store.db.run("INSERT INTO schema_version (version) VALUES (?)", [.int(99)])
        XCTAssertThrowsError(try MariaDBStore(url: store.db.url).migrate()) {
            XCTAssertTrue("\($0)".contains("newer than this wdpost"), "\($0)")
        }
    }

    func testMastersStartingTogetherMigrateOnce() throws {
        let url = try TestMariaDB.freshDatabase("migrate")
        defer { TestMariaDB.dropDatabase(url) }
        let errors = ErrorBox()
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            do { try MariaDBStore(url: url).migrate() } catch { errors.add(error) }
        }
        XCTAssertEqual(errors.all.map { "\($0)" }, [])
        let versions = try MariaDBConnection(url).query("SELECT version FROM schema_version ORDER BY version") { $0.int(0) }
        XCTAssertEqual(versions, Array(1...Int64(MariaDBSchema.migrations.count)), "each migration once")
    }

    func testDatabaseNameWithDashesAndBackticksIsQuoted() throws {
        XCTAssertEqual(MariaDBURL.quoteIdentifier("venus-cluster-wdpost"), "`venus-cluster-wdpost`")
        XCTAssertEqual(MariaDBURL.quoteIdentifier("a`b"), "`a``b`")
        let url = try TestMariaDB.freshDatabase("dash-x")
        defer { TestMariaDB.dropDatabase(url) }
        XCTAssertTrue(url.database.contains("-"))
        let store = try MariaDBStore(url: url)
        try store.migrate()
        let ids = try StoreConformance(store: store).insert([NewJob(kind: "noop")])
        XCTAssertEqual(ids.count, 1)
    }

    func testValuesRoundTripExactly() throws {
        let store = try freshStore()
        let conformance = StoreConformance(store: store)
        let binary = Data((0...255).map { UInt8($0) } + Array(repeating: 0, count: 70_000))
        let text = "naïve ✓ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 'quoted' \"double\" `tick` \\ ; DROP TABLE jobs; --"
        let id = try conformance.insert([NewJob(kind: "noop", input: binary, minerID: text, uniqueKey: text)])[0]
        let job = try conformance.get(id)
        XCTAssertEqual(job.input, binary, "binary input with NULs and 70 kB survives")
        XCTAssertEqual(job.minerID, text)
        XCTAssertEqual(job.uniqueKey, text)
        XCTAssertNil(job.deadlineAt)
        XCTAssertEqual(try conformance.insert([NewJob(kind: "noop", uniqueKey: text.uppercased())]).count, 1)
        XCTAssertNotEqual(try conformance.insert([NewJob(kind: "noop", uniqueKey: text.uppercased())])[0], id,
                          "unique keys compare byte-wise, as in SQLite")
    }

    /// Two masters claiming in overlapping transactions take different jobs
    /// and neither waits for the other's locks.
    func testConcurrentClaimsSkipLockedRows() throws {
        let a = try freshStore()
        let b = try MariaDBStore(url: a.db.url)
        _ = try StoreConformance(store: a).insert(Array(repeating: NewJob(kind: "noop"), count: 5))
        try a.begin()
        try b.begin()
        let first = try a.claim(worker: "a", kinds: ["noop"], miners: [], limit: 3, now: 2_000)
        let started = Date()
        let second = try b.claim(worker: "b", kinds: ["noop"], miners: [], limit: 3, now: 2_000)
        XCTAssertLessThan(Date().timeIntervalSince(started), 2, "SKIP LOCKED must not wait for the other transaction")
        try a.commit()
        try b.commit()
        XCTAssertEqual(first.count, 3)
        XCTAssertEqual(second.count, 2)
        XCTAssertTrue(Set(first.map(\.id)).isDisjoint(with: second.map(\.id)))
    }

    /// An open claim holds only the jobs it took: a job its read stepped over
    /// (another kind) is free for a second master's claim, and a submit does
    /// not wait for it (no gap locks). Each waiting statement would run into
    /// the 1 s lock timeout set here and fail the test.
    func testOpenClaimHoldsOnlyWhatItTook() throws {
        let a = try freshStore()
        let b = try MariaDBStore(url: a.db.url)
        let c = try MariaDBStore(url: a.db.url)
        for store in [b, c] { try store.db.exec("SET SESSION innodb_lock_wait_timeout = 1") }
        let ids = try StoreConformance(store: a).insert([NewJob(kind: "other"), NewJob(kind: "noop"), NewJob(kind: "noop")])
        try a.begin()
        let first = try a.claim(worker: "a", kinds: ["noop"], miners: [], limit: 1, now: 2_000)
        XCTAssertEqual(first.map(\.id), [ids[1]])
        try b.begin()
        let second = try b.claim(worker: "b", kinds: ["other", "noop"], miners: [], limit: 3, now: 2_000)
        XCTAssertEqual(second.map(\.id), [ids[0], ids[2]], "the job the first read stepped over is not held")
        let submitted = try StoreConformance(store: c).insert([NewJob(kind: "noop")])
        XCTAssertEqual(submitted.count, 1, "a submit goes in while both claims are open")
        try a.commit()
        try b.commit()
        XCTAssertEqual(try StoreConformance(store: c).get(submitted[0]).state, .readyToRun)
    }

    /// A claim takes nothing an open transaction has changed: a running job
    /// another master is handing back (uncommitted) is skipped, and is still
    /// running under its old lease when the hand-back rolls back; a job
    /// another master has just claimed (uncommitted) is not offered again.
    func testClaimDoesNotTakeWhatAnOpenTransactionChanged() throws {
        let a = try freshStore()
        let b = try MariaDBStore(url: a.db.url)
        let conformance = StoreConformance(store: a)
        let ids = try conformance.insert([NewJob(kind: "noop"), NewJob(kind: "noop"), NewJob(kind: "noop")])
        let running = try conformance.claim(limit: 1, now: 2_000)[0]
        XCTAssertEqual(running.id, ids[0])
        try b.begin()
        XCTAssertTrue(try b.release(JobLease(id: running.id, lease: running.lease), reason: "slave left", now: 2_100,
                                    retry: RetryPolicy(notBefore: 0)))
        try a.begin()
        let next = try a.claim(worker: "a", kinds: ["noop"], miners: [], limit: 3, now: 2_200)
        try a.commit()
        XCTAssertEqual(next.map(\.id), [ids[1], ids[2]], "the job being handed back is not taken before that commits")
        try b.rollback()
        let stored = try conformance.get(running.id)
        XCTAssertEqual(stored.state, .running)
        XCTAssertEqual(stored.lease, running.lease)

        let more = try conformance.insert([NewJob(kind: "noop"), NewJob(kind: "noop")])
        try b.begin()
        let held = try b.claim(worker: "b", kinds: ["noop"], miners: [], limit: 1, now: 2_300)
        XCTAssertEqual(held.map(\.id), [more[0]])
        try a.begin()
        let other = try a.claim(worker: "a", kinds: ["noop"], miners: [], limit: 2, now: 2_300)
        try a.commit()
        try b.commit()
        XCTAssertEqual(other.map(\.id), [more[1]], "a job claimed in an open transaction is not offered again")
    }

    /// Jobs claimed in an open transaction are left out of this process's
    /// other claims only until that transaction ends: after a rollback they
    /// are claimed again here, and after a commit a job that comes back
    /// (expired) is too. A job left in the set would never be claimed by this
    /// master again.
    func testClaimsInFlightEndWithTheirTransaction() throws {
        let a = try freshStore()
        let b = try MariaDBStore(url: a.db.url)
        let ids = try StoreConformance(store: a).insert([NewJob(kind: "noop"), NewJob(kind: "noop"), NewJob(kind: "noop")])
        // The set is the process's: only this test's jobs are looked at.
        func inFlight() -> Set<String> { Set(MariaDBStore.claimsInFlight.some(10_000)).intersection(ids) }
        try a.begin()
        let held = try a.claim(worker: "a", kinds: ["noop"], miners: [], limit: 2, now: 2_000)
        XCTAssertEqual(inFlight(), Set(held.map(\.id)))
        let other = try StoreConformance(store: b).claim("b", limit: 3)
        XCTAssertEqual(other.map(\.id), [ids[2]], "the other connection takes what is left")
        try a.rollback()
        XCTAssertEqual(inFlight(), [])
        let again = try StoreConformance(store: b).claim("b", limit: 3)
        XCTAssertEqual(again.map(\.id), Array(ids.prefix(2)), "rolled back: claimed again by this process")
        XCTAssertEqual(inFlight(), [], "a committed claim is no longer in flight")
        let expired = try StoreConformance(store: a).tx {
            try a.expire(heartbeatBefore: 10_000, startedBefore: 0, now: 11_000, retry: RetryPolicy(notBefore: 0))
        }
        XCTAssertEqual(Set(expired.map(\.id)), Set(ids))
        XCTAssertEqual(Set(try StoreConformance(store: a).claim("a", limit: 3, now: 12_000).map(\.id)), Set(ids))
    }

    /// A claim whose read returns jobs another master is claiming (not in
    /// this process's set of claims in flight) does not wait for them: the
    /// lock skips them and the claim takes the others, for one kind and for
    /// several (whose read then merges the kinds past the skipped rows). With
    /// the 1 s lock timeout set here, a wait would fail the claim.
    func testClaimDoesNotWaitForAnotherMastersClaim() throws {
        for kinds in [["noop"], ["noop", "synthetic"]] {
            let a = try freshStore()
            let b = try MariaDBStore(url: a.db.url)
            try b.db.exec("SET SESSION innodb_lock_wait_timeout = 1")
            let ids = try StoreConformance(store: a).insert((0..<5).map { NewJob(kind: kinds[$0 % kinds.count]) })
            try a.begin()
            let first = try a.claim(worker: "a", kinds: kinds, miners: [], limit: 2, now: 2_000)
            XCTAssertEqual(first.map(\.id), Array(ids.prefix(2)))
            // As for a master in another process: its claims are not in this one's set.
            MariaDBStore.claimsInFlight.remove(first.map(\.id))
            try b.begin()
            let second = try b.claim(worker: "b", kinds: kinds, miners: [], limit: 5, now: 2_000)
            try b.commit()
            try a.commit()
            XCTAssertEqual(second.map(\.id), Array(ids.suffix(3)), "\(kinds): the held jobs are skipped, the rest taken in order")
            XCTAssertTrue(second.allSatisfy { $0.tryNum == 1 })
            for job in first + second {
                let stored = try StoreConformance(store: a).get(job.id)
                XCTAssertEqual(stored.lease, job.lease)
                XCTAssertEqual(stored.worker, job.worker)
            }
        }
    }

    /// A claim reads the index range of the kinds it asks for: with 300 jobs
    /// of another kind ahead of the ready ones, a claim for one kind or for
    /// two reads a few rows, not 300 (counted by the server for this
    /// connection: index entries read in order, rows read from temporary
    /// tables).
    func testClaimReadsOnlyTheRangeOfItsKinds() throws {
        let store = try freshStore()
        let conformance = StoreConformance(store: store)
        _ = try conformance.insert(Array(repeating: NewJob(kind: "gpu", deadlineAt: 1_000), count: 300))
        let ready = try conformance.insert([NewJob(kind: "noop", deadlineAt: 3_000), NewJob(kind: "synthetic", deadlineAt: 2_000),
                                            NewJob(kind: "noop", deadlineAt: 4_000)])
        func rowsRead() throws -> Int64 {
            try store.db.query("SHOW SESSION STATUS WHERE Variable_name IN ('Handler_read_next', 'Handler_read_rnd_next')") { $0.int(1) }.reduce(0, +)
        }
        for (kinds, expected) in [(["noop"], [ready[0]]), (["noop", "synthetic"], [ready[1], ready[2]])] {
            let before = try rowsRead()
            XCTAssertEqual(try conformance.claim(kinds: kinds, limit: expected.count).map(\.id), expected)
            let read = try rowsRead() - before
            // The status statement itself reads its few hundred variables as rows: counted apart.
            let itself = try rowsRead() - (before + read)
            XCTAssertLessThan(read - itself, 30, "a claim for \(kinds) read \(read - itself) rows")
        }
    }

    /// Two masters sweeping at once: each expired job is taken back once.
    func testConcurrentSweepsApplyEachTransitionOnce() throws {
        let a = try freshStore()
        let b = try MariaDBStore(url: a.db.url)
        let conformance = StoreConformance(store: a)
        _ = try conformance.insert(Array(repeating: NewJob(kind: "noop"), count: 20))
        let claimed = try conformance.claim(limit: 20, now: 2_000)
        XCTAssertEqual(claimed.count, 20)
        let results = ErrorBox()
        let expired = Locked<[Expired]>([])
        DispatchQueue.concurrentPerform(iterations: 2) { i in
            let store = i == 0 ? a : b
            do {
                let got = try StoreConformance(store: store).tx {
                    try store.expire(heartbeatBefore: 10_000, startedBefore: 0, now: 11_000, retry: RetryPolicy(notBefore: 0))
                }
                expired.update { $0 += got }
            } catch { results.add(error) }
        }
        XCTAssertEqual(results.all.map { "\($0)" }, [])
        let ids = expired.value.map(\.id)
        XCTAssertEqual(ids.count, 20, "every job expired exactly once across both masters")
        XCTAssertEqual(Set(ids), Set(claimed.map(\.id)))
        let jobs = try conformance.tx { try a.list(all: true) }
        XCTAssertTrue(jobs.allSatisfy { $0.state == .readyToRun && $0.tryNum == 1 })
    }

    /// Archive on two masters at once moves every finished job once, and a
    /// job finishing meanwhile is never deleted without its copy.
    func testConcurrentArchivesMoveEachJobOnce() throws {
        let a = try freshStore()
        let b = try MariaDBStore(url: a.db.url)
        let conformance = StoreConformance(store: a)
        _ = try conformance.insert(Array(repeating: NewJob(kind: "noop"), count: 150))
        for job in try conformance.claim(limit: 150, now: 2_000) { _ = try conformance.finish(job, now: 3_000) }
        let moved = Locked(0)
        let errors = ErrorBox()
        DispatchQueue.concurrentPerform(iterations: 2) { i in
            let store = i == 0 ? a : b
            do {
                let n = try StoreConformance(store: store).tx { try store.archive(finishedBefore: 5_000) }
                moved.update { $0 += n }
            } catch { errors.add(error) }
        }
        XCTAssertEqual(errors.all.map { "\($0)" }, [])
        XCTAssertEqual(moved.value, 150)
        let all = try conformance.tx { try a.list(all: true) }
        XCTAssertEqual(all.count, 150)
        XCTAssertTrue(all.allSatisfy { $0.state == .succeed })
        XCTAssertEqual(try a.db.query("SELECT COUNT(*) FROM jobs") { $0.int(0) }, [0])
    }

    /// Two masters sweeping one backlog in batches at once, as the
    /// maintenance tasks do (each batch its own transaction, repeated until a
    /// batch comes back short): every finished job is archived once, none
    /// fails on a duplicate, and the lifetime sweep then deletes each once.
    func testConcurrentBatchedSweepsMoveEachRowOnce() throws {
        let a = try freshStore()
        let b = try MariaDBStore(url: a.db.url)
        // A wait on the other master's rows, instead of skipping them, fails fast.
        for store in [a, b] { try store.db.exec("SET SESSION innodb_lock_wait_timeout = 2") }
        let conformance = StoreConformance(store: a)
        _ = try conformance.insert(Array(repeating: NewJob(kind: "noop"), count: 1_200))
        let claimed = try conformance.claim(limit: 1_200, now: 2_000)
        XCTAssertEqual(claimed.count, 1_200)
        try conformance.finishAll(claimed, now: 3_000)
        func sweepTogether(_ batch: @escaping (MariaDBStore) throws -> Int) -> Int {
            let done = Locked(0)
            let errors = ErrorBox()
            DispatchQueue.concurrentPerform(iterations: 2) { i in
                let store = i == 0 ? a : b
                do {
                    while true {
                        let n = try StoreConformance(store: store).tx { try batch(store) }
                        done.update { $0 += n }
                        if n == 0 { break }
                    }
                } catch { errors.add(error) }
            }
            XCTAssertEqual(errors.all.map { "\($0)" }, [])
            return done.value
        }
        XCTAssertEqual(sweepTogether { try $0.archive(finishedBefore: 5_000, limit: 100) }, 1_200, "each job archived once")
        XCTAssertEqual(try a.db.query("SELECT COUNT(*) FROM jobs") { $0.int(0) }, [0])
        XCTAssertEqual(try a.db.query("SELECT COUNT(*) FROM jobs_archive") { $0.int(0) }, [1_200])
        XCTAssertEqual(Set(try conformance.tx { try a.list(all: true) }.map(\.id)), Set(claimed.map(\.id)))
        XCTAssertEqual(sweepTogether { try $0.purge(createdBefore: 1 << 60, limit: 100) }, 1_200, "each job deleted once")
        XCTAssertEqual(try a.db.query("SELECT COUNT(*) FROM jobs_archive") { $0.int(0) }, [0])
    }

    func testErrorsAreTypedAndNeverShowThePassword() throws {
        let url = try TestMariaDB.url()
        var wrong = url
        wrong.password = "not-the-password-\(UUID().uuidString)"
        XCTAssertThrowsError(try MariaDBConnection(wrong)) { error in
            guard let e = error as? MariaDBError else { return XCTFail("\(error)") }
            XCTAssertEqual(e.code, 1045, "access denied")
            XCTAssertEqual(e.sqlstate, "28000")
            XCTAssertFalse(e.isConnectionLost)
            XCTAssertFalse("\(e)".contains(wrong.password))
        }
        var closed = url
        closed.port = try unusedPort()
        XCTAssertThrowsError(try MariaDBConnection(closed)) { error in
            XCTAssertTrue((error as? MariaDBError)?.isConnectionLost ?? false, "\(error)")
        }
        let store = try freshStore()
        XCTAssertThrowsError(try store.db.run("INSERT INTO jobs (id) VALUES (?)", [.text("x")])) { error in
            XCTAssertEqual((error as? MariaDBError)?.sqlstate, "HY000", "\(error)")
        }
    }

    func testDeployedSchemaFileMatchesTheMigrations() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let file = try String(contentsOf: root.appendingPathComponent("deploy/mariadb-schema.sql"), encoding: .utf8)
        func normalized(_ s: String) -> String { s.split(whereSeparator: \.isWhitespace).joined(separator: " ") }
        let text = normalized(file)
        for statement in [MariaDBSchema.versionTable] + MariaDBSchema.migrations.flatMap({ $0 }) {
            XCTAssertTrue(text.contains(normalized(statement)), "deploy/mariadb-schema.sql lacks:\n\(statement)")
        }
        XCTAssertTrue(text.contains("INSERT INTO schema_version (version) VALUES (\(MariaDBSchema.migrations.count))"))
    }
}

/// Collects errors from concurrent work.
final class ErrorBox: @unchecked Sendable {
    private let lock = NSLock()
    private var errors: [Error] = []
    func add(_ error: Error) { lock.lock(); errors.append(error); lock.unlock() }
    var all: [Error] { lock.lock(); defer { lock.unlock() }; return errors }
}

/// A value shared by concurrent test work.
final class Locked<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: T
    init(_ value: T) { stored = value }
    func update(_ body: (inout T) -> Void) { lock.lock(); body(&stored); lock.unlock() }
    var value: T { lock.lock(); defer { lock.unlock() }; return stored }
}

/// A loopback port nothing listens on (bound, then released).
func unusedPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = 0
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
    }
    guard bound else { throw TestError("cannot find a free port") }
    return Int(UInt16(bigEndian: addr.sin_port))
}

struct TestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
