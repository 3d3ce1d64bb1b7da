import Foundation
import Master
import Shared
import XCTest

/// The sweeps in bounded batches: each call changes at most its limit and
/// leaves the rest for the next, and calls repeated until one changes nothing
/// account for every row exactly once.
extension StoreConformance {
    /// Jobs claimed at 2_000 and finished at `now` in one transaction.
    func finishAll(_ jobs: [Job], ok: Bool = true, now: Int64) throws {
        _ = try tx {
            try store.finish(jobs.map { JobResult(id: $0.id, lease: $0.lease, ok: ok, output: Data(), error: ok ? "" : "bad") },
                             now: now, retry: RetryPolicy(notBefore: now))
        }
    }

    /// More rows than one id-list statement names (512), so a batch goes in pieces.
    func archiveGoesInBoundedBatches() throws {
        let ids = try insert(Array(repeating: NewJob(kind: "noop"), count: 1_102), maxTry: 1, now: 1_000)
        let claimed = try claim(limit: 1_101)
        XCTAssertEqual(claimed.count, 1_101)
        try finishAll(Array(claimed.prefix(1_098)), now: 3_000)
        try finishAll([claimed[1_098]], ok: false, now: 3_000)
        try finishAll([claimed[1_099]], now: 9_000)
        let (running, ready, late) = (claimed[1_100].id, ids[1_101], claimed[1_099].id)

        XCTAssertEqual(try tx { try store.archive(finishedBefore: 5_000, limit: 600) }, 600, "a batch moves its limit")
        XCTAssertEqual(try tx { try store.archive(finishedBefore: 5_000, limit: 600) }, 499, "and leaves the rest for the next")
        XCTAssertEqual(try tx { try store.archive(finishedBefore: 5_000, limit: 600) }, 0)
        XCTAssertEqual(try tx { try store.archive(finishedBefore: 5_000, limit: 0) }, 0)
        XCTAssertEqual(try get(late).state, .succeed, "finished after the cut-off: still live")
        XCTAssertEqual(try tx { try store.archive(finishedBefore: 10_000, limit: 600) }, 1)

        let all = try tx { try store.list(all: true) }.map(\.id)
        XCTAssertEqual(all.count, ids.count, "every job once, live or archived")
        XCTAssertEqual(Set(all), Set(ids))
        XCTAssertEqual(try get(claimed[1_098].id).state, .failed, "failed jobs are archived too")
        XCTAssertEqual(try get(running).state, .running)
        XCTAssertEqual(try get(ready).state, .readyToRun)
        XCTAssertEqual(Set(try tx { try store.list(all: false) }.map(\.id)), [running, ready], "only the unfinished are live")
    }

    /// Purge in batches takes live finished jobs first, then archived ones,
    /// its limit in all; a stuck running job and a ready one stay.
    func purgeGoesInBoundedBatches() throws {
        let old = try insert(Array(repeating: NewJob(kind: "noop"), count: 7), maxTry: 1, now: 1_000)
        let young = try insert([NewJob(kind: "other")], maxTry: 1, now: 9_000)[0]
        let claimed = try claim(limit: 6)
        try finishAll(Array(claimed.prefix(3)), now: 3_000)
        try finishAll([claimed[3]], ok: false, now: 3_000)
        XCTAssertEqual(try tx { try store.archive(finishedBefore: 3_500) }, 4)
        try finishAll([claimed[4]], now: 4_000)
        let youngJob = try claim(kinds: ["other"], now: 9_500)
        try finishAll(youngJob, now: 9_600)
        let (running, ready) = (claimed[5].id, old[6])

        let batches = try (0..<4).map { _ in try tx { try store.purge(createdBefore: 5_000, limit: 2) } }
        XCTAssertEqual(batches, [2, 2, 1, 0], "one live and one archived, then two archived, then the last")
        XCTAssertEqual(Set(try tx { try store.list(all: true) }.map(\.id)), [running, ready, young])
        XCTAssertEqual(try get(running).state, .running, "a Running job past job_lifetime is stuck: kept, to be seen")
        XCTAssertEqual(try get(ready).state, .readyToRun)
    }

    func expireGoesInBoundedBatches() throws {
        _ = try insert(Array(repeating: NewJob(kind: "noop"), count: 10))
        let claimed = try claim(limit: 10, now: 2_000)
        var expired: [String] = []
        var sizes: [Int] = []
        for _ in 0..<4 {
            let got = try tx { try store.expire(heartbeatBefore: 10_000, startedBefore: 0, now: 11_000, retry: RetryPolicy(notBefore: 0), limit: 4) }
            sizes.append(got.count)
            expired += got.map(\.id)
        }
        XCTAssertEqual(sizes, [4, 4, 2, 0])
        XCTAssertEqual(expired.count, 10, "each job taken back once")
        XCTAssertEqual(Set(expired), Set(claimed.map(\.id)))
        XCTAssertTrue(try tx { try store.list(all: true) }.allSatisfy { $0.state == .readyToRun && $0.tryNum == 1 })
    }
}
