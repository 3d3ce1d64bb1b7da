import Foundation
import Shared
import XCTest

/// The order in which a daemon's services stop on SIGTERM, and a second
/// signal that cuts the shutdown short.
final class SecondSignalTests: XCTestCase {
    func testASecondSignalDuringASlavesShutdownGraceExitsAtOnceWithStatus1() async throws {
        let cluster = try TestCluster(task: ["heartbeat_timeout": "\"1m\""])
        try await cluster.startMaster()
        let slave = try cluster.startSlave("impatient", concurrent: 1, grace: "10m")
        try await cluster.use {
            _ = try await cluster.submitNoop(1, input: #"{"sleep_ms": 600000}"#)
            try await cluster.waitFor("the job to run") { $0.first?.state == .running }
            slave.signal(SIGTERM)
            // The slave is in its 10-minute grace, waiting for the job.
            try await slave.waitForLog(containing: "1 job(s) running, grace 10m0s")
            slave.signal(SIGINT)
            let status = await slave.waitForExit(timeout: 20)
            XCTAssertEqual(status, 1, slave.log)
            XCTAssertTrue(slave.log.contains("SIGINT during shutdown: exiting at once"), slave.log)
            XCTAssertFalse(slave.log.contains("released"), "a forced exit hands nothing back: \(slave.log)")
            let jobs = try await cluster.client().list(all: true)
            XCTAssertEqual(jobs.first?.state, .running, "the master takes it back after the heartbeat timeout")
        }
    }

    func testMasterOnSIGTERMClosesItsConnectionsBeforeItsStore() async throws {
        let cluster = try TestCluster()
        try await cluster.startMaster()
        try await cluster.use {
            _ = try await cluster.submitNoop(3)
            let client = try await cluster.client()
            _ = try await client.list(all: true)
            // Requests keep coming on a connection opened before the signal:
            // each is answered, or meets a closed connection; none meets a closed store.
            let requests = Task { () -> (answered: Int, refused: [String]) in
                var answered = 0
                while true {
                    do {
                        _ = try await client.list(all: true)
                        answered += 1
                    } catch let error as ErrorMessage {
                        return (answered, [error.message])
                    } catch {
                        return (answered, [])
                    }
                }
            }
            let status = await cluster.master!.stop(SIGTERM)
            XCTAssertEqual(status, 0)
            let (answered, refused) = await requests.value
            XCTAssertEqual(refused, [], "after \(answered) answers")
            let log = cluster.master!.log
            let closed = try XCTUnwrap(log.range(of: "stopped accepting; connections closed"), log)
            let store = try XCTUnwrap(log.range(of: "store closed"), log)
            XCTAssertLessThan(closed.lowerBound, store.lowerBound, log)
            XCTAssertTrue(log.contains("master stopped"), log)
        }
    }

    func testSIGTERMWhileTheMasterOpensItsStoreIsHeldUntilTheStartHasEnded() async throws {
        // A "MariaDB" that accepts and never greets: the master's start waits in its store's connect.
        let database = try Listener()
        let cluster = try TestCluster(dbURL: "mysql://wdpost:secret@127.0.0.1:\(database.port)/wdpost")
        let master = try cluster.launchMaster()
        let accepted = await withCheckedContinuation { cont in DispatchQueue.global().async { cont.resume(returning: database.accept()) } }
        let connection = try XCTUnwrap(accepted)
        // Pending before the connect fails (a signal left at its default action would end the process here).
        master.signal(SIGTERM)
        close(connection)
        let status = await master.waitForExit(timeout: 60)
        XCTAssertEqual(master.process.terminationReason, .exit, "not killed halfway by the signal: \(master.log)")
        XCTAssertEqual(status, 1, master.log)
        XCTAssertTrue(master.log.contains("cannot connect to"), master.log)
    }
}
