import Foundation
@testable import Master
import Shared
import XCTest

/// The SQLite claim's plan, as SQLite reports it: each asked kind is one
/// search of the claim index on (state, kind), read in claim order (no sort
/// of the kind's ready jobs), so the jobs of other kinds are never read.
final class SQLiteClaimPlanTests: XCTestCase {
    func testClaimSearchesOneIndexRangePerKind() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("wdpost-plan-\(UUID().uuidString).db").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let store = try SQLiteStore(path: path)
        try store.migrate()
        for kinds in [["noop"], ["noop", "synthetic", "wdpost"]] {
            let read = SQLiteStore.candidateRead(kinds: kinds, worker: "w", miners: ["f01"], limit: 10, now: 1_000)
            let plan = try store.db.query("EXPLAIN QUERY PLAN \(read.sql)", read.params) { $0.text(3) }
            let searches = plan.filter { $0.contains("jobs") }
            XCTAssertEqual(searches.count, kinds.count, "one read of jobs per kind: \(plan)")
            for step in searches {
                XCTAssertTrue(step.contains("USING INDEX jobs_claim_kind (state=? AND kind=?)"), "\(kinds): \(step)")
            }
            // A kind's range comes in claim order: a sort, if any, is of the
            // few heads a range returned (for the merge), never of the range.
            for (i, step) in plan.enumerated() where step.contains("TEMP B-TREE") {
                XCTAssertTrue(i > 0 && plan[i - 1].hasPrefix("SCAN (subquery"), "\(kinds) sorts more than the heads: \(plan)")
            }
        }
    }

    /// A sweep's batch copies and deletes its rows by primary key: without
    /// statistics SQLite would take the state or created_at index for the
    /// re-checked condition and walk every finished row for each statement.
    func testSweepBatchesGoByPrimaryKey() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("wdpost-plan-\(UUID().uuidString).db").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let store = try SQLiteStore(path: path)
        try store.migrate()
        let n = JobSQL<SQLiteConnection>.maxRows
        let ids = (0..<n).map { SQLValue.text("id\($0)") }
        var statements = SQLiteStore.archiveStatements(ids: n)
        statements.append(store.sql.deleteByID(from: "jobs", where: JobSQL<SQLiteConnection>.purgeLive, ids: n))
        statements.append(store.sql.deleteByID(from: "jobs_archive", where: JobSQL<SQLiteConnection>.purgeArchived, ids: n))
        for sql in statements {
            let plan = try store.db.query("EXPLAIN QUERY PLAN \(sql)", ids + [.int(1_000)]) { $0.text(3) }
            XCTAssertTrue(plan.contains { $0.contains("(id=?)") }, "\(sql.prefix(40)): \(plan)")
            XCTAssertFalse(plan.contains { $0.contains("state=") || $0.contains("created_at<") || $0.hasPrefix("SCAN") },
                           "\(sql.prefix(40)): \(plan)")
        }
    }
}
