import Foundation
@testable import Master
import Shared
import XCTest

/// A row holding a value the job model does not know is an error naming the
/// row and the column, on both stores — never read as some other state.
final class CorruptRowTests: XCTestCase {
    func check(_ store: JobStore, corrupt: (String) throws -> Void) throws {
        let id = try store.inTransaction { try store.insert([NewJob(kind: "noop")], maxTry: 3, now: 1_000) }[0]
        try corrupt(id)
        for read in ["get", "list"] {
            XCTAssertThrowsError(try store.inTransaction { read == "get" ? [try store.get(id)].compactMap { $0 } : try store.list(all: true) }) { error in
                XCTAssertEqual("\(error)", "jobs row \(id): column state holds \"Paused\", expected one of ReadyToRun, Running, Succeed, Failed (changed outside wdpost, or by a newer release?)", read)
            }
        }
    }

    func testSQLite() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("wdpost-corrupt-\(UUID().uuidString).db").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let store = try SQLiteStore(path: path)
        try store.migrate()
        try check(store) { try store.db.run("UPDATE jobs SET state = 'Paused' WHERE id = ?", [.text($0)]) }
    }

    func testMariaDB() throws {
        let url = try TestMariaDB.url()
        try TestMariaDB.emptyDatabase(url)
        let store = try MariaDBStore(url: url)
        try store.migrate()
        try check(store) { try store.db.run("UPDATE jobs SET state = 'Paused' WHERE id = ?", [.text($0)]) }
    }
}
