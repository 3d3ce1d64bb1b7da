import Foundation
import Shared
@testable import wdpost
import XCTest

/// `wdpost list` cells in damocles' formats.
final class JobTableTests: XCTestCase {
    func testDurationsAsGoPrintsThem() {
        XCTAssertEqual(JobTable.goDuration(micros: 1_234_567, unit: 1_000), "1.234s")
        XCTAssertEqual(JobTable.goDuration(micros: 125_900_000, unit: 1_000_000), "2m5s")
        XCTAssertEqual(JobTable.goDuration(micros: 398_000_000, unit: 1_000_000), "6m38s")
        XCTAssertEqual(JobTable.goDuration(micros: 3_723_000_000, unit: 1_000_000), "1h2m3s")
        XCTAssertEqual(JobTable.goDuration(micros: 250_400, unit: 1_000), "250ms")
        XCTAssertEqual(JobTable.goDuration(micros: 0, unit: 1_000), "0s")
    }

    func testCells() {
        let now: Int64 = 1_700_000_000_000_000
        var job = Job(id: "3FgfEnvrub1", kind: "window_post", state: .running, minerID: "1037", maxTry: 2, createdAt: now - 60_000_000,
                      startedAt: now - 125_000_000, heartbeatAt: now - 1_234_000, sectors: 2)
        job.tryNum = 1
        XCTAssertEqual(JobTable.elapsed(job, now: now), "2m5s")
        XCTAssertEqual(JobTable.heartbeat(job, now: now), "1.234s")
        XCTAssertEqual(JobTable.tries(job), "1")
        job.state = .failed
        job.tryNum = 2
        job.finishedAt = job.startedAt + 398_000_000
        XCTAssertEqual(JobTable.elapsed(job, now: now), "6m38s(done)")
        XCTAssertEqual(JobTable.heartbeat(job, now: now), "-")
        XCTAssertEqual(JobTable.tries(job), "2(Max)")
        let f = DateFormatter()
        f.dateFormat = "MM-dd HH:mm:ss"
        XCTAssertEqual(JobTable.shortTime(job.createdAt), f.string(from: Date(timeIntervalSince1970: Double(job.createdAt) / 1e6)))
        let table = JobTable.render([job], detail: false, now: now)
        XCTAssertTrue(table.hasPrefix("JobID        MinerID  DDL  Partitions  Sectors  Worker"), table)
    }
}
