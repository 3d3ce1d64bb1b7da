import Foundation
import Master
import Shared
import XCTest

extension StoreConformance {
    /// A claim for several kinds hands out their jobs in one claim order
    /// (deadline, priority, age) across the kinds, whatever order the kinds
    /// are asked in and however often; the jobs of a kind it does not ask
    /// for stay ready, however many are ahead; a retry not yet due is passed
    /// over and taken once due.
    func claimMergesItsKindsInClaimOrder() throws {
        let blocked = try insert(Array(repeating: NewJob(kind: "gpu", deadlineAt: 1_000), count: 40), now: 1)
        let a1 = try insert([NewJob(kind: "noop", deadlineAt: 5_000)], now: 2)[0]
        let b1 = try insert([NewJob(kind: "synthetic", deadlineAt: 4_000)], now: 3)[0]
        let a2 = try insert([NewJob(kind: "noop", priority: 1, deadlineAt: 6_000)], now: 4)[0]
        let b2 = try insert([NewJob(kind: "synthetic", priority: 5, deadlineAt: 6_000)], now: 5)[0]
        let a3 = try insert([NewJob(kind: "noop", priority: 1, deadlineAt: 6_000)], now: 6)[0]
        let b3 = try insert([NewJob(kind: "synthetic")], now: 7)[0]
        // A retry not yet due, ahead of everything in its kind's order.
        let retried = try insert([NewJob(kind: "noop", deadlineAt: 2_000)], now: 8)[0]
        XCTAssertEqual(try claim(kinds: ["noop"], limit: 1, now: 1_500).map(\.id), [retried])
        XCTAssertEqual(try finish(try get(retried), ok: false, error: "boom", now: 1_600, retryAt: 9_000), .requeued)

        XCTAssertEqual(try claim(kinds: ["synthetic", "noop", "synthetic"], limit: 4).map(\.id), [b1, a1, b2, a2],
                       "one claim order across kinds: deadline, then priority, then age")
        XCTAssertEqual(try claim(kinds: ["noop", "synthetic"], limit: 10).map(\.id), [a3, b3], "the retry is not due yet")
        XCTAssertEqual(try claim(kinds: ["synthetic", "noop"], limit: 10, now: 9_000).map(\.id), [retried])
        XCTAssertTrue(try blocked.allSatisfy { try get($0).state == .readyToRun }, "another kind's jobs are left alone")
        XCTAssertEqual(try claim(kinds: ["gpu"], limit: 100).count, blocked.count)
    }
}
