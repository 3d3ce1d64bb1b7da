import Foundation
import Shared
import XCTest

final class ConfigTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("wdpost-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try "s3cret\n".write(to: dir.appendingPathComponent("slave.token"), atomically: true, encoding: .utf8)
        try "adm1n".write(to: dir.appendingPathComponent("admin.token"), atomically: true, encoding: .utf8)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func write(_ text: String, name: String = "master.toml") throws -> String {
        let url = dir.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    let base = """
        [server]
        token_file = "slave.token"
        admin_token_file = "admin.token"
        """

    func testMasterDefaultsAndValues() throws {
        let path = try write(base + """

            listen = "127.0.0.1:9000"
            [task]
            heartbeat_timeout = "30s"
            should_archive = "2days"
            max_retry = 5
            """)
        let c = try MasterConfig.load(path: path)
        XCTAssertEqual(c.server.listen, HostPort(host: "127.0.0.1", port: 9000))
        XCTAssertEqual(c.server.slaveToken, Array("s3cret".utf8), "token files are trimmed")
        XCTAssertEqual(c.task.heartbeatTimeout, 30_000_000)
        XCTAssertEqual(c.task.shouldArchive, 2 * 86_400_000_000)
        XCTAssertEqual(c.task.maxRetry, 5)
        XCTAssertEqual(c.db.url, "sqlite://" + dir.appendingPathComponent("wdpost.db").path, "sqlite paths are relative to the config file")
    }

    func assertRejected(_ text: String, mentions parts: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let path = try write(text)
        XCTAssertThrowsError(try MasterConfig.load(path: path), file: file, line: line) { error in
            let message = "\(error)"
            for part in [path] + parts {
                XCTAssertTrue(message.contains(part), "\"\(message)\" should mention \(part)", file: file, line: line)
            }
        }
    }

    func testBrokenConfigsNameFileKeyAndExpectation() throws {
        try assertRejected(base + "\nlisten = \"nowhere\"", mentions: ["[server] listen", "host:port"])
        try assertRejected(base + "\n[task]\nmax_retry = \"three\"", mentions: ["[task] max_retry", "integer"])
        try assertRejected(base + "\n[task]\nmax_retry = 0", mentions: ["max_retry", "≥ 1"])
        try assertRejected(base + "\n[task]\ntimeout = \"soon\"", mentions: ["[task] timeout", "duration"])
        try assertRejected(base + "\n[task]\nheartbeat_timout = \"1m\"", mentions: ["unknown key", "heartbeat_timout"])
        try assertRejected(base + "\n[tsak]\ntimeout = \"1m\"", mentions: ["unknown section", "tsak"])
        try assertRejected(base + "\n[db]\nurl = \"postgres://x\"", mentions: ["[db] url"])
        try assertRejected(base + "\n[damocles]\next_prover = \"yes\"", mentions: ["[damocles] ext_prover", "\"auto\", \"on\" or \"off\""])
        try assertRejected(base + "\n[damocles]\nstage = \"post\"", mentions: ["[damocles] stage", "winning_post"])
        try assertRejected("[server\n", mentions: [])
    }

    func testRedactsPasswords() {
        XCTAssertEqual(DatabaseURL.redacted("mysql://wdpost:hunter2@db:3306/venus-cluster-wdpost"), "mysql://wdpost:***@db:3306/venus-cluster-wdpost")
        XCTAssertEqual(DatabaseURL.redacted("sqlite://wdpost.db"), "sqlite://wdpost.db")
    }

    func testSlaveConfigWithProcessors() throws {
        let path = try write("""
            [master]
            server_addr = "10.0.0.1:9527"
            token_file = "slave.token"
            [slave]
            name = "gpu-01"
            concurrent = 2
            [[processors.wdpost]]
            bin = "/bin/sh"
            args = ["--fast"]
            concurrent = 1
            envs = { CUDA_VISIBLE_DEVICES = "0" }
            """, name: "slave.toml")
        let c = try SlaveConfig.load(path: path)
        XCTAssertEqual(c.name, "gpu-01")
        XCTAssertEqual(c.kinds, ["dbc-doctor", "dbc-verify", "noop", "synthetic", "wdpost"], "built-in kinds by default, plus the processors' kinds")
        XCTAssertEqual(c.dataPath, "/data", "the probe's data disk defaults to /data")
        XCTAssertEqual(c.processors.first?.envs["CUDA_VISIBLE_DEVICES"], "0")

        let bad = try write("[master]\ntoken_file = \"slave.token\"\n[slave]\nconcurrent = -1", name: "bad.toml")
        XCTAssertThrowsError(try SlaveConfig.load(path: bad)) { XCTAssertTrue("\($0)".contains("[slave] concurrent")) }
    }

    func testDBCSection() throws {
        let off = try MasterConfig.load(path: try write(base))
        XCTAssertEqual(off.dbc.committee, [], "no committee: verification is off")
        XCTAssertEqual(off.dbc.blockTime, 6_000_000, "6 s blocks by default, as the chain")

        let c = try MasterConfig.load(path: try write(base + """

            [dbc]
            committee = ["alice", "bob", "carol", "dave"]
            manual = ["dave"]
            block_time = "2ms"
            """))
        XCTAssertEqual(c.dbc.committee, ["alice", "bob", "carol", "dave"])
        XCTAssertEqual(c.dbc.blockTime, 2_000)
        XCTAssertTrue(c.dbc.isAutomatic("alice"))
        XCTAssertFalse(c.dbc.isAutomatic("dave"))
        XCTAssertTrue(c.dbc.isManual("dave"))
        XCTAssertFalse(c.dbc.isManual("mallory") || c.dbc.isAutomatic("mallory"), "outsiders are neither")

        try assertRejected(base + "\n[dbc]\ncommittee = [\"a\", \"b\"]", mentions: ["[dbc] committee", "at least 3"])
        try assertRejected(base + "\n[dbc]\ncommittee = [\"a\", \"b\", \"a\"]", mentions: ["[dbc] committee", "\"a\" is listed twice"])
        try assertRejected(base + "\n[dbc]\ncommittee = [\"a\", \"b\", \"c\"]\nmanual = [\"z\"]", mentions: ["[dbc] manual", "\"z\" is not in"])
        try assertRejected(base + "\n[dbc]\ncommittee = [\"a\", \"b c\", \"d\"]", mentions: ["[dbc] committee", "not a member name"])
        try assertRejected(base + "\n[dbc]\nblock_time = \"0s\"", mentions: ["[dbc] block_time", "above zero"])
        try assertRejected(base + "\n[dbc]\ncomittee = []", mentions: ["unknown key", "comittee"])
    }

    func testSlaveDataPath() throws {
        let path = try write("""
            [master]
            token_file = "slave.token"
            [slave]
            name = "gpu-02"
            data_path = "disks/data"
            kinds = ["dbc-verify"]
            """, name: "slave.toml")
        let c = try SlaveConfig.load(path: path)
        XCTAssertEqual(c.dataPath, dir.appendingPathComponent("disks/data").path, "relative to the config file")
        XCTAssertEqual(c.kinds, ["dbc-verify"])
    }

    func testSlaveDoctorRoot() throws {
        let plain = try write("[master]\ntoken_file = \"slave.token\"\n", name: "slave.toml")
        let c = try SlaveConfig.load(path: plain)
        XCTAssertEqual(c.doctorRoot, "/", "the host itself by default")
        XCTAssertTrue(c.kinds.contains(JobKind.dbcDoctor), "a built-in kind in the default kinds")
        let rooted = try write("[master]\ntoken_file = \"slave.token\"\n[dbc]\ndoctor_root = \"trees/box\"\n", name: "slave.toml")
        XCTAssertEqual(try SlaveConfig.load(path: rooted).doctorRoot, dir.appendingPathComponent("trees/box").path, "relative to the config file")
        let empty = try write("[master]\ntoken_file = \"slave.token\"\n[dbc]\ndoctor_root = \"\"\n", name: "slave.toml")
        XCTAssertThrowsError(try SlaveConfig.load(path: empty)) { XCTAssertTrue("\($0)".contains("[dbc] doctor_root"), "\($0)") }
    }
}
