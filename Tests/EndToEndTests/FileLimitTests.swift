import Foundation
import Shared
import XCTest

/// Out of file descriptors, the master pauses accepting instead of spinning,
/// warns at start that its limit is too low, and recovers when descriptors free up.
final class FileLimitTests: XCTestCase {
    /// User plus system CPU seconds of a process so far.
    func cpuSeconds(_ pid: Int32) throws -> Double {
        let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        let fields = stat[stat.range(of: ")")!.upperBound...].split(separator: " ")
        return (Double(fields[11])! + Double(fields[12])!) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    func testAMasterOutOfDescriptorsPausesAcceptsAndRecovers() async throws {
        let cluster = try TestCluster()
        cluster.masterShellPrefix = "ulimit -n 64"
        try await cluster.startMaster()
        try await cluster.use {
            let master = try XCTUnwrap(cluster.master)
            XCTAssertTrue(master.log.contains("the file descriptor limit (64) is below"), master.log)
            var held = try (0..<80).map { _ in try RawSocket(port: cluster.port) }
            try await master.waitForLog(containing: "accepting connections failed")
            let before = try cpuSeconds(master.pid)
            let start = Date()
            while Date().timeIntervalSince(start) < 2 { usleep(100_000) }
            let used = try cpuSeconds(master.pid) - before
            // A spinning accept loop burns a whole core: about 2 s of CPU here.
            XCTAssertLessThan(used, 0.5, "the accept loop backs off on EMFILE")
            held.removeAll()
            _ = try await cluster.submitNoop(1)
            let jobs = try await cluster.client().list(all: true)
            XCTAssertEqual(jobs.count, 1, "accepting again once descriptors are free")
        }
    }
}
