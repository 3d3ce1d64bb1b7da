import Foundation
import Shared
import XCTest

/// Jobs through a real master and real slaves over TCP.
final class SchedulingTests: XCTestCase {
    func testTwoHundredNoopJobsOnTwoSlavesAllSucceedFirstTry() async throws {
        let cluster = try TestCluster()
        try await cluster.startMaster()
        try cluster.startSlave("s1", concurrent: 4)
        try cluster.startSlave("s2", concurrent: 4)
        try await cluster.use {
            let ids = try await cluster.submitNoop(200, input: #"{"sleep_ms": 5}"#)
            XCTAssertEqual(Set(ids).count, 200)
            let jobs = try await cluster.waitFor("200 jobs to succeed") { jobs in
                jobs.count == 200 && jobs.allSatisfy { $0.state == .succeed }
            }
            XCTAssertEqual(Set(jobs.map(\.id)), Set(ids))
            XCTAssertTrue(jobs.allSatisfy { $0.tryNum == 1 }, "tries: \(Set(jobs.map(\.tryNum)))")
            XCTAssertEqual(Set(jobs.map(\.worker)), ["s1", "s2"], "both slaves should have worked")
            let accepted = cluster.masterLogs.components(separatedBy: "finish accepted").count - 1
            XCTAssertEqual(accepted, 200)
        }
    }

    func testJobFailsMaxRetryTimesThenResetSucceeds() async throws {
        let cluster = try TestCluster(task: ["max_retry": "2"])
        try await cluster.startMaster()
        try cluster.startSlave("s1")
        try await cluster.use {
            let marker = cluster.dir.appendingPathComponent("broken")
            FileManager.default.createFile(atPath: marker.path, contents: nil)
            let id = try await cluster.submitNoop(1, input: #"{"fail_if_exists": "\#(marker.path)"}"#)[0]
            let failed = try await cluster.waitFor("the job to fail") { $0.first?.state == .failed }[0]
            XCTAssertEqual(failed.tryNum, 2)
            XCTAssertTrue(failed.error.contains("exists"), failed.error)

            // The operator's view: `wdpost list` shows it with its error.
            let list = try cluster.cli(["list"])
            XCTAssertEqual(list.status, 0, list.err)
            XCTAssertTrue(list.out.contains(id) && list.out.contains("Failed") && list.out.contains("failed because"), list.out)

            // Fix the cause, reset: it runs again from try 0 and succeeds.
            try FileManager.default.removeItem(at: marker)
            let reset = try cluster.cli(["reset", id])
            XCTAssertEqual(reset.status, 0, reset.err)
            let done = try await cluster.waitFor("the reset job to succeed") { $0.first?.state == .succeed }[0]
            XCTAssertEqual(done.tryNum, 1)
            XCTAssertEqual(done.error, "")
        }
    }

    /// `fail_tries` fails the first attempt on the slave; the master retries it and the second succeeds.
    func testJobWithFailTriesFailsItsFirstAttemptAndSucceedsOnTheRetry() async throws {
        let cluster = try TestCluster()
        try await cluster.startMaster()
        try cluster.startSlave("s1")
        do {
            let failing = try await cluster.submitNoop(3, input: #"{"sleep_ms": 5, "fail_tries": 1}"#)
            let plain = try await cluster.submitNoop(3, input: #"{"sleep_ms": 5}"#)
            let jobs = try await cluster.waitFor("every job to succeed") { jobs in
                jobs.count == 6 && jobs.allSatisfy { $0.state == .succeed }
            }
            for job in jobs {
                XCTAssertEqual(job.tryNum, failing.contains(job.id) ? 2 : 1, "job \(job.id)")
            }
            XCTAssertEqual(Set(jobs.map(\.id)), Set(failing + plain))
            let retried = cluster.masterLogs.split(separator: "\n").filter { $0.contains("attempt failed, will retry") }
            XCTAssertEqual(retried.count, 3, retried.joined(separator: "\n"))
            XCTAssertTrue(retried.allSatisfy { $0.contains("noop: failed as asked (fail_tries 1, try 1)") }, retried.joined(separator: "\n"))
        } catch {
            await cluster.shutdown()
            throw error
        }
        await cluster.shutdown()
    }

    func testAdminCommandsRefuseUnknownIdsAndChangeNothing() async throws {
        let cluster = try TestCluster()
        try await cluster.startMaster()
        try await cluster.use {
            let id = try await cluster.submitNoop(1)[0]
            for command in [["reset", id, "NoSuchJob01"], ["remove", "NoSuchJob01", id], ["show", "NoSuchJob01"]] {
                let r = try cluster.cli(command)
                XCTAssertNotEqual(r.status, 0, "\(command) should fail")
                XCTAssertTrue(r.err.contains("unknown job id") && r.err.contains("NoSuchJob01"), r.err)
            }
            let jobs = try await cluster.client().list(all: true)
            XCTAssertEqual(jobs.map(\.id), [id], "the known job must not have been removed")
            XCTAssertEqual(jobs[0].state, .readyToRun)

            let refused = try cluster.cli(["remove-all"])
            XCTAssertNotEqual(refused.status, 0)
            XCTAssertTrue(refused.err.contains("--really-do-it"), refused.err)
            let kept = try await cluster.client().list(all: true).count
            XCTAssertEqual(kept, 1)
            let removed = try cluster.cli(["remove-all", "--really-do-it"])
            XCTAssertEqual(removed.status, 0, removed.err)
            let left = try await cluster.client().list(all: true).count
            XCTAssertEqual(left, 0)
        }
    }

    func testSubmitWithUniqueKeyReturnsTheExistingJob() async throws {
        let cluster = try TestCluster()
        try await cluster.startMaster()
        try await cluster.use {
            let first = try cluster.cli(["submit", "--kind", "noop", "--unique-key", "f01234-dl3", "--miner", "f01234", "--deadline", "3", "--partitions", "0,1"])
            let second = try cluster.cli(["submit", "--kind", "noop", "--unique-key", "f01234-dl3"])
            XCTAssertEqual(first.status, 0, first.err)
            XCTAssertEqual(first.out, second.out)
            let jobs = try await cluster.client().list(all: true)
            XCTAssertEqual(jobs.count, 1)
            XCTAssertEqual(jobs[0].minerID, "f01234")
            XCTAssertEqual(jobs[0].deadlineIdx, 3)
            XCTAssertEqual(jobs[0].partitions, [0, 1])
        }
    }
}
