import Foundation
@testable import Master
import Shared
import XCTest

final class StoreClockTests: XCTestCase {
    /// SQLite has one master: its store time is the local clock.
    func testSQLiteStoreTimeIsTheLocalClock() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("wdpost-clock-\(UUID().uuidString).db").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let store = try SQLiteStore(path: path)
        XCTAssertNil(try store.databaseTimeMicros())
        let clock = StoreClock()
        clock.refreshIfDue(on: store)
        let before = nowMicros()
        let now = clock.now()
        let after = nowMicros()
        XCTAssertTrue(before <= now && now <= after, "\(before) <= \(now) <= \(after)")
    }

    /// MariaDB's time is the server's, in µs since the epoch (the server runs
    /// on this machine in the tests, so it is close to the local clock), and
    /// the clock follows it.
    func testMariaDBStoreTimeIsTheServersInMicroseconds() throws {
        let url = try TestMariaDB.url()
        let store = try MariaDBStore(url: url)
        let server = try XCTUnwrap(try store.databaseTimeMicros())
        XCTAssertLessThan(abs(server - nowMicros()), 5_000_000, "server \(server) vs local \(nowMicros())")
        let clock = StoreClock()
        clock.refreshIfDue(on: store)
        let before = try XCTUnwrap(try store.databaseTimeMicros())
        let now = clock.now()
        let after = try XCTUnwrap(try store.databaseTimeMicros())
        // The reading is the middle of a round trip: within a few ms of the server's clock.
        XCTAssertTrue(before - 50_000 <= now && now <= after + 50_000, "\(before) <= \(now) <= \(after)")
    }
}
