import Foundation
@testable import Master
import Shared
import XCTest

final class SQLiteMigrationTests: XCTestCase {
    /// A database made by the first release (schema 1: no pins, no DBC tables)
    /// is upgraded in place and its jobs stay claimable by anyone.
    func testUpgradeFromSchemaVersion1KeepsJobs() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("wdpost-v1-\(UUID().uuidString).db").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            let db = try SQLiteConnection(path: path)
            try db.exec("CREATE TABLE schema_version (version INTEGER NOT NULL)")
            try db.exec(SQLiteStore.migrations[0])
            try db.run("INSERT INTO schema_version (version) VALUES (1)")
            try db.run("""
                INSERT INTO jobs (id, kind, state, deadline_at, input, max_try, created_at)
                VALUES ('OldJob00001', 'noop', 'ReadyToRun', ?, ?, 3, 1)
                """, [.int(Int64.max), .blob(Data("{}".utf8))])
        }
        let store = try SQLiteStore(path: path)
        try store.migrate()
        try store.begin()
        let claimed = try store.claim(worker: "anyone", kinds: ["noop"], miners: [], limit: 5, now: 10)
        XCTAssertEqual(claimed.map(\.id), ["OldJob00001"])
        XCTAssertEqual(claimed.first?.pin, "")
        XCTAssertEqual(try store.openOrders(), [])
        try store.commit()
        let version = try store.db.query("SELECT MAX(version) FROM schema_version") { $0.int(0) }.first
        XCTAssertEqual(version, Int64(SQLiteStore.migrations.count))
    }
}
