import Foundation
import XCTest

/// `scripts/chaos.sh --short` against the MariaDB server scripts/test.sh
/// started, with the binary these tests use: a few hundred jobs while slaves
/// and a master are SIGKILLed, the server restarts and a slave is stopped
/// past heartbeat_timeout. The script does the checking; this asserts on its
/// exit status and its summary line.
final class ChaosTests: XCTestCase {
    func testShortChaosRunEveryJobSucceedsNoneIsAcceptedTwiceAndTheStaleResultIsRefused() throws {
        _ = try TestMariaDB.url()
        let env = ProcessInfo.processInfo.environment
        guard let dir = env["WDPOST_TEST_MYSQL_DIR"], FileManager.default.fileExists(atPath: dir) else {
            throw TestFailure("WDPOST_TEST_MYSQL_DIR is not set: the chaos run restarts the server with scripts/mariadb.sh")
        }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let script = root.appendingPathComponent("scripts/chaos.sh").path
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("wdpost-chaos-\(UUID().uuidString).log").path
        defer { try? FileManager.default.removeItem(atPath: log) }

        let started = Date()
        let status = try Self.run(["/bin/bash", script, "--short"], environment: ["WDPOST_BIN": TestCluster.findBinary().path],
                                  output: log, timeout: 240)
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        let seconds = Int(Date().timeIntervalSince(started))
        guard let status else { return XCTFail("chaos.sh --short ran past 240s and was stopped:\n\(output.suffix(6000))") }
        XCTAssertEqual(status, 0, "chaos.sh --short failed after \(seconds)s:\n\(output.suffix(6000))")

        let summary = output.split(separator: "\n").last { $0.hasPrefix("jobs=") }.map(String.init) ?? ""
        var figures: [String: Int] = [:]
        for pair in summary.split(separator: " ") {
            let kv = pair.split(separator: "=")
            if kv.count == 2, let n = Int(kv[1]) { figures[String(kv[0])] = n }
        }
        XCTAssertEqual(Set(figures.keys), ["jobs", "succeed", "failed", "lost", "accepted_twice", "stale_refused"],
                       "summary line: \(summary)\n\(output.suffix(3000))")
        XCTAssertEqual(figures["jobs"], 300, summary)
        XCTAssertEqual(figures["succeed"], figures["jobs"], summary)
        XCTAssertEqual(figures["failed"], 0, summary)
        XCTAssertEqual(figures["lost"], 0, summary)
        XCTAssertEqual(figures["accepted_twice"], 0, summary)
        XCTAssertGreaterThanOrEqual(figures["stale_refused"] ?? 0, 1, summary)
        // Every fault kind was injected.
        for fault in ["SIGKILL s", "SIGKILL master-", "restarting MariaDB", "SIGSTOP s", "SIGCONT s"] {
            XCTAssertTrue(output.contains(fault), "no \"\(fault)\" in the run:\n\(output.suffix(3000))")
        }
    }

    /// Runs a command with stdout and stderr into `output` and returns its exit
    /// status, or nil when it ran past `timeout`: then it gets SIGTERM (the
    /// script's trap stops its cluster), and SIGKILL 30 s later.
    /// posix_spawn + waitpid, not Foundation's Process: the run leaves a
    /// restarted MariaDB server behind, and Process was seen never to return then.
    static func run(_ args: [String], environment extra: [String: String], output: String, timeout: TimeInterval) throws -> Int32? {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var env = ProcessInfo.processInfo.environment
        env.merge(extra) { $1 }
        var argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
        var envp: [UnsafeMutablePointer<CChar>?] = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { argv.forEach { free($0) }; envp.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, args[0], &actions, nil, &argv, &envp)
        guard rc == 0 else { throw TestFailure("cannot run \(args.joined(separator: " ")): errno \(rc)") }
        var status: Int32 = 0
        let deadline = Date().addingTimeInterval(timeout)
        var signalled: Int32 = 0
        while true {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { break }
            if r == -1 && errno != EINTR { throw TestFailure("waitpid: errno \(errno)") }
            if Date() > deadline && signalled == 0 {
                kill(pid, SIGTERM)
                signalled = SIGTERM
            } else if Date() > deadline.addingTimeInterval(30) && signalled == SIGTERM {
                kill(pid, SIGKILL)
                signalled = SIGKILL
            }
            Thread.sleep(forTimeInterval: 0.2)
        }
        if signalled != 0 { return nil }
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }
}
