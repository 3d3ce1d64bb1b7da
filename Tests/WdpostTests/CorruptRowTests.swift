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

    /// A DBC order whose status or result this release does not know.
    func checkOrder(_ store: JobStore & CommitteeStore, corrupt: (String) throws -> Void) throws {
        var rng = SplitMix64(seed: 7)
        let order = try VerifyOrder.book(id: "o1", machine: "box-a", machineID: "abbox-a", round: 1,
                                         committee: ["alice", "bob", "carol"], at: 1_000, using: &rng)
        try store.inTransaction { try store.insertOrder(order, now: 5) }
        try corrupt("UPDATE dbc_orders SET status = 'Paused' WHERE id = 'o1'")
        XCTAssertThrowsError(try store.inTransaction { try store.orders(machine: nil) }) { error in
            XCTAssertTrue("\(error)".hasPrefix("dbc_orders row o1: column status holds \"Paused\", expected one of SubmittingHash"), "\(error)")
        }
        try corrupt("UPDATE dbc_orders SET status = 'Finished', result = 'Maybe' WHERE id = 'o1'")
        XCTAssertThrowsError(try store.inTransaction { try store.openOrders() + store.orders(machine: "box-a") }) { error in
            XCTAssertTrue("\(error)".hasPrefix("dbc_orders row o1: column result holds \"Maybe\""), "\(error)")
        }
    }

    func testSQLite() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("wdpost-corrupt-\(UUID().uuidString).db").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let store = try SQLiteStore(path: path)
        try store.migrate()
        try check(store) { try store.db.run("UPDATE jobs SET state = 'Paused' WHERE id = ?", [.text($0)]) }
        try checkOrder(store) { try store.db.run($0) }
    }

    func testMariaDB() throws {
        let url = try TestMariaDB.url()
        try TestMariaDB.emptyDatabase(url)
        let store = try MariaDBStore(url: url)
        try store.migrate()
        try check(store) { try store.db.run("UPDATE jobs SET state = 'Paused' WHERE id = ?", [.text($0)]) }
        try checkOrder(store) { try store.db.run($0) }
    }
}
