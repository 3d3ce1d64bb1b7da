import Foundation
import Master
import Shared
import XCTest

extension StoreConformance {
    /// `job_lifetime` drops finished jobs only: a job still ready or running
    /// after its lifetime is stuck, and must stay visible.
    func purgeDeletesOnlyFinishedJobs() throws {
        let old = try insert(Array(repeating: NewJob(kind: "noop"), count: 5), maxTry: 1, now: 1_000)
        let young = try insert([NewJob(kind: "other")], maxTry: 1, now: 9_000)[0]
        let claimed = try claim(limit: 4, now: 10_000)
        XCTAssertEqual(claimed.map(\.id), Array(old.prefix(4)))
        _ = try finish(claimed[0], now: 11_000)
        _ = try finish(claimed[1], now: 11_000)
        _ = try finish(claimed[2], ok: false, error: "bad", now: 11_000)
        XCTAssertEqual(try tx { try store.archive(finishedBefore: 11_001) }, 3)
        let young2 = try claim(kinds: ["other"], now: 12_000)
        XCTAssertEqual(young2.map(\.id), [young])
        _ = try finish(young2[0], now: 13_000)
        let (running, ready) = (claimed[3].id, old[4])

        XCTAssertEqual(try tx { try store.purge(createdBefore: 5_000) }, 3, "the three old finished jobs")
        let left = try tx { try store.list(all: true) }
        XCTAssertEqual(Set(left.map(\.id)), [running, ready, young])
        XCTAssertEqual(try get(running).state, .running, "a stuck running job is kept")
        XCTAssertEqual(try get(ready).state, .readyToRun, "a job that never ran is kept")
        XCTAssertEqual(try get(young).state, .succeed, "a finished job within its lifetime is kept")
        XCTAssertEqual(try tx { try store.purge(createdBefore: 5_000) }, 0)
    }
}
