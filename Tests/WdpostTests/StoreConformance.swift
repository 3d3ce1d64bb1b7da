import Foundation
import Master
import Shared
import XCTest

/// The behaviour every `JobStore` backend must share. Each backend's test case
/// calls every check against a fresh, empty store of its kind.
struct StoreConformance {
    let store: JobStore

    static let allChecks: [(String, (StoreConformance) throws -> Void)] = [
        ("insertAndUniqueKey", { try $0.insertAndUniqueKey() }),
        ("largeMixedSubmit", { try $0.largeMixedSubmit() }),
        ("claimOrderAndFilters", { try $0.claimOrderAndFilters() }),
        ("claimIsExclusive", { try $0.claimIsExclusive() }),
        ("finishIsFencedAndIdempotent", { try $0.finishIsFencedAndIdempotent() }),
        ("batchFinishDecidesLikeOneByOne", { try $0.batchFinishDecidesLikeOneByOne() }),
        ("failuresRetryThenFail", { try $0.failuresRetryThenFail() }),
        ("heartbeatsAndExpiry", { try $0.heartbeatsAndExpiry() }),
        ("releaseGivesTheTryBack", { try $0.releaseGivesTheTryBack() }),
        ("resetRemoveAndUnknownIds", { try $0.resetRemoveAndUnknownIds() }),
        ("archiveAndPurge", { try $0.archiveAndPurge() }),
        ("purgeDeletesOnlyFinishedJobs", { try $0.purgeDeletesOnlyFinishedJobs() }),
        ("pinnedJobsGoToTheirWorkerOnly", { try $0.pinnedJobsGoToTheirWorkerOnly() }),
        ("claimForSeveralWorkersSharesInOrder", { try $0.claimForSeveralWorkersSharesInOrder() }),
        ("largeBatchesGoInPieces", { try $0.largeBatchesGoInPieces() }),
        ("listPagesAddUpToTheList", { try $0.listPagesAddUpToTheList() }),
        ("claimMergesItsKindsInClaimOrder", { try $0.claimMergesItsKindsInClaimOrder() }),
        ("claimIsBoundedByInputBytes", { try $0.claimIsBoundedByInputBytes() }),
        ("textComparesByteForByte", { try $0.textComparesByteForByte() }),
        ("canonicallyEqualWorkersAddUp", { try $0.canonicallyEqualWorkersAddUp() }),
        ("proofJobsHonourAllowedSizesAndMiners", { try $0.proofJobsHonourAllowedSizesAndMiners() }),
        ("aFailedJobRunsAgainOnlyWhenFailed", { try $0.aFailedJobRunsAgainOnlyWhenFailed() }),
        ("archiveGoesInBoundedBatches", { try $0.archiveGoesInBoundedBatches() }),
        ("purgeGoesInBoundedBatches", { try $0.purgeGoesInBoundedBatches() }),
        ("expireGoesInBoundedBatches", { try $0.expireGoesInBoundedBatches() }),
    ]

    func tx<T>(_ body: () throws -> T) throws -> T { try store.inTransaction(body) }

    func insert(_ jobs: [NewJob], maxTry: Int = 3, now: Int64 = 1_000) throws -> [String] {
        try tx { try store.insert(jobs, maxTry: maxTry, now: now) }
    }

    func claim(_ worker: String = "w", kinds: [String] = ["noop"], miners: [String] = [], limit: Int = 10, now: Int64 = 2_000) throws -> [Job] {
        try tx { try store.claim(worker: worker, kinds: kinds, miners: miners, limit: limit, now: now) }
    }

    func get(_ id: String) throws -> Job { try XCTUnwrap(try tx { try store.get(id) }) }

    func insertAndUniqueKey() throws {
        let ids = try insert([NewJob(kind: "noop", input: Data("{}".utf8), minerID: "f01", deadlineIdx: 7, partitions: [1, 2], uniqueKey: "k1")])
        let again = try insert([NewJob(kind: "noop", uniqueKey: "k1")])
        XCTAssertEqual(ids, again, "the same unique key returns the existing job")
        let job = try get(ids[0])
        XCTAssertEqual(job.state, .readyToRun)
        XCTAssertEqual(job.minerID, "f01")
        XCTAssertEqual(job.partitions, [1, 2])
        XCTAssertEqual(job.deadlineIdx, 7)
        XCTAssertEqual(job.maxTry, 3)
        XCTAssertEqual(job.id.count, 11)
        XCTAssertEqual(job.input, Data("{}".utf8))
    }

    /// A submit larger than any insert chunk, with keyed jobs (one new, one
    /// repeating an earlier key of the same batch) among plain ones and inputs
    /// big enough to split chunks by size: ids come back in submit order, each
    /// job has its own input, and claims follow submit order.
    func largeMixedSubmit() throws {
        let big = Data(repeating: 0x5a, count: 1 << 20)
        var jobs: [NewJob] = (0..<700).map { NewJob(kind: "noop", input: Data("\($0)".utf8)) }
        jobs[10] = NewJob(kind: "noop", input: Data("keyed".utf8), uniqueKey: "batch-key")
        jobs[400] = NewJob(kind: "noop", input: Data("again".utf8), uniqueKey: "batch-key")
        for i in 600..<612 { jobs[i] = NewJob(kind: "noop", input: big + Data("\(i)".utf8)) }
        let ids = try insert(jobs)
        XCTAssertEqual(ids.count, 700)
        XCTAssertEqual(ids[400], ids[10], "a key repeated within one submit names the same job")
        XCTAssertEqual(Set(ids).count, 699, "every other job is new")
        XCTAssertEqual(try get(ids[10]).input, Data("keyed".utf8))
        for i in [0, 255, 256, 599, 605, 611, 699] {
            XCTAssertEqual(try get(ids[i]).input, jobs[i].input, "job \(i) has its own input")
        }
        var order: [String] = []
        while true {
            let page = try claim(limit: 97, now: 2_000)
            if page.isEmpty { break }
            order += page.map(\.id)
        }
        var expected: [String] = []
        for id in ids where !expected.contains(id) { expected.append(id) }
        XCTAssertEqual(order.count, expected.count)
        let firstDifference = zip(order, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset
        XCTAssertNil(firstDifference, "jobs submitted together are claimed in submit order")
    }

    func claimOrderAndFilters() throws {
        let late = try insert([NewJob(kind: "noop", deadlineAt: 9_000)], now: 1)[0]
        let urgent = try insert([NewJob(kind: "noop", deadlineAt: 5_000)], now: 2)[0]
        let low = try insert([NewJob(kind: "noop", priority: 0)], now: 3)[0]
        let high = try insert([NewJob(kind: "noop", priority: 9)], now: 4)[0]
        let other = try insert([NewJob(kind: "synthetic")], now: 5)[0]
        let foreign = try insert([NewJob(kind: "noop", minerID: "f099")], now: 6)[0]
        let claimed = try claim(miners: ["f01"], limit: 10)
        XCTAssertEqual(claimed.map(\.id), [urgent, late, high, low], "deadline first, then priority, then age; kinds and miners filtered")
        XCTAssertEqual(try claim(kinds: ["synthetic"]).map(\.id), [other])
        XCTAssertEqual(try claim().map(\.id), [foreign], "a slave with no miner list takes any miner")
    }

    func claimIsExclusive() throws {
        _ = try insert(Array(repeating: NewJob(kind: "noop"), count: 5))
        let a = try claim("a", limit: 3)
        let b = try claim("b", limit: 3)
        XCTAssertEqual(a.count, 3)
        XCTAssertEqual(b.count, 2)
        XCTAssertTrue(Set(a.map(\.id)).isDisjoint(with: b.map(\.id)))
        XCTAssertTrue(Set(a.map(\.lease)).isDisjoint(with: b.map(\.lease)), "every claim gets its own lease")
        for job in a + b {
            XCTAssertEqual(job.state, .running)
            XCTAssertEqual(job.tryNum, 1)
            XCTAssertEqual(try get(job.id).lease, job.lease)
        }
        XCTAssertEqual(try claim("c").count, 0)
    }

    func finish(_ job: Job, lease: Int64? = nil, ok: Bool = true, error: String = "", now: Int64 = 3_000, retryAt: Int64 = 3_500) throws -> FinishOutcome {
        try tx { try store.finish(JobResult(id: job.id, lease: lease ?? job.lease, ok: ok, output: Data("out".utf8), error: error),
                                  now: now, retry: RetryPolicy(notBefore: retryAt)) }
    }

    func finishIsFencedAndIdempotent() throws {
        _ = try insert([NewJob(kind: "noop")])
        let job = try claim()[0]
        XCTAssertEqual(try finish(job, lease: job.lease &+ 1), .stale)
        XCTAssertEqual(try get(job.id).state, .running, "a stale finish changes nothing")
        XCTAssertEqual(try finish(job), .recorded)
        XCTAssertEqual(try finish(job), .repeated, "a repeated finish with the same lease is acknowledged again")
        let done = try get(job.id)
        XCTAssertEqual(done.state, .succeed)
        XCTAssertEqual(done.output, Data("out".utf8))
        XCTAssertEqual(done.finishedAt, 3_000)
        XCTAssertEqual(try finish(job, ok: false, error: "late"), .stale, "a late failure cannot undo a success")
        XCTAssertEqual(try get(job.id).state, .succeed)
    }

    func batchFinishDecidesLikeOneByOne() throws {
        _ = try insert(Array(repeating: NewJob(kind: "noop"), count: 5), maxTry: 2)
        let jobs = try claim(limit: 5)
        XCTAssertEqual(try finish(jobs[1]), .recorded)
        let batch = [
            JobResult(id: jobs[0].id, lease: jobs[0].lease, ok: true, output: Data("a".utf8)),       // recorded
            JobResult(id: jobs[1].id, lease: jobs[1].lease, ok: true, output: Data("out".utf8)),     // repeated
            JobResult(id: jobs[2].id, lease: jobs[2].lease &+ 1, ok: true, output: Data("x".utf8)),  // stale
            JobResult(id: jobs[3].id, lease: jobs[3].lease, ok: false, error: "boom"),              // requeued
            JobResult(id: jobs[4].id, lease: jobs[4].lease, ok: true, output: Data("e".utf8)),       // recorded
            JobResult(id: "NoSuchJob01", lease: 1, ok: true),                                        // stale
        ]
        let outcomes = try tx { try store.finish(batch, now: 4_000, retry: RetryPolicy(notBefore: 5_000)) }
        XCTAssertEqual(outcomes, [.recorded, .repeated, .stale, .requeued, .recorded, .stale])
        XCTAssertEqual(try get(jobs[0].id).output, Data("a".utf8))
        XCTAssertEqual(try get(jobs[4].id).output, Data("e".utf8))
        XCTAssertEqual(try get(jobs[4].id).finishedAt, 4_000)
        XCTAssertEqual(try get(jobs[2].id).state, .running, "a stale result changes nothing")
        XCTAssertEqual(try get(jobs[3].id).state, .readyToRun)
    }

    func failuresRetryThenFail() throws {
        let id = try insert([NewJob(kind: "noop")], maxTry: 2)[0]
        let first = try claim(now: 2_000)[0]
        XCTAssertEqual(try finish(first, ok: false, error: "boom 1", retryAt: 10_000), .requeued)
        XCTAssertEqual(try finish(first, ok: false, error: "boom 1", now: 3_100, retryAt: 10_100), .repeated,
                       "a failure reported again (its ack was lost) is acknowledged again, not called stale")
        var job = try get(id)
        XCTAssertEqual(job.state, .readyToRun)
        XCTAssertEqual(job.error, "boom 1")
        XCTAssertEqual(try claim(now: 9_999).count, 0, "not before retry_job_interval")
        let second = try claim(now: 10_000)[0]
        XCTAssertEqual(second.tryNum, 2)
        XCTAssertEqual(try finish(second, ok: false, error: "boom 2", now: 11_000), .recorded)
        XCTAssertEqual(try finish(second, ok: false, error: "boom 2", now: 11_100), .repeated)
        job = try get(id)
        XCTAssertEqual(job.state, .failed)
        XCTAssertEqual(job.error, "boom 2")
        XCTAssertEqual(job.finishedAt, 11_000)
        XCTAssertEqual(try tx { try store.latestFailures(limit: 5) }.map(\.id), [id])
        XCTAssertEqual(try tx { try store.countByStateAndKind() }, [JobCount(state: "Failed", kind: "noop", count: 1)])
        XCTAssertEqual(try claim(now: 1_000_000).count, 0)
    }

    func heartbeatsAndExpiry() throws {
        _ = try insert(Array(repeating: NewJob(kind: "noop"), count: 3), maxTry: 1)
        let jobs = try claim(now: 2_000)
        let leases = jobs.map { JobLease(id: $0.id, lease: $0.lease) }
        let abort = try tx { try store.heartbeat([leases[0], leases[1], JobLease(id: jobs[2].id, lease: 1)], now: 5_000) }
        XCTAssertEqual(abort, [jobs[2].id], "a heartbeat with a wrong lease is told to abort")
        XCTAssertEqual(try get(jobs[0].id).heartbeatAt, 5_000)
        XCTAssertEqual(try tx { try store.heartbeat([leases[1], JobLease(id: "NoSuchJob01", lease: 1), leases[0]], now: 5_000) },
                       ["NoSuchJob01"], "an unknown job is told to abort; the others are held")
        XCTAssertEqual(try tx { try store.heartbeat([leases[0], leases[1]], now: 5_000) }, [])
        XCTAssertEqual(try get(jobs[1].id).heartbeatAt, 5_000)
        // Job 2 missed its heartbeat; job 0 ran too long; job 1 is fine.
        let expired = try tx { try store.expire(heartbeatBefore: 4_000, startedBefore: 1_000, now: 6_000, retry: RetryPolicy(notBefore: 6_000)) }
        XCTAssertEqual(expired.map(\.id), [jobs[2].id])
        XCTAssertEqual(try get(jobs[2].id).state, .failed, "max_try 1: out of tries")
        XCTAssertTrue(try get(jobs[2].id).error.contains("heartbeat timeout"))
        let timedOut = try tx { try store.expire(heartbeatBefore: 0, startedBefore: 2_001, now: 7_000, retry: RetryPolicy(notBefore: 7_000)) }
        XCTAssertEqual(Set(timedOut.map(\.id)), Set([jobs[0].id, jobs[1].id]))
        XCTAssertTrue(try get(jobs[0].id).error.contains("task timeout"))
        XCTAssertEqual(try tx { try store.expire(heartbeatBefore: 1 << 60, startedBefore: 1 << 60, now: 8_000, retry: RetryPolicy(notBefore: 0)) }.count, 0,
                       "expiry is a conditional transition: nothing is expired twice")
    }

    func releaseGivesTheTryBack() throws {
        let id = try insert([NewJob(kind: "noop")])[0]
        let job = try claim()[0]
        XCTAssertTrue(try tx { try store.release(JobLease(id: id, lease: job.lease), reason: "shutdown", now: 3_000, retry: RetryPolicy(notBefore: 0)) })
        XCTAssertFalse(try tx { try store.release(JobLease(id: id, lease: job.lease), reason: "again", now: 3_000, retry: RetryPolicy(notBefore: 0)) })
        let back = try get(id)
        XCTAssertEqual(back.state, .readyToRun)
        XCTAssertEqual(back.tryNum, 0)
        XCTAssertEqual(try claim(now: 3_000).count, 1, "released jobs are claimable at once")
    }

    func resetRemoveAndUnknownIds() throws {
        let ids = try insert([NewJob(kind: "noop"), NewJob(kind: "noop")], maxTry: 1)
        let job = try claim(limit: 1)[0]
        _ = try finish(job, ok: false, error: "bad")
        XCTAssertEqual(try get(job.id).state, .failed)
        XCTAssertThrowsError(try tx { try store.reset([job.id, "NoSuchJob01"], now: 4_000) }) {
            XCTAssertTrue("\($0)".contains("NoSuchJob01"))
        }
        XCTAssertEqual(try get(job.id).state, .failed, "a refused reset changes nothing")
        XCTAssertEqual(try tx { try store.reset([job.id], now: 4_000) }, 1)
        let reset = try get(job.id)
        XCTAssertEqual(reset.state, .readyToRun)
        XCTAssertEqual(reset.tryNum, 0)
        XCTAssertEqual(reset.error, "")
        XCTAssertThrowsError(try tx { try store.remove(["NoSuchJob01"]) })
        XCTAssertEqual(try tx { try store.remove([ids[1]]) }, 1)
        XCTAssertNil(try tx { try store.get(ids[1]) })
        XCTAssertEqual(try tx { try store.list(all: true) }.map(\.id), [job.id])
        XCTAssertEqual(try tx { try store.removeAll() }, 1)
        XCTAssertEqual(try tx { try store.list(all: true) }.count, 0)
    }

    func archiveAndPurge() throws {
        let ids = try insert([NewJob(kind: "noop"), NewJob(kind: "noop"), NewJob(kind: "noop")], now: 1_000)
        let jobs = try claim(limit: 2)
        _ = try finish(jobs[0], now: 3_000)
        _ = try finish(jobs[1], now: 8_000)
        XCTAssertEqual(try tx { try store.archive(finishedBefore: 5_000) }, 1)
        let unclaimed = ids.filter { id in !jobs.contains { $0.id == id } }
        XCTAssertEqual(try tx { try store.list(all: false) }.map(\.id), unclaimed, "the default list shows unfinished and failed jobs only")
        XCTAssertEqual(try get(jobs[0].id).state, .succeed, "show finds archived jobs")
        XCTAssertEqual(try tx { try store.list(all: true) }.count, 3, "--all includes the archive")
        XCTAssertEqual(try tx { try store.purge(createdBefore: 1_001) }, 2, "the finished ones, live and archived")
        XCTAssertEqual(try tx { try store.list(all: true) }.map(\.id), unclaimed, "a job never run is not dropped")
    }
}

extension StoreConformance {
    func pinnedJobsGoToTheirWorkerOnly() throws {
        let pinned = try insert([NewJob(kind: "noop", worker: "box-a")], now: 1)[0]
        let free = try insert([NewJob(kind: "noop", worker: "")], now: 2)[0]
        XCTAssertEqual(try get(pinned).pin, "box-a")
        XCTAssertEqual(try get(free).pin, "")
        XCTAssertEqual(try claim("box-b").map(\.id), [free], "another worker does not get a pinned job")
        XCTAssertEqual(try claim("box-b").count, 0)
        let mine = try claim("box-a")
        XCTAssertEqual(mine.map(\.id), [pinned])
        XCTAssertEqual(mine.first?.pin, "box-a")
        _ = try finish(mine[0], now: 3_000)
        XCTAssertEqual(try tx { try store.archive(finishedBefore: 5_000) }, 1)
        XCTAssertEqual(try get(pinned).pin, "box-a", "the archive keeps the pin")
    }

    /// A claim for several workers at once (the master merges the claims of
    /// slaves whose requests arrive together) gives each exactly what claims
    /// one after the other would: the earlier entry first, pins respected,
    /// the leases of different workers' jobs distinct.
    func claimForSeveralWorkersSharesInOrder() throws {
        let ids = try insert([NewJob(kind: "noop"), NewJob(kind: "noop", worker: "w2"), NewJob(kind: "noop"),
                              NewJob(kind: "noop", worker: "w1"), NewJob(kind: "noop"), NewJob(kind: "noop"),
                              NewJob(kind: "noop", worker: "w3")])
        let (u1, p2, u3, p1, u5, u6, p3) = (ids[0], ids[1], ids[2], ids[3], ids[4], ids[5], ids[6])
        let wanted = [ClaimWanted(worker: "w1", limit: 2), ClaimWanted(worker: "w2", limit: 2), ClaimWanted(worker: "w4", limit: 0)]
        let got = try tx { try store.claim(wanted, kinds: ["noop"], miners: [], now: 2_000) }
        XCTAssertEqual(got.count, 3)
        XCTAssertEqual(got[0].map(\.id), [u1, u3], "w1 first: the first two jobs it may take")
        XCTAssertEqual(got[1].map(\.id), [p2, u5], "w2: its pinned job, then the next free one")
        XCTAssertEqual(got[2].count, 0)
        XCTAssertTrue(Set(got[0].map(\.lease)).isDisjoint(with: got[1].map(\.lease)))
        for (share, worker) in [(got[0], "w1"), (got[1], "w2")] {
            for job in share {
                let stored = try get(job.id)
                XCTAssertEqual(stored.state, .running)
                XCTAssertEqual(stored.worker, worker)
                XCTAssertEqual(stored.lease, job.lease, "the lease handed out is the one stored")
                XCTAssertEqual(stored.tryNum, 1)
            }
        }
        let rest = try tx { try store.claim([ClaimWanted(worker: "w1", limit: 10)], kinds: ["noop"], miners: [], now: 2_000) }
        XCTAssertEqual(rest[0].map(\.id), [p1, u6], "w3's pinned job stays for w3")
        XCTAssertEqual(try get(p3).state, .readyToRun)
    }

    /// Claims, heartbeats and finishes larger than one statement may name
    /// (the master merges many slaves' requests): split into pieces, with the
    /// same outcomes as one by one.
    func largeBatchesGoInPieces() throws {
        _ = try insert(Array(repeating: NewJob(kind: "noop"), count: 1_300))
        let wanted = [ClaimWanted(worker: "w1", limit: 700), ClaimWanted(worker: "w2", limit: 650)]
        let got = try tx { try store.claim(wanted, kinds: ["noop"], miners: [], now: 2_000) }
        XCTAssertEqual(got[0].count, 700)
        XCTAssertEqual(got[1].count, 600, "w2 gets what is left")
        let jobs = got[0] + got[1]
        XCTAssertEqual(Set(jobs.map(\.id)).count, 1_300)
        var leases = jobs.map { JobLease(id: $0.id, lease: $0.lease) }
        leases.insert(JobLease(id: "NoSuchJob01", lease: 1), at: 600)
        let abort = try tx { try store.heartbeat(leases, now: 3_000) }
        XCTAssertEqual(abort, ["NoSuchJob01"])
        XCTAssertEqual(try get(jobs[1_299].id).heartbeatAt, 3_000)
        var results = jobs.map { JobResult(id: $0.id, lease: $0.lease, ok: true, output: Data($0.id.utf8)) }
        results[1_000].lease &+= 1
        let outcomes = try tx { try store.finish(results, now: 4_000, retry: RetryPolicy(notBefore: 0)) }
        XCTAssertEqual(outcomes.filter { $0 == .recorded }.count, 1_299)
        XCTAssertEqual(outcomes[1_000], .stale)
        XCTAssertEqual(try get(jobs[1_299].id).output, Data(jobs[1_299].id.utf8))
        XCTAssertEqual(try get(jobs[1_000].id).state, .running)
    }
}


final class SQLiteStoreTests: XCTestCase {
    func testConformance() throws {
        for (name, check) in StoreConformance.allChecks {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wdpost-store-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            let store = try SQLiteStore(path: dir.appendingPathComponent("t.db").path)
            try store.migrate()
            XCTAssertNoThrow(try check(StoreConformance(store: store)), name)
        }
    }

    func testMigrationIsIdempotent() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("wdpost-mig-\(UUID().uuidString).db").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try SQLiteStore(path: path).migrate()
        let again = try SQLiteStore(path: path)
        XCTAssertNoThrow(try again.migrate())
    }
}

extension JobStore {
    /// One transaction around `body`, rolled back if it throws (what the
    /// executor does for a group, without the executor).
    func inTransaction<T>(_ body: () throws -> T) throws -> T {
        try begin()
        do {
            let value = try body()
            try commit()
            return value
        } catch {
            try rollback()
            throw error
        }
    }
}
