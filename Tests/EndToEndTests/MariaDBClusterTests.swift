import Foundation
import Shared
import XCTest

/// Real masters and slaves on a real MariaDB server: several masters sharing
/// one database, the database restarting under load, and start-up failures.
final class MariaDBClusterTests: XCTestCase {
    /// How many log lines containing `event` each job id has, across `logs`.
    func perJob(_ event: String, in logs: String) -> [String: Int] {
        var counts: [String: Int] = [:]
        for line in logs.split(separator: "\n") where line.contains(event) {
            guard let range = line.range(of: "job=") else { continue }
            counts[String(line[range.upperBound...].prefix(11)), default: 0] += 1
        }
        return counts
    }

    func testTwoMastersOnOneDatabaseRunTwoThousandJobsEachClaimedOnce() async throws {
        let url = try TestMariaDB.freshDatabase("two-masters")
        defer { TestMariaDB.dropDatabase(url) }
        let a = try TestCluster(dbURL: url.text, masterName: "master-a")
        let b = try TestCluster(dbURL: url.text, masterName: "master-b")
        do {
            try await a.startMaster()
            try await b.startMaster()
            for (cluster, prefix) in [(a, "a"), (b, "b")] {
                try cluster.startSlave("\(prefix)1", concurrent: 4)
                try cluster.startSlave("\(prefix)2", concurrent: 4)
            }
            // Half the jobs through each master; slaves of both take from the one table.
            var ids: [String] = []
            for chunk in 0..<4 {
                ids += try await (chunk % 2 == 0 ? a : b).submitNoop(500, input: #"{"sleep_ms": 2}"#)
            }
            XCTAssertEqual(Set(ids).count, 2000)
            let jobs = try await a.waitFor("2,000 jobs to succeed", timeout: 240, every: 0.5) { jobs in
                jobs.count == 2000 && jobs.allSatisfy { $0.state == .succeed }
            }
            XCTAssertEqual(Set(jobs.map(\.id)), Set(ids))
            XCTAssertTrue(jobs.allSatisfy { $0.tryNum == 1 }, "tries: \(Dictionary(grouping: jobs, by: \.tryNum).mapValues(\.count))")
            let workers = Set(jobs.map(\.worker))
            XCTAssertTrue(workers.contains { $0.hasPrefix("a") } && workers.contains { $0.hasPrefix("b") },
                          "slaves of both masters should have worked: \(workers)")

            let logs = a.masterLogs + b.masterLogs
            let claimed = perJob("job claimed", in: logs)
            XCTAssertEqual(claimed.count, 2000)
            XCTAssertEqual(claimed.filter { $0.value != 1 }, [:], "claimed more than once")
            let accepted = perJob("finish accepted", in: logs)
            XCTAssertEqual(accepted.count, 2000)
            XCTAssertEqual(accepted.filter { $0.value != 1 }, [:], "accepted more than once")
            XCTAssertTrue(a.masterLogs.contains("job claimed") && b.masterLogs.contains("job claimed"),
                          "both masters should have handed out jobs")
        } catch {
            await a.shutdown()
            await b.shutdown()
            throw error
        }
        await a.shutdown()
        await b.shutdown()
    }

    func testDatabaseRestartWhileJobsRunTheMasterRecoversAndEveryJobCompletes() async throws {
        let url = try TestMariaDB.freshDatabase("restart")
        defer { TestMariaDB.dropDatabase(url) }
        // A claim whose COMMIT is cut off by the restart has an unknown outcome;
        // if it was applied, the job comes back after heartbeat_timeout.
        let cluster = try TestCluster(task: ["heartbeat_timeout": "\"5s\""], dbURL: url.text)
        do {
            try await cluster.startMaster()
            try cluster.startSlave("s1", concurrent: 3)
            try cluster.startSlave("s2", concurrent: 3)
            let ids = try await cluster.submitNoop(300, input: #"{"sleep_ms": 20}"#)
            try await cluster.waitFor("some jobs to finish", every: 0.1) { $0.filter { $0.state == .succeed }.count >= 30 }

            try TestMariaDB.restartServer()

            let jobs = try await cluster.waitFor("every job to succeed after the restart", timeout: 120, every: 0.2) { jobs in
                jobs.count == 300 && jobs.allSatisfy { $0.state == .succeed }
            }
            XCTAssertEqual(Set(jobs.map(\.id)), Set(ids))
            XCTAssertTrue(cluster.master?.isRunning ?? false, "the master was not restarted")
            XCTAssertEqual(cluster.masterRuns, 1)
            let log = cluster.masterLogs
            let outage = log.split(separator: "\n").filter { $0.contains("lost the database") }
            let recovery = log.split(separator: "\n").filter { $0.contains("reconnected to") }
            XCTAssertEqual(outage.count, 1, "the outage is logged once:\n\(outage.joined(separator: "\n"))")
            XCTAssertEqual(recovery.count, 1, "the recovery is logged once:\n\(recovery.joined(separator: "\n"))")
            XCTAssertFalse(log.contains(url.password), "the password must never be logged")
            XCTAssertTrue(outage.first?.contains("mysql://\(url.user):***@") ?? false, "\(outage)")
            let accepted = perJob("finish accepted", in: log)
            XCTAssertEqual(accepted.filter { $0.value != 1 }, [:], "accepted more than once")
        } catch {
            await cluster.shutdown()
            throw error
        }
        await cluster.shutdown()
    }

    /// A wrong password and a server nobody answers on: the master stops at
    /// once with one line naming host, port, database and user, never the password.
    func testStartUpFailuresSayWhereInOneLineWithoutThePassword() async throws {
        let good = try TestMariaDB.url()
        var wrongPassword = good
        wrongPassword.password = "Wrong-\(UUID().uuidString.prefix(8))"
        var unreachable = good
        unreachable.port = try Self.unusedPort()
        for (url, reason) in [(wrongPassword, "Access denied"), (unreachable, "connect")] {
            let cluster = try TestCluster(dbURL: url.text)
            let proc = try cluster.launchMaster()
            let status = await proc.waitForExit(timeout: 30)
            XCTAssertNotNil(status, "the master should exit, not keep retrying")
            XCTAssertNotEqual(status, 0)
            let lines = proc.log.split(separator: "\n").map(String.init)
            XCTAssertEqual(lines.count, 1, "one line:\n\(proc.log)")
            let line = lines.first ?? ""
            XCTAssertTrue(line.hasPrefix("wdpost: error: cannot connect to MariaDB at 127.0.0.1:\(url.port) database \(url.database) as \(url.user): "), line)
            XCTAssertTrue(line.contains(reason), line)
            XCTAssertFalse(line.contains(url.password), line)
            XCTAssertFalse(line.contains(good.password), line)
            await cluster.shutdown()
        }
    }

    static func unusedPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        guard bound else { throw TestFailure("cannot find a free port") }
        return Int(UInt16(bigEndian: addr.sin_port))
    }
}
