import Foundation
import Shared
@testable import Slave
import XCTest

/// Finish requests cut to fit the master's frame limit, and results cut to fit one.
final class FinishBatchTests: XCTestCase {
    func result(_ n: Int, bytes: Int) -> JobResult {
        JobResult(id: "job\(n)", lease: Int64(n), ok: true, output: Data(repeating: 7, count: bytes))
    }

    func frameBytes(_ results: [JobResult], pull: PullRequest?) -> Int {
        Frame.headerBytes + JSONWriter.encode(FinishRequest(results: results, pull: pull)).count
    }

    func testEveryBatchFitsAndTogetherTheyCarryEveryResult() {
        let limit = 1 << 20
        let pull = PullRequest(max: 4, kinds: ["ext", "noop"], waitMs: 0)
        var left = (0..<40).map { result($0, bytes: [1, 100_000, 300_000, 700_000][$0 % 4]) }
        var sent: [String] = []
        while !left.isEmpty {
            let batch = FinishBatch.next(left, pull: pull, frameLimit: limit)
            XCTAssertFalse(batch.isEmpty)
            XCTAssertLessThanOrEqual(frameBytes(batch, pull: pull), limit - FinishBatch.transportReserve)
            sent += batch.map(\.id)
            left.removeAll { r in batch.contains { $0.id == r.id } }
        }
        XCTAssertEqual(sent.sorted(), (0..<40).map { "job\($0)" }.sorted())
    }

    func testTheSizeIsComputedWithoutEncodingTheOutputButMatchesIt() {
        for bytes in [0, 1, 2, 3, 4, 1000, 65_537] {
            let r = JobResult(id: "x\"y", lease: 3, ok: false, output: Data(repeating: 1, count: bytes), error: "bad\n\"input\"")
            XCTAssertEqual(FinishBatch.encodedSize(r), JSONWriter.encode(r).count + 1, "\(bytes) bytes")
        }
    }

    func testTheLargestOutputAllowedFitsAloneAndOneByteMoreFails() {
        let limit = 1 << 20
        let max = OutputLimit.maxOutputBytes(frameLimit: limit)
        let fits = OutputLimit.enforce(JobResult(id: "job1", lease: 1, ok: true, output: Data(count: max),
                                                 error: String(repeating: "e", count: 100_000)), frameLimit: limit)
        XCTAssertTrue(fits.ok)
        XCTAssertLessThanOrEqual(fits.error.utf8.count, OutputLimit.maxErrorBytes(frameLimit: limit) + 10)
        XCTAssertLessThanOrEqual(frameBytes([fits], pull: PullRequest(max: 1, kinds: ["k"], waitMs: 0)), limit - FinishBatch.transportReserve)

        let over = OutputLimit.enforce(JobResult(id: "job2", lease: 1, ok: true, output: Data(count: max + 1)), frameLimit: limit)
        XCTAssertFalse(over.ok)
        XCTAssertTrue(over.output.isEmpty)
        XCTAssertEqual(over.error, "output of \(max + 1) bytes exceeds the limit of \(max) bytes (the master's server.max_frame_bytes less framing)")
    }
}
