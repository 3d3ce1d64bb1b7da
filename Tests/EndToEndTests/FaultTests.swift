import Foundation
import NIOPosix
import Shared
import XCTest

/// Processes dying, and results arriving too late.
final class FaultTests: XCTestCase {
    func testSlaveKilledMidJobTheJobRunsAgainOnTheOtherSlave() async throws {
        let cluster = try TestCluster(task: ["heartbeat_timeout": "\"1s\""])
        try await cluster.startMaster()
        let victim = try cluster.startSlave("victim", concurrent: 1)
        try await cluster.use {
            let id = try await cluster.submitNoop(1, input: #"{"sleep_ms": 1500}"#)[0]
            try await cluster.waitFor("the job to run on the victim") { $0.first?.state == .running && $0.first?.worker == "victim" }
            victim.signal(SIGKILL)
            try cluster.startSlave("survivor", concurrent: 1)
            let others = try await cluster.submitNoop(5, input: #"{"sleep_ms": 10}"#)
            let jobs = try await cluster.waitFor("every job to succeed") { jobs in
                jobs.count == 6 && jobs.allSatisfy { $0.state == .succeed }
            }
            let job = try XCTUnwrap(jobs.first { $0.id == id })
            XCTAssertEqual(job.worker, "survivor")
            XCTAssertEqual(job.tryNum, 2)
            XCTAssertTrue(cluster.masterLogs.contains("heartbeat timeout"))
            XCTAssertEqual(Set(jobs.map(\.id)), Set([id] + others), "nothing lost")
        }
    }

    func testMasterKilledAndRestartedEveryJobCompletesOnce() async throws {
        let cluster = try TestCluster()
        try await cluster.startMaster()
        try cluster.startSlave("s1", concurrent: 3)
        try cluster.startSlave("s2", concurrent: 3)
        try await cluster.use {
            let ids = try await cluster.submitNoop(120, input: #"{"sleep_ms": 30}"#)
            try await cluster.waitFor("some jobs to finish") { $0.filter { $0.state == .succeed }.count >= 20 }
            await cluster.master?.stop(SIGKILL)
            try await cluster.startMaster()
            let jobs = try await cluster.waitFor("every job to succeed after the restart") { jobs in
                jobs.count == 120 && jobs.allSatisfy { $0.state == .succeed }
            }
            XCTAssertEqual(Set(jobs.map(\.id)), Set(ids))
            // No job's success was recorded twice across both master runs. A
            // SIGKILL can land between a commit and its log line, so a few jobs
            // (at most the 6 slots in flight) may have no line; none may have two.
            let logs = cluster.masterLogs.split(separator: "\n").filter { $0.contains("finish accepted") }
            var perJob: [String: Int] = [:]
            for line in logs {
                guard let range = line.range(of: "job=") else { continue }
                perJob[String(line[range.upperBound...].prefix(11)), default: 0] += 1
            }
            XCTAssertEqual(perJob.values.filter { $0 > 1 }.count, 0, "accepted twice: \(perJob.filter { $0.value > 1 })")
            XCTAssertGreaterThanOrEqual(perJob.count, 120 - 6)
            XCTAssertTrue(Set(perJob.keys).isSubset(of: ids))
        }
    }

    /// A slave speaking the real protocol whose result comes after its lease was taken away.
    func testFinishWithStaleLeaseIsRefusedAndChangesNothing() async throws {
        let cluster = try TestCluster(task: ["heartbeat_timeout": "\"1s\"", "retry_job_interval": "\"0s\""])
        try await cluster.startMaster()
        try await cluster.use {
            let id = try await cluster.submitNoop(1)[0]
            let caps = Capabilities(kinds: [JobKind.noop], concurrent: 1)
            let group = MultiThreadedEventLoopGroup.singleton
            let token = Array(cluster.slaveToken.utf8)
            let late = try await RPCClient.connect(to: cluster.address, as: .init(role: .slave, name: "late", token: token, capabilities: caps), group: group)
            let first = try await late.call(.pull, PullRequest(max: 1, kinds: [JobKind.noop], waitMs: 0), as: PullResponse.self).jobs
            XCTAssertEqual(first.map(\.id), [id])

            // No heartbeat from "late": the master takes the job back and "fresh" claims it.
            let fresh = try await RPCClient.connect(to: cluster.address, as: .init(role: .slave, name: "fresh", token: token, capabilities: caps), group: group)
            let second = try await fresh.call(.pull, PullRequest(max: 1, kinds: [JobKind.noop], waitMs: 10_000), as: PullResponse.self).jobs
            XCTAssertEqual(second.map(\.id), [id])
            XCTAssertNotEqual(second[0].lease, first[0].lease)
            let before = try await cluster.client().show([id])[0]

            let answer = try await late.call(.finish, FinishRequest(results: [JobResult(id: id, lease: first[0].lease, ok: true, output: Data("late".utf8))]), as: FinishResponse.self)
            XCTAssertEqual(answer.statuses, [.stale])
            let forged = try await late.call(.finish, FinishRequest(results: [JobResult(id: id, lease: second[0].lease &+ 1, ok: false, error: "x")]), as: FinishResponse.self)
            XCTAssertEqual(forged.statuses, [.stale])
            let after = try await cluster.client().show([id])[0]
            XCTAssertEqual(after, before, "a stale finish must leave the job untouched")
            XCTAssertEqual(after.state, .running)
            XCTAssertEqual(after.worker, "fresh")

            // The holder's finish counts, and repeating it is acknowledged again without change.
            let ok = FinishRequest(results: [JobResult(id: id, lease: second[0].lease, ok: true, output: Data("done".utf8))])
            let firstAck = try await fresh.call(.finish, ok, as: FinishResponse.self)
            let repeatAck = try await fresh.call(.finish, ok, as: FinishResponse.self)
            XCTAssertEqual(firstAck.statuses, [.accepted])
            XCTAssertEqual(repeatAck.statuses, [.accepted])
            let done = try await cluster.client().show([id])[0]
            XCTAssertEqual(done.state, .succeed)
            XCTAssertEqual(done.output, Data("done".utf8))
            await late.close()
            await fresh.close()
        }
    }
}
