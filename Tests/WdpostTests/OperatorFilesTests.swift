import Foundation
@testable import Master
import Shared
import XCTest

/// The original wdpost's config files, as operators have them (comments in
/// Chinese, no token lines, the MySQL URL with a password), start unchanged.
final class OperatorFilesTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("wdpost-operator-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    static let masterFile = """
        # wdpost 主节点配置
        [server]
        listen = '0.0.0.0:4698'
        max_connections = 200 # 最大连接数
        [db]
        # 数据库地址，密码请替换
        url = "mysql://root:PASSWORD@192.168.200.2:3308/venus-cluster-wdpost"
        min_connections = 3
        max_connections = 20
        idle_timeout = '10m'
        [task]
        timeout = '30m'           # 任务超时
        max_retry = 2             # 最大重试次数
        heartbeat_timeout = '15s' # 心跳超时
        retry_job_interval = '10s'
        archive_job_interval = '1h'
        should_archive = '2days'  # 归档时间
        """

    static let slaveFile = """
        # wdpost 从节点配置
        [master]
        server_addr = '192.168.200.18:4698' # 主节点地址
        reconnect_interval = '3s'
        heartbeat_interval = '5s'
        [slave]
        concurrent = 1  # 并发数
        pull_interval = '5s'
        """

    func write(_ text: String, _ name: String) throws -> String {
        let url = dir.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    func mode(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as! NSNumber).intValue
    }

    func testTheOriginalMasterFileStartsAndMakesItsTokens() throws {
        let path = try write(Self.masterFile, "wdpost_master.toml")
        let c = try MasterConfig.load(path: path)
        XCTAssertEqual(c.server.listen, HostPort(host: "0.0.0.0", port: 4698))
        XCTAssertEqual(c.server.maxConnections, 200)
        XCTAssertEqual(c.db.url, "mysql://root:PASSWORD@192.168.200.2:3308/venus-cluster-wdpost")
        XCTAssertEqual(try MariaDBURL(parsing: c.db.url),
                       MariaDBURL(user: "root", password: "PASSWORD", host: "192.168.200.2", port: 3308, database: "venus-cluster-wdpost"))
        XCTAssertEqual(c.db.minConnections, 3)
        XCTAssertEqual(c.db.maxConnections, 20)
        XCTAssertEqual(c.task.maxRetry, 2)
        XCTAssertEqual(c.task.heartbeatTimeout, 15_000_000)
        XCTAssertEqual(c.task.timeout, 30 * 60_000_000)
        XCTAssertEqual(c.damocles, MasterConfig.Damocles(extProver: .auto, stage: "window_post"))
        let slaveToken = dir.appendingPathComponent("slave.token").path
        let adminToken = dir.appendingPathComponent("admin.token").path
        for file in [slaveToken, adminToken] {
            XCTAssertEqual(try mode(file), 0o600, file)
            let text = try String(contentsOfFile: file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
            XCTAssertEqual(text.count, 64, "32 random bytes in hex")
            XCTAssertTrue(c.notices.contains { $0.contains(file) }, "the path is logged: \(c.notices)")
        }
        XCTAssertEqual(c.server.slaveToken, Array(try String(contentsOfFile: slaveToken, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines).utf8))
        XCTAssertNotEqual(c.server.slaveToken, c.server.adminToken)
        XCTAssertTrue(c.warnings.isEmpty, "\(c.warnings)")

        // A second start uses the files it made: same tokens, nothing new to say.
        let again = try MasterConfig.load(path: path)
        XCTAssertEqual(again.server.slaveToken, c.server.slaveToken)
        XCTAssertEqual(again.server.adminToken, c.server.adminToken)
        XCTAssertTrue(again.notices.isEmpty, "\(again.notices)")
    }

    func testTheOriginalSlaveFileReadsTheMastersTokenBesideIt() throws {
        let path = try write(Self.slaveFile, "wdpost_slave.toml")
        XCTAssertThrowsError(try SlaveConfig.load(path: path)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains(self.dir.appendingPathComponent("slave.token").path) && text.contains("copy the master's slave.token"), text)
        }
        try "0123456789abcdef0123456789abcdef\n".write(to: dir.appendingPathComponent("slave.token"), atomically: true, encoding: .utf8)
        let c = try SlaveConfig.load(path: path)
        XCTAssertEqual(c.token, Array("0123456789abcdef0123456789abcdef".utf8))
        XCTAssertEqual(c.serverAddr, HostPort(host: "192.168.200.18", port: 4698))
        XCTAssertEqual(c.reconnectInterval, 3_000_000)
        XCTAssertEqual(c.heartbeatInterval, 5_000_000)
        XCTAssertEqual(c.concurrent, 1)
        XCTAssertEqual(c.pullInterval, 5_000_000)
    }

    func testTheSameSecretForSlavesAndAdminsIsStillRefused() throws {
        try "one-token-for-all-0123456789".write(to: dir.appendingPathComponent("slave.token"), atomically: true, encoding: .utf8)
        let path = try write(Self.masterFile.replacingOccurrences(of: "max_connections = 200 # 最大连接数", with: "admin_token_file = 'slave.token'"), "m.toml")
        XCTAssertThrowsError(try MasterConfig.load(path: path)) { XCTAssertTrue("\($0)".contains("same secret"), "\($0)") }
    }

    func testAllowedSizesAreSectorSizes() throws {
        try "0123456789abcdef0123456789abcdef".write(to: dir.appendingPathComponent("slave.token"), atomically: true, encoding: .utf8)
        let good = try write(Self.slaveFile + "\nallowed_sizes = [\"32GiB\", \"64GiB\"]\nallowed_miners = [\"f01037\"]", "good.toml")
        XCTAssertEqual(try SlaveConfig.load(path: good).allowedSizes, ["32GiB", "64GiB"])
        let bad = try write(Self.slaveFile + "\nallowed_sizes = [\"32G\"]", "bad.toml")
        XCTAssertThrowsError(try SlaveConfig.load(path: bad)) { error in
            XCTAssertTrue("\(error)".contains("allowed_sizes") && "\(error)".contains("32GiB"), "\(error)")
        }
    }

    func testExtProverModeAndStage() throws {
        let auto = MasterConfig.Damocles()
        XCTAssertTrue(auto.isOn(stdinIsPipe: true, stdoutIsPipe: true), "damocles-manager pipes both")
        XCTAssertFalse(auto.isOn(stdinIsPipe: false, stdoutIsPipe: true), "a test or script reading stdout only")
        XCTAssertFalse(auto.isOn(stdinIsPipe: true, stdoutIsPipe: false), "systemd: stdout is the journal")
        XCTAssertTrue(MasterConfig.Damocles(extProver: .on).isOn(stdinIsPipe: false, stdoutIsPipe: false))
        XCTAssertFalse(MasterConfig.Damocles(extProver: .off).isOn(stdinIsPipe: true, stdoutIsPipe: true))
        let path = try write(Self.masterFile + "\n[damocles]\next_prover = \"off\"\nstage = \"winning_post\"", "win.toml")
        XCTAssertEqual(try MasterConfig.load(path: path).damocles, MasterConfig.Damocles(extProver: .off, stage: "winning_post"))
    }
}
