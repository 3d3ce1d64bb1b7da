import Foundation
import Shared
import XCTest

/// One SQLite file serves one master: a second one is refused at start, with
/// the file and the holder named, and the lock goes with its holder.
final class SQLiteLockTests: XCTestCase {
    func testASecondMasterOnTheSameSQLiteFileIsRefusedUntilTheFirstIsGone() async throws {
        let first = try TestCluster()
        try await first.use {
            try await first.startMaster()
            let ids = try await first.submitNoop(1)
            let db = first.dir.appendingPathComponent("wdpost.db").resolvingSymlinksInPath().path
            let second = try TestCluster(dbURL: "sqlite://\(db)", masterName: "second")
            let refused = try second.launchMaster()
            let status = await refused.waitForExit(timeout: 30)
            XCTAssertNotNil(status, "the second master must exit, not run beside the first")
            XCTAssertNotEqual(status, 0)
            let line = refused.log.split(separator: "\n").map(String.init).last ?? ""
            XCTAssertTrue(line.hasPrefix("wdpost: error: SQLite database \(db) is in use by another master (pid \(first.master!.pid), holding \(db).lock)"),
                          line)
            XCTAssertFalse(refused.log.contains("listening on"), refused.log)
            // The first master goes on as before.
            let listed = try await first.client().list(all: true)
            XCTAssertEqual(listed.map(\.id), ids)

            // A master that died (SIGKILL) leaves no lock behind.
            await first.master!.stop(SIGKILL)
            try await second.use {
                try await second.startMaster()
                let again = try await second.client().list(all: true)
                XCTAssertEqual(again.map(\.id), ids, "the same file, now served by the second master")
            }
        }
    }
}
