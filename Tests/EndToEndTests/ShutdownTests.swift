import Foundation
import Shared
import XCTest

/// Clean stops, and jobs taken away from a running slave.
final class ShutdownTests: XCTestCase {
    func testSlaveSIGTERMReleasesUnfinishedJobsAndAnotherSlaveRunsThem() async throws {
        let cluster = try TestCluster(task: ["heartbeat_timeout": "\"1m\""])
        try await cluster.startMaster()
        let leaving = try cluster.startSlave("leaving", concurrent: 1, grace: "0s")
        try await cluster.use {
            let id = try await cluster.submitNoop(1, input: #"{"sleep_ms": 60000}"#)[0]
            try await cluster.waitFor("the job to run on the leaving slave") { $0.first?.state == .running }
            let status = await leaving.stop(SIGTERM)
            XCTAssertEqual(status, 0)
            XCTAssertTrue(leaving.log.contains("released 1 unfinished job"), leaving.log)
            // Released at once (not after the 1-minute heartbeat timeout), with its try given back.
            let back = try await cluster.waitFor("the job to be ready again", timeout: 10) { $0.first?.state == .readyToRun }[0]
            XCTAssertEqual(back.id, id)
            XCTAssertEqual(back.tryNum, 0)
            try await cluster.client().reset([id])  // keep the test short: no 60 s sleep on the next slave
            try cluster.startSlave("staying", concurrent: 1)
            try await cluster.waitFor("the job to run on the other slave") { $0.first?.worker == "staying" && $0.first?.state == .running }
        }
    }

    func testRemovingARunningJobAbortsItOnTheSlave() async throws {
        let cluster = try TestCluster()
        try await cluster.startMaster()
        let slave = try cluster.startSlave("s1", concurrent: 1)
        try await cluster.use {
            let id = try await cluster.submitNoop(1, input: #"{"sleep_ms": 60000}"#)[0]
            try await cluster.waitFor("the job to run") { $0.first?.state == .running }
            let removed = try cluster.cli(["remove", id])
            XCTAssertEqual(removed.status, 0, removed.err)
            // The slave learns it on its next heartbeat, aborts, and has its slot free for new work.
            let next = try await cluster.submitNoop(1, input: #"{"sleep_ms": 1}"#)[0]
            let jobs = try await cluster.waitFor("the next job to succeed on the freed slot") { $0.first { $0.id == next }?.state == .succeed }
            XCTAssertEqual(jobs.map(\.id), [next])
            XCTAssertTrue(slave.log.contains("aborting"), slave.log)
        }
    }

    func testMasterStopsCleanlyOnSIGTERMAndSlaveWaitsForItsReturn() async throws {
        let cluster = try TestCluster()
        try await cluster.startMaster()
        let slave = try cluster.startSlave("s1")
        try await cluster.use {
            _ = try await cluster.submitNoop(3)
            try await cluster.waitFor("jobs to succeed") { $0.count == 3 && $0.allSatisfy { $0.state == .succeed } }
            let status = await cluster.master!.stop(SIGTERM)
            XCTAssertEqual(status, 0)
            XCTAssertTrue(cluster.master!.log.contains("master stopped"))
            XCTAssertTrue(slave.isRunning, "a slave outlives its master and reconnects")
            try await cluster.startMaster()
            let more = try await cluster.submitNoop(3)
            let jobs = try await cluster.waitFor("jobs after the restart to succeed") { $0.count == 6 && $0.allSatisfy { $0.state == .succeed } }
            XCTAssertTrue(Set(more).isSubset(of: jobs.map(\.id)))
        }
    }

    func testSlaveWithAWrongTokenExitsNonZeroWithAClearMessage() async throws {
        let cluster = try TestCluster()
        try await cluster.startMaster()
        try await cluster.use {
            try "not-the-token".write(to: cluster.dir.appendingPathComponent("bad.token"), atomically: true, encoding: .utf8)
            let config = try cluster.write("bad-slave.toml", """
                [master]
                server_addr = "127.0.0.1:\(cluster.port)"
                token_file = "bad.token"
                [slave]
                name = "bad"
                """)
            let proc = try Proc(binary: cluster.binary, arguments: ["slave", "daemon", "-c", config.path],
                                logURL: cluster.dir.appendingPathComponent("bad-slave.log"))
            proc.process.waitUntilExit()
            XCTAssertNotEqual(proc.process.terminationStatus, 0)
            XCTAssertTrue(proc.log.contains("authentication failed"), proc.log)
        }
    }

    func testSlaveRefusedForCapacityKeepsTryingUntilASlotFrees() async throws {
        let cluster = try TestCluster()
        cluster.serverExtra = "max_unauthenticated = 2"
        try await cluster.startMaster()
        try await cluster.use {
            var held = try (0..<2).map { _ in try RawSocket(port: cluster.port) }
            held.forEach { _ = $0.readAll(timeout: 0.2) }
            let slave = try cluster.startSlave("patient", concurrent: 1)
            try await slave.waitForLog(containing: "too many connections")
            XCTAssertTrue(slave.isRunning, "a busy master is not a reason to give up")
            held.removeAll()
            _ = try await cluster.submitNoop(1)
            try await cluster.waitFor("the job to succeed on the patient slave") { $0.first?.state == .succeed && $0.first?.worker == "patient" }
        }
    }
}
