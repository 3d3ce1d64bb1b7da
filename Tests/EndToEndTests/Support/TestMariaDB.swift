import Foundation
@testable import Master
import Shared
import XCTest

/// The MariaDB server from `scripts/mariadb.sh start` (WDPOST_TEST_MYSQL_URL,
/// WDPOST_TEST_MYSQL_DIR). Missing, the tests fail; WDPOST_SKIP_MYSQL=1 skips them.
enum TestMariaDB {
    static func url() throws -> MariaDBURL {
        let env = ProcessInfo.processInfo.environment
        if let text = env["WDPOST_TEST_MYSQL_URL"], !text.isEmpty { return try MariaDBURL(parsing: text) }
        if env["WDPOST_SKIP_MYSQL"] == "1" { throw XCTSkip("WDPOST_SKIP_MYSQL=1: MariaDB tests skipped") }
        // A thrown error fails the test (a skip would let a missing server pass unnoticed).
        throw TestFailure("WDPOST_TEST_MYSQL_URL is not set: run the tests through scripts/test.sh, or eval \"$(scripts/mariadb.sh start)\" first (WDPOST_SKIP_MYSQL=1 skips these tests)")
    }

    /// Database `venus-cluster-wdpost-<suffix>`, dropped and created empty.
    static func freshDatabase(_ suffix: String) throws -> MariaDBURL {
        var url = try self.url()
        url.database += "-" + suffix
        let admin = try MariaDBConnection(url, selectDatabase: false)
        try admin.exec("DROP DATABASE IF EXISTS \(MariaDBURL.quoteIdentifier(url.database))")
        try admin.exec("CREATE DATABASE \(MariaDBURL.quoteIdentifier(url.database)) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
        return url
    }

    static func dropDatabase(_ url: MariaDBURL) {
        guard let admin = try? MariaDBConnection(url, selectDatabase: false) else { return }
        try? admin.exec("DROP DATABASE IF EXISTS \(MariaDBURL.quoteIdentifier(url.database))")
    }

    /// Restarts the server in place (same port, same data) with scripts/mariadb.sh.
    static func restartServer() throws {
        guard let dir = ProcessInfo.processInfo.environment["WDPOST_TEST_MYSQL_DIR"], !dir.isEmpty else {
            throw TestFailure("WDPOST_TEST_MYSQL_DIR is not set: start the server with scripts/mariadb.sh")
        }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        let script = root.appendingPathComponent("scripts/mariadb.sh").path
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("mariadb-restart-\(UUID().uuidString).log").path
        defer { try? FileManager.default.removeItem(atPath: log) }
        // posix_spawn + waitpid, not Foundation's Process: the script leaves a
        // daemon behind, and Process.waitUntilExit was seen never to return then.
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, log, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let args = ["/bin/bash", script, "restart", dir]
        var argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, "/bin/bash", &actions, nil, &argv, environ)
        guard rc == 0 else { throw TestFailure("cannot run \(script): errno \(rc)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        let exited = (status & 0x7f) == 0 && (status >> 8) & 0xff == 0
        guard exited else {
            let message = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            throw TestFailure("mariadb.sh restart failed (status \(status)): \(message)")
        }
    }
}

extension MariaDBURL {
    /// Back to `mysql://…` (the test password is hex, nothing to escape).
    var text: String { "mysql://\(user):\(password)@\(host):\(port)/\(database)" }
}
