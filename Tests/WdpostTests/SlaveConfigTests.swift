import Foundation
import Shared
import XCTest

/// `slave.toml` keys checked against the machine at start: processor programs and sector directories.
final class SlaveConfigTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("wdpost-slave-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try "s3cret\n".write(to: dir.appendingPathComponent("slave.token"), atomically: true, encoding: .utf8)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func config(_ slave: String, _ rest: String = "") throws -> String {
        let url = dir.appendingPathComponent("slave.toml")
        try "[master]\ntoken_file = \"slave.token\"\n[slave]\n\(slave)\n\(rest)".write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    func processor(_ bin: String) throws -> String {
        try config("kinds = []", "[[processors.prove]]\nbin = \"\(bin)\"")
    }

    func assertRejected(_ path: String, _ expected: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try SlaveConfig.load(path: path), file: file, line: line) { error in
            XCTAssertEqual("\(error)", expected, file: file, line: line)
        }
    }

    /// A processor whose program is missing or cannot be run stops start-up,
    /// naming the file, the key and the path, instead of failing every job.
    func testAProcessorProgramMustExistAndBeExecutable() throws {
        let toml = dir.appendingPathComponent("slave.toml").path
        let missing = dir.appendingPathComponent("no-such-prover").path
        assertRejected(try processor(missing), "\(toml): [[processors.prove]] bin: \(missing): No such file or directory")
        assertRejected(try processor("bin/prover"), "\(toml): [[processors.prove]] bin: \(dir.path)/bin/prover: No such file or directory")
        assertRejected(try processor(dir.path), "\(toml): [[processors.prove]] bin: \(dir.path): is a directory")
        let plain = dir.appendingPathComponent("plain.sh")
        try "#!/bin/sh\n".write(to: plain, atomically: true, encoding: .utf8)
        assertRejected(try processor(plain.path), "\(toml): [[processors.prove]] bin: \(plain.path): is not executable")
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/bin:/usr/bin"
        let name = "no-such-prover-\(UUID().uuidString.prefix(8))"
        assertRejected(try processor(name), "\(toml): [[processors.prove]] bin: \"\(name)\" is not an executable in PATH (\(path))")

        XCTAssertEqual(try SlaveConfig.load(path: processor("sh")).processors.first?.bin, "sh", "a bare name found in PATH")
        chmod(plain.path, 0o755)
        XCTAssertEqual(try SlaveConfig.load(path: processor(plain.path)).processors.first?.bin, plain.path)
    }

    /// `sector_paths`: none by default; each entry relative to the file, kept
    /// with its symlinks resolved, and an existing directory.
    func testSectorPathsAreExistingDirectoriesKeptAsRealPaths() throws {
        let toml = dir.appendingPathComponent("slave.toml").path
        XCTAssertEqual(try SlaveConfig.load(path: config("name = \"a\"")).sectorPaths, [])
        let sectors = dir.appendingPathComponent("sectors")
        try FileManager.default.createDirectory(at: sectors, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: dir.appendingPathComponent("link").path, withDestinationPath: sectors.path)
        let real = sectors.resolvingSymlinksInPath().path
        XCTAssertEqual(try SlaveConfig.load(path: config("sector_paths = [\"sectors\", \"link\", \"\(sectors.path)/\"]")).sectorPaths,
                       [real, real, real])
        assertRejected(try config("sector_paths = [\"gone\"]"), "\(toml): [slave] sector_paths: \"gone\": No such file or directory")
        assertRejected(try config("sector_paths = [\"slave.token\"]"), "\(toml): [slave] sector_paths: \"slave.token\": not a directory")
        assertRejected(try config("sector_paths = [\"\"]"), "\(toml): [slave] sector_paths: \"\": expected a directory path")
    }

    /// A `[[processors.window_post]]` block as damocles-worker operators have
    /// it starts unchanged and speaks vc-processors; other kinds stay one-shot
    /// unless `protocol` says otherwise; keys of the other protocol are refused.
    func testDamoclesWorkerProcessorBlocks() throws {
        let toml = dir.appendingPathComponent("slave.toml").path
        let block = """
            [[processors.window_post]]
            bin = "sh"
            args = ["processor", "window_post"]
            envs = { CUDA_VISIBLE_DEVICES = "0", TMPDIR = "/tmp/prover0" }
            concurrent = 1
            cgroup.cpuset = "0-15"
            stable_wait = "2s"
            auto_restart = false
            inherit_envs = false
            [[processors.window_post]]
            bin = "sh"
            envs = { CUDA_VISIBLE_DEVICES = "1", TMPDIR = "/tmp/prover1" }
            concurrent = 2
            [[processors.winning_post]]
            bin = "sh"
            [[processors.hash]]
            bin = "sh"
            [[processors.c2]]
            bin = "sh"
            protocol = "vc"
            """
        let config = try SlaveConfig.load(path: config("kinds = []", block))
        let wd = config.processors.filter { $0.kind == "window_post" }
        XCTAssertEqual(wd.map(\.protocol), [.vc, .vc])
        XCTAssertEqual(wd.map(\.stableWait), [2_000_000, 5_000_000])
        XCTAssertEqual(wd.map(\.autoRestart), [false, true])
        XCTAssertEqual(wd.map(\.inheritEnvs), [false, true])
        XCTAssertEqual(wd.first?.cpuset, "0-15")
        XCTAssertEqual(wd.first?.envs, ["CUDA_VISIBLE_DEVICES": "0", "TMPDIR": "/tmp/prover0"])
        XCTAssertEqual(config.processors.first { $0.kind == "winning_post" }?.protocol, .vc)
        XCTAssertEqual(config.processors.first { $0.kind == "hash" }?.protocol, .oneshot)
        XCTAssertEqual(config.processors.first { $0.kind == "c2" }?.protocol, .vc)
        XCTAssertEqual(config.processorSlots("window_post"), 3, "one child per entry, each with its own concurrent")
        XCTAssertEqual(config.processorSlots("hash"), 1)
        XCTAssertNil(config.processorSlots("noop"))

        let w = "\(toml): [[processors.window_post]]"
        assertRejected(try self.config("kinds = []", "[[processors.window_post]]\nbin = \"sh\"\ntimeout = \"5s\""),
                       "\(w): unknown key \"timeout\" (not with protocol = \"vc\": the master's [task] timeout aborts a job) (known: args, auto_restart, bin, cgroup, concurrent, envs, inherit_envs, protocol, stable_wait)")
        assertRejected(try self.config("kinds = []", "[[processors.window_post]]\nbin = \"sh\"\nweight = 1"),
                       "\(w): unknown key \"weight\" (known: args, auto_restart, bin, cgroup, concurrent, envs, inherit_envs, protocol, stable_wait)")
        assertRejected(try self.config("kinds = []", "[[processors.hash]]\nbin = \"sh\"\nstable_wait = \"5s\""),
                       "\(toml): [[processors.hash]]: unknown key \"stable_wait\" (only with protocol = \"vc\") (known: args, bin, cgroup, concurrent, envs, protocol, timeout)")
        assertRejected(try self.config("kinds = []", "[[processors.window_post]]\nbin = \"sh\"\nprotocol = \"grpc\""),
                       "\(w) protocol: expected \"vc\" (damocles' long-lived processors) or \"oneshot\" (a program per job)")
        assertRejected(try self.config("kinds = []", "[[processors.window_post]]\nbin = \"sh\"\nstable_wait = 5"),
                       "\(w) stable_wait: expected a duration string such as \"5s\"")
        assertRejected(try self.config("kinds = []", "[[processors.window_post]]\nbin = \"sh\"\nauto_restart = \"yes\""),
                       "\(w) auto_restart: expected true or false")
        assertRejected(try self.config("kinds = []", "[[processors.window_post]]\nbin = \"sh\"\n[[processors.window_post]]\nbin = \"sh\"\nprotocol = \"oneshot\""),
                       "\(w) protocol: every entry of one kind speaks one protocol (another says \"vc\")")
        let missing = dir.appendingPathComponent("damocles-worker").path
        assertRejected(try self.config("kinds = []", "[[processors.window_post]]\nbin = \"\(missing)\""),
                       "\(w) bin: \(missing): No such file or directory")
    }
}

/// `[dbc]` of a slave on a DBC compute node.
extension SlaveConfigTests {
    var node: String { String(repeating: "0f", count: 32) }

    func testDBCNodeIDComesFromTheKeyOrNodeDatAndTurnsTheRentListenerOn() throws {
        let plain = try SlaveConfig.load(path: config(""))
        XCTAssertNil(plain.dbc.nodeID)
        XCTAssertNil(plain.dbc.rentListen, "no node id: nothing to listen for")

        let byID = try SlaveConfig.load(path: config("", "[dbc]\nnode_id = \"\(node)\""))
        XCTAssertEqual(byID.dbc.nodeID, node)
        XCTAssertEqual(byID.dbc.rentListen, HostPort(host: "0.0.0.0", port: 55555))
        XCTAssertNil(byID.dbc.chainRPC)

        try "node_id=\(node)\nnode_private_key=aa\n".write(to: dir.appendingPathComponent("node.dat"), atomically: true, encoding: .utf8)
        let byDat = try SlaveConfig.load(path: config("", """
            [dbc]
            node_dat = "node.dat"
            rent_listen = "127.0.0.1:5555"
            chain_rpc = "http://10.0.0.5:9933"
            chain_poll_interval = "2s"
            """))
        XCTAssertEqual(byDat.dbc.nodeID, node, "node_dat relative to the config file")
        XCTAssertEqual(byDat.dbc.rentListen, HostPort(host: "127.0.0.1", port: 5555))
        XCTAssertEqual(byDat.dbc.chainRPC, ChainRPCURL(host: "10.0.0.5", port: 9933, path: "/"))
        XCTAssertEqual(byDat.dbc.chainPollInterval, 2_000_000)
        XCTAssertEqual(ChainRPCURL("http://chain.lan/rpc"), ChainRPCURL(host: "chain.lan", port: 80, path: "/rpc"))

        let off = try SlaveConfig.load(path: config("", "[dbc]\nnode_id = \"\(node)\"\nrent_listen = \"\""))
        XCTAssertNil(off.dbc.rentListen, "\"\" turns the listener off")
    }

    func testBadDBCKeysAreRefusedByName() throws {
        let toml = dir.appendingPathComponent("slave.toml").path
        assertRejected(try config("", "[dbc]\nnode_id = \"0x\(node)\""),
                       "\(toml): [dbc] node_id: \"0x\(node)\" is not a DBC node id (64 lowercase hex digits, no 0x)")
        assertRejected(try config("", "[dbc]\nnode_id = \"\(node)\"\nnode_dat = \"node.dat\""),
                       "\(toml): [dbc] node_id and node_dat are both set; set one (node_dat is read for its node_id= line)")
        assertRejected(try config("", "[dbc]\nnode_dat = \"missing.dat\""),
                       "\(toml): [dbc] node_dat: cannot read \(dir.path)/missing.dat: No such file or directory")
        assertRejected(try config("", "[dbc]\nnode_id = \"\(node)\"\nrent_listen = \"55555\""),
                       "\(toml): [dbc] rent_listen: \"55555\" is not HOST:PORT (default 0.0.0.0:55555 with a node id; \"\" = off)")
        assertRejected(try config("", "[dbc]\nrent_listen = \"0.0.0.0:55555\""),
                       "\(toml): [dbc] rent_listen needs node_id or node_dat: the node's datagrams name the machine they are for")
        assertRejected(try config("", "[dbc]\nnode_id = \"\(node)\"\nchain_rpc = \"https://info.dbcwallet.io\""),
                       "\(toml): [dbc] chain_rpc: \"https://info.dbcwallet.io\" is not http://HOST[:PORT][/PATH] (plain HTTP; put a local proxy before an https node)")
        assertRejected(try config("", "[dbc]\nnode_id = \"\(node)\"\nrent_listen = \"\"\nchain_rpc = \"http://127.0.0.1:9933\""),
                       "\(toml): [dbc] chain_rpc confirms the rent datagrams, and rent_listen is off")
    }
}
