import Foundation
import Shared
import XCTest

/// Masters sharing a MariaDB database whose hosts' clocks disagree: time for
/// heartbeats and sweeps comes from the database, so skew does not matter.
final class ClockSkewTests: XCTestCase {
    static let libfaketime = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"

    /// Master B runs 90 s ahead (libfaketime) with heartbeat_timeout 3 s;
    /// master A, whose slaves run the jobs, never times a job out itself
    /// (heartbeat_timeout 1h), so every job taken back is B's doing. B must
    /// leave the job a live slave heartbeats through A alone, and still take
    /// back the job of a slave that died.
    func testAMasterWhoseClockIsAheadTakesBackOnlyTheDeadSlavesJob() async throws {
        guard FileManager.default.fileExists(atPath: Self.libfaketime) else {
            throw TestFailure("\(Self.libfaketime) is missing: install the Debian package faketime (scripts/setup.sh does)")
        }
        let url = try TestMariaDB.freshDatabase("clock-skew")
        defer { TestMariaDB.dropDatabase(url) }
        let a = try TestCluster(task: ["heartbeat_timeout": "\"1h\""], dbURL: url.text, masterName: "master-a")
        let b = try TestCluster(task: ["heartbeat_timeout": "\"3s\""], dbURL: url.text, masterName: "master-b")
        // FAKETIME_SHARED names shared memory that does not exist: left unset,
        // libfaketime (0.9.10) sets up its own in its constructor, after which
        // the Swift program starts without its arguments; a fixed offset needs none.
        b.masterEnvironment = ["LD_PRELOAD": Self.libfaketime, "FAKETIME": "+90s",
                               "FAKETIME_SHARED": "/wdpost-no-faketime-sem /wdpost-no-faketime-shm"]
        do {
            try await a.startMaster()
            let launched = Date()
            try await b.startMaster()
            // B really runs ahead: its log lines carry its own time.
            let stamp = try XCTUnwrap(b.masterLogs.split(separator: "\n").first?.split(separator: " ").first.map(String.init))
            let bTime = try XCTUnwrap(Self.logTime.date(from: stamp), "no timestamp in B's log: \(b.masterLogs.prefix(300))")
            XCTAssertGreaterThan(bTime.timeIntervalSince(launched), 60, "master B's clock should be 90 s ahead: \(stamp)")

            try a.startSlave("alive", concurrent: 1)
            let doomed = try a.startSlave("doomed", concurrent: 1)
            let ids = try await a.submitNoop(2, input: #"{"sleep_ms": 600000}"#)
            let running = try await a.waitFor("both jobs to run, one on each slave") { jobs in
                Set(jobs.filter { $0.state == .running }.map(\.worker)) == ["alive", "doomed"]
            }
            let alive = try XCTUnwrap(running.first { $0.worker == "alive" })
            let dead = try XCTUnwrap(running.first { $0.worker == "doomed" })
            XCTAssertEqual(Set(ids), [alive.id, dead.id])

            await doomed.stop(SIGKILL)
            // B's sweeps ran all along (every 750 ms); the dead slave's job
            // comes back once its heartbeat is 3 s old on the database's clock.
            let after = try await a.waitFor("the dead slave's job to be taken back", timeout: 60) { jobs in
                jobs.first { $0.id == dead.id }?.state == .readyToRun
            }
            let back = try XCTUnwrap(after.first { $0.id == dead.id })
            XCTAssertTrue(back.error.contains("heartbeat timeout"), back.error)
            let kept = try XCTUnwrap(after.first { $0.id == alive.id })
            XCTAssertEqual(kept.state, .running, "the live slave's job must not be taken back: \(kept.error)")
            XCTAssertEqual(kept.lease, alive.lease, "the live slave's job still runs under its first lease")
            XCTAssertEqual(kept.tryNum, 1)
            XCTAssertEqual(kept.worker, "alive")
            let timeouts = b.masterLogs.split(separator: "\n").filter { $0.contains("heartbeat timeout") }
            XCTAssertEqual(timeouts.count, 1, "B takes back the dead slave's job only:\n\(timeouts.joined(separator: "\n"))")
            XCTAssertTrue(timeouts.first?.contains(dead.id) ?? false, "\(timeouts)")
            XCTAssertFalse(a.masterLogs.contains("heartbeat timeout"), "A never times a job out (heartbeat_timeout 1h)")
        } catch {
            await a.shutdown()
            await b.shutdown()
            throw error
        }
        await a.shutdown()
        await b.shutdown()
    }

    /// The master's log time stamps (LineLogHandler: strftime "%Y-%m-%dT%H:%M:%S%z").
    static let logTime: DateFormatter = {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.dateFormat = "yyyy-MM-dd'T'HH:mm:ssZ"
        return f
    }()
}
