import Foundation
import Shared
import XCTest

/// The master as damocles-manager's ext-prover child, with real slaves and a
/// prover stand-in: the manager's side played exactly (see `DamoclesManager`).
final class DamoclesExtProverTests: XCTestCase {
    /// The original wdpost's master file as operators have it; only the
    /// database and the address (a free port on loopback) point at the test's.
    static func masterFile(dbURL: String) -> String {
        """
        # wdpost 主节点配置
        [server]
        listen = '127.0.0.1:0'
        max_connections = 200 # 最大连接数
        [db]
        # 数据库地址
        url = "\(dbURL)"
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
    }

    final class Setup {
        let cluster: TestCluster
        let manager: DamoclesManager
        let masterDir: URL
        let countFile: URL
        let prover: String
        let store: URL

        init(cluster: TestCluster, manager: DamoclesManager, masterDir: URL, countFile: URL, prover: String, store: URL) {
            self.cluster = cluster; self.manager = manager; self.masterDir = masterDir
            self.countFile = countFile; self.prover = prover; self.store = store
        }

        /// The prover runs so far, one line each: "<slave> <sealed files>".
        var runs: [String] { ((try? String(contentsOf: countFile, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init) }
        func runs(of sealed: String) -> Int { runs.filter { $0.hasSuffix(" " + sealed) }.count }

        /// A slave whose prover is the stand-in; `processors` replaces the one
        /// default block (see `processorBlock`).
        @discardableResult
        func startSlave(_ name: String, extra: String = "", kind: String = "window_post", concurrent: Int = 2,
                        processors: String? = nil, environment: [String: String] = [:]) throws -> Proc {
            try cluster.startSlave(name, concurrent: concurrent, extra: "kinds = []\n" + extra + "\n"
                + (processors ?? processorBlock(name: name, kind: kind)), environment: environment)
        }

        func processorBlock(name: String, kind: String = "window_post", slowSeconds: Double = 0, concurrent: Int = 2,
                            envs: [String: String] = [:], extra: String = "") -> String {
            ProverStandIn.processorBlock(script: prover, name: name, countFile: countFile.path, slowSeconds: slowSeconds,
                                         kind: kind, concurrent: concurrent, envs: envs, extra: extra)
        }

        /// What the stand-ins recorded: starts and requests (see `ProverStandIn`).
        var events: [[String: Any]] { ProverStandIn.events(countFile: countFile.path) }
        func events(_ kind: String, of name: String? = nil) -> [[String: Any]] {
            events.filter { $0["event"] as? String == kind && (name == nil || $0["name"] as? String == name) }
        }

        func admin() async throws -> AdminClient {
            let token = try readToken(masterDir.appendingPathComponent("admin.token").path, context: "test")
            return try await AdminClient.connect(to: cluster.address, token: token)
        }

        /// A sealed file with random contents; its path and contents.
        func sealed(_ name: String) throws -> (path: String, contents: Data) {
            let url = store.appendingPathComponent("sealed/\(name)")
            let contents = Data(SecureRandom.bytes(64))
            try contents.write(to: url)
            return (url.path, contents)
        }

        func stop() async {
            manager.kill()
            await cluster.shutdown()
        }
    }

    static let seed: [UInt8] = Array(100...130) + [3]

    static func task(miner: Int = 1037, proofType: String = "StackedDrgWindow32GiBV1_2", sectors: [(UInt64, String)],
                     seed: [UInt8] = seed) -> Data {
        let replicas = sectors.map { id, sealed -> [String: Any] in
            ["sector_id": id, "comm_r": Array(1...32), "cache_dir": "/mnt/store1/cache/s-t0\(miner)-\(id)", "sealed_file": sealed]
        }
        return try! JSONSerialization.data(withJSONObject: ["miner_id": miner, "proof_type": proofType, "replicas": replicas,
                                                            "seed": seed.map(Int.init)] as [String: Any])
    }

    /// Starts the master as damocles-manager would and requires its ready line.
    /// `task` replaces lines of the file's [task] section (e.g. a shorter
    /// heartbeat_timeout, for tests of what happens on the slaves).
    func start(dbURL: String = "sqlite://wdpost.db", extra: String = "", ready: String = "window_post processor ready\n",
               task: [String: String] = [:]) async throws -> Setup {
        guard ProverStandIn.hasPython else { throw XCTSkip("the prover stand-in needs python3") }
        let cluster = try TestCluster(dbURL: dbURL)
        let masterDir = cluster.dir.appendingPathComponent("damocles")
        let store = cluster.dir.appendingPathComponent("store")
        try FileManager.default.createDirectory(at: store.appendingPathComponent("sealed"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: masterDir, withIntermediateDirectories: true)
        let config = masterDir.appendingPathComponent("wdpost_master.toml")
        var file = Self.masterFile(dbURL: dbURL)
        for (key, value) in task {
            guard let line = file.range(of: "\(key) = '[^']*'", options: .regularExpression) else { throw TestFailure("no \(key) in the master file") }
            file.replaceSubrange(line, with: "\(key) = '\(value)'")
        }
        try (file + "\n" + extra).write(to: config, atomically: true, encoding: .utf8)
        let manager = try DamoclesManager(binary: cluster.binary, config: config, logURL: cluster.dir.appendingPathComponent("master.log"))
        do {
            try await manager.requireReady(ready)
        } catch {
            manager.kill()
            throw error
        }
        // The port is in the log (stdout carries nothing but the protocol).
        guard let range = manager.log.range(of: #"listening on 127\.0\.0\.1:[0-9]+"#, options: .regularExpression),
              let port = Int(manager.log[range].split(separator: ":").last ?? "") else {
            manager.kill()
            throw TestFailure("no listening line in the master's log:\n\(manager.log)")
        }
        cluster.port = port
        // The file has no token lines: the master made slave.token and
        // admin.token beside it; slaves get a copy, as an operator would do.
        for token in ["slave.token", "admin.token"] {
            try Data(contentsOf: masterDir.appendingPathComponent(token)).write(to: cluster.dir.appendingPathComponent(token))
        }
        let prover = try cluster.write("prover.py", ProverStandIn.script)
        chmod(prover.path, 0o755)
        return Setup(cluster: cluster, manager: manager, masterDir: masterDir, countFile: cluster.dir.appendingPathComponent("prover-runs"),
                     prover: prover.path, store: store)
    }

    /// An answer checked field by field: the id, err_msg null and output
    /// exactly {"proofs", "faults"}; returns the output.
    func requireOutput(_ answer: [String: Any]?, id: UInt64, file: StaticString = #filePath, line: UInt = #line) throws -> (proofs: [String], faults: [Int]) {
        let answer = try XCTUnwrap(answer, "no answer to request \(id)", file: file, line: line)
        XCTAssertEqual(Set(answer.keys), ["id", "err_msg", "output"], file: file, line: line)
        XCTAssertEqual((answer["id"] as? NSNumber)?.uint64Value, id, file: file, line: line)
        XCTAssertTrue(answer["err_msg"] is NSNull, "err_msg: \(answer["err_msg"] ?? "absent")", file: file, line: line)
        let output = try XCTUnwrap(answer["output"] as? [String: Any], "output: \(answer["output"] ?? "absent")", file: file, line: line)
        XCTAssertEqual(Set(output.keys), ["proofs", "faults"], file: file, line: line)
        return (try XCTUnwrap(output["proofs"] as? [String], file: file, line: line), try XCTUnwrap(output["faults"] as? [Int], file: file, line: line))
    }

    /// A failure answer: a non-empty err_msg and output null; returns err_msg.
    func requireError(_ answer: [String: Any]?, id: UInt64, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let answer = try XCTUnwrap(answer, "no answer to request \(id)", file: file, line: line)
        XCTAssertEqual(Set(answer.keys), ["id", "err_msg", "output"], file: file, line: line)
        XCTAssertEqual((answer["id"] as? NSNumber)?.uint64Value, id, file: file, line: line)
        XCTAssertTrue(answer["output"] is NSNull, file: file, line: line)
        let message = try XCTUnwrap(answer["err_msg"] as? String, file: file, line: line)
        XCTAssertFalse(message.isEmpty, file: file, line: line)
        return message
    }

    /// Nothing but the ready line and answer lines ever reached stdout, each
    /// id answered exactly once.
    func requireOnlyProtocolLines(_ manager: DamoclesManager, ids: Set<UInt64>, file: StaticString = #filePath, line: UInt = #line) {
        let bytes = manager.stdoutBytes
        XCTAssertEqual(bytes.last, UInt8(ascii: "\n"), "stdout ends with a whole line", file: file, line: line)
        let lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).dropLast()
        XCTAssertEqual(lines.first.map { String(decoding: $0, as: UTF8.self) }, "window_post processor ready", file: file, line: line)
        var answered: [UInt64] = []
        for text in lines.dropFirst() {
            guard let object = (try? JSONSerialization.jsonObject(with: Data(text))) as? [String: Any],
                  Set(object.keys) == ["id", "err_msg", "output"], let id = (object["id"] as? NSNumber)?.uint64Value else {
                XCTFail("not a protocol line on stdout: \(String(decoding: text, as: UTF8.self).debugDescription)", file: file, line: line)
                continue
            }
            answered.append(id)
        }
        XCTAssertEqual(answered.sorted(), ids.sorted(), "each request answered once", file: file, line: line)
    }

    func testPlaysDamoclesManager() async throws {
        try await run(dbURL: "sqlite://wdpost.db")
    }

    func testPlaysDamoclesManagerOnMariaDB() async throws {
        let url = try TestMariaDB.freshDatabase("damocles")
        defer { TestMariaDB.dropDatabase(url) }
        try await run(dbURL: url.text)
    }

    func run(dbURL: String) async throws {
        let setup = try await start(dbURL: dbURL)
        let manager = setup.manager
        do {
            // A slave claims proofs once its prover is ready: both are, so both prove.
            for name in ["s1", "s2"] { try await setup.startSlave(name).waitForLog(containing: "window_post processor ready") }
            var expected: [UInt64: String] = [:]
            var tasks: [UInt64: Data] = [:]
            for i in 1...4 {
                let a = try setup.sealed("s-t01037-\(i)"), b = try setup.sealed("s-t01037-\(i + 100)")
                tasks[UInt64(i)] = Self.task(sectors: [(UInt64(i), a.path), (UInt64(i + 100), b.path)])
                expected[UInt64(i)] = ProverStandIn.proof(sealed: [a.contents, b.contents], seed: Self.seed)
            }
            let missing = setup.store.appendingPathComponent("sealed/s-t01037-77").path
            let faulty = try setup.sealed("s-t01037-5")
            tasks[5] = Self.task(sectors: [(5, faulty.path), (77, missing)])
            let broken = try setup.sealed("inject-error-6")
            tasks[6] = Self.task(sectors: [(6, broken.path)])
            // All at once, as a manager with Concurrent = 8 sends them.
            for id in tasks.keys.sorted() { manager.send(id: id, task: tasks[id]!) }
            manager.send(line: Data("this is not json".utf8))
            manager.send(line: Data(#"{"id": 7}"#.utf8))
            manager.send(id: 8, task: Self.task(sectors: [(1, "/mnt/x")], seed: Array(100...131)))

            for id in UInt64(1)...4 {
                let out = try requireOutput(await manager.answer(id), id: id)
                XCTAssertEqual(out.proofs, [expected[id]!], "request \(id)")
                XCTAssertEqual(out.faults, [])
            }
            let fault = try requireOutput(await manager.answer(5), id: 5)
            XCTAssertEqual(fault.proofs, [])
            XCTAssertEqual(fault.faults, [77], "a missing sealed file is a fault, not an error")
            XCTAssertEqual(setup.runs(of: "\(faulty.path),\(missing)"), 1, "faults are a result: no retry")
            let error = try requireError(await manager.answer(6, timeout: 90), id: 6)
            XCTAssertTrue(error.contains("injected prover error"), error)
            XCTAssertEqual(setup.runs(of: broken.path), 2, "tried max_retry = 2 times, then answered as err_msg")
            let noTask = try requireError(await manager.answer(7), id: 7)
            XCTAssertTrue(noTask.contains("task"), noTask)
            let unmasked = try requireError(await manager.answer(8), id: 8)
            XCTAssertTrue(unmasked.contains("not masked"), unmasked)
            XCTAssertEqual(Set(setup.runs.compactMap { $0.split(separator: " ").first.map(String.init) }), ["s1", "s2"], "both slaves proved")

            // A restarted manager asks for the same partitions again: answered
            // from the store, with no second proof.
            let before = setup.runs.count
            for i in UInt64(1)...5 { manager.send(id: 10 + i, task: tasks[i]!) }
            for i in UInt64(1)...4 {
                let again = try requireOutput(await manager.answer(10 + i), id: 10 + i)
                XCTAssertEqual(again.proofs, [expected[i]!])
            }
            let faultAgain = try requireOutput(await manager.answer(15), id: 15)
            XCTAssertEqual(faultAgain.faults, [77])
            XCTAssertEqual(setup.runs.count, before, "identical tasks are proven once")
            // A task whose job had failed is run again.
            manager.send(id: 16, task: tasks[6]!)
            _ = try requireError(await manager.answer(16, timeout: 90), id: 16)
            XCTAssertEqual(setup.runs(of: broken.path), 4, "a failed job runs again when asked again")

            let jobs = try await setup.admin().list(all: true)
            XCTAssertEqual(jobs.count, 6, "one job per distinct task")
            XCTAssertTrue(jobs.allSatisfy { $0.kind == "window_post" && $0.minerID == "1037" && $0.sectorSize == "32GiB" })
            XCTAssertEqual(jobs.map(\.sectors).sorted(), [1, 2, 2, 2, 2, 2])

            try requireDamoclesListFormats(setup.cluster, jobs: jobs)

            requireOnlyProtocolLines(manager, ids: Set((1...8).map(UInt64.init) + (11...16).map(UInt64.init)))
            // The manager is gone: the master ends by itself, so its next child can bind the port.
            manager.closeStdin()
            let status = await manager.waitForExit(timeout: 10)
            XCTAssertEqual(status, 0, "the master exits cleanly on stdin EOF; log:\n\(manager.log.suffix(2000))")
            XCTAssertTrue(manager.log.contains("stdin closed"), manager.log.suffix(2000).description)
        } catch {
            await setup.stop()
            throw error
        }
        await setup.stop()
    }

    /// `wdpost list` as damocles shows its jobs; `show` with local times, raw with --json.
    func requireDamoclesListFormats(_ cluster: TestCluster, jobs: [Job]) throws {
        func cells(_ line: Substring) -> [String] {
            line.replacingOccurrences(of: " {2,}", with: "\u{1}", options: .regularExpression).split(separator: "\u{1}").map(String.init)
        }
        let table = try cluster.cli(["list", "--all"])
        XCTAssertEqual(table.status, 0, table.err)
        let lines = table.out.split(separator: "\n")
        let header = cells(lines[0])
        XCTAssertEqual(header, ["JobID", "MinerID", "DDL", "Partitions", "Sectors", "Worker", "State", "Try", "CreateAt", "Elapsed", "Heartbeat", "Error"])
        var rows: [String: [String: String]] = [:]
        for line in lines.dropFirst() {
            let row = cells(line)
            XCTAssertEqual(row.count, header.count, String(line))
            rows[row[0]] = Dictionary(uniqueKeysWithValues: zip(header, row))
        }
        for job in jobs {
            let row = try XCTUnwrap(rows[job.id])
            XCTAssertEqual(row["MinerID"], "1037")
            XCTAssertEqual(row["Sectors"], "\(job.sectors)")
            XCTAssertNotNil(row["CreateAt"]?.range(of: #"^[0-1][0-9]-[0-3][0-9] [0-2][0-9]:[0-5][0-9]:[0-5][0-9]$"#, options: .regularExpression), row["CreateAt"] ?? "")
            XCTAssertTrue(row["Elapsed"]?.hasSuffix("s(done)") == true, row["Elapsed"] ?? "")
            XCTAssertEqual(row["Heartbeat"], "-", "not running")
            XCTAssertEqual(row["Try"], job.state == .failed ? "2(Max)" : "1")
        }
        let detail = try cluster.cli(["list", "--all", "--detail"])
        for column in ["Kind", "Priority", "StartedAt", "HeartbeatAt", "FinishedAt"] {
            XCTAssertTrue(cells(detail.out.split(separator: "\n")[0]).contains(column), column)
        }
        let id = jobs[0].id
        let shown = try JSONSerialization.jsonObject(with: Data(try cluster.cli(["show", id]).out.utf8)) as? [String: Any]
        XCTAssertNotNil((shown?["createdAt"] as? String)?.range(of: #"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}$"#, options: .regularExpression),
                        "\(shown?["createdAt"] ?? "absent")")
        let raw = try JSONSerialization.jsonObject(with: Data(try cluster.cli(["show", "--json", id]).out.utf8)) as? [String: Any]
        XCTAssertEqual((raw?["createdAt"] as? NSNumber)?.int64Value, jobs[0].createdAt)
    }

    /// A `[[WinPost]]` master: its stage in the ready line, winning_post jobs.
    func testWinningPoStStage() async throws {
        let setup = try await start(extra: "[damocles]\nstage = \"winning_post\"", ready: "winning_post processor ready\n")
        do {
            try setup.startSlave("w", kind: "winning_post")
            let a = try setup.sealed("s-t01037-9")
            setup.manager.send(id: 1, task: Self.task(proofType: "StackedDrgWinning32GiBV1", sectors: [(9, a.path)]))
            let out = try requireOutput(await setup.manager.answer(1), id: 1)
            XCTAssertEqual(out.proofs, [ProverStandIn.proof(sealed: [a.contents], seed: Self.seed)])
            let jobs = try await setup.admin().list(all: true)
            XCTAssertEqual(jobs.map(\.kind), ["winning_post"])
        } catch {
            await setup.stop()
            throw error
        }
        await setup.stop()
    }

    /// allowed_sizes and allowed_miners decide which slave proves what.
    func testAllowedSizesAndMinersDecideWhoProves() async throws {
        let setup = try await start()
        let manager = setup.manager
        do {
            try setup.startSlave("big", extra: #"allowed_sizes = ["64GiB"]"#)
            try setup.startSlave("mine", extra: "allowed_miners = [\"f01037\"]\nallowed_sizes = [\"32GiB\"]")
            let a = try setup.sealed("a"), b = try setup.sealed("b"), c = try setup.sealed("c")
            manager.send(id: 1, task: Self.task(miner: 1037, sectors: [(1, a.path)]))
            manager.send(id: 2, task: Self.task(miner: 2000, proofType: "StackedDrgWindow64GiBV1_2", sectors: [(2, b.path)]))
            manager.send(id: 3, task: Self.task(miner: 2000, sectors: [(3, c.path)]))
            _ = try requireOutput(await manager.answer(1), id: 1)
            _ = try requireOutput(await manager.answer(2), id: 2)
            XCTAssertEqual(Set(setup.runs), ["mine \(a.path)", "big \(b.path)"], "each slave took only what it allows")
            let waiting = try await setup.admin().list(all: true).first { $0.sectors == 1 && $0.minerID == "2000" && $0.sectorSize == "32GiB" }
            XCTAssertEqual(waiting?.state, .readyToRun, "a 32GiB task of miner 2000 suits neither slave")
            XCTAssertEqual(waiting?.tryNum, 0)
        } catch {
            await setup.stop()
            throw error
        }
        await setup.stop()
    }
}
