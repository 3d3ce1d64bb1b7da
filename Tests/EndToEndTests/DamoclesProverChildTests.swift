import Foundation
import Shared
import XCTest

/// The slaves' side of a damocles cluster: `[[processors.window_post]]`
/// children speaking vc-processors (the stand-in plays `damocles-worker
/// processor window_post`), behind the master played by damocles-manager.
extension DamoclesExtProverTests {
    /// The damocles set-up of `DamoclesExtProverTests` with shorter [task]
    /// times: these tests are about what the slaves do.
    func startForSlaves(heartbeatTimeout: String = "15s") async throws -> Setup {
        try await start(task: ["heartbeat_timeout": heartbeatTimeout, "retry_job_interval": "100ms"])
    }

    func poll(_ what: String, timeout: TimeInterval = 30, _ done: () -> Bool) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while !done() {
            guard Date() < deadline else { throw TestFailure("timed out waiting for \(what)") }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
    }

    func proof(_ sealed: (path: String, contents: Data)...) -> String {
        ProverStandIn.proof(sealed: sealed.map(\.contents), seed: Self.seed)
    }

    func task(_ sealed: (path: String, contents: Data), sector: UInt64) -> Data {
        Self.task(sectors: [(sector, sealed.path)])
    }

    func output(_ answer: [String: Any]?, id: UInt64) throws -> [String] {
        try requireOutput(answer, id: id).proofs
    }

    /// Gone, or a zombie nobody reaped yet: either way it runs no more.
    func isGone(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return true }
        return stat.components(separatedBy: ") ").last?.hasPrefix("Z") == true
    }

    func pid(_ event: [String: Any]) -> Int32 { (event["pid"] as? NSNumber)?.int32Value ?? -1 }

    /// A slave SIGKILLed mid-proof takes its prover along; the master hands
    /// the proof to the other slave and the manager gets one answer.
    func testASlaveKilledMidProofFinishesOnTheOther() async throws {
        let setup = try await startForSlaves(heartbeatTimeout: "2s")
        do {
            let doomed = try setup.startSlave("doomed", processors: setup.processorBlock(name: "doomed", slowSeconds: 600))
            let a = try setup.sealed("s-t01037-1")
            setup.manager.send(id: 1, task: task(a, sector: 1))
            try await poll("the request on the doomed slave's prover") { !setup.events("request", of: "doomed").isEmpty }
            let prover = pid(try XCTUnwrap(setup.events("start", of: "doomed").last))
            try setup.startSlave("rescuer")
            await doomed.stop(SIGKILL)
            let proofs = try output(await setup.manager.answer(1), id: 1)
            XCTAssertEqual(proofs, [proof(a)])
            XCTAssertEqual(setup.runs, ["doomed \(a.path)", "rescuer \(a.path)"])
            try await poll("the doomed slave's prover to die with it", timeout: 10) { isGone(prover) }
            requireOnlyProtocolLines(setup.manager, ids: [1])
        } catch {
            await setup.stop()
            throw error
        }
        await setup.stop()
    }

    /// A prover that exits with a request in flight fails that attempt, is
    /// started again 3 s later, and the retried request is answered once.
    func testAProverExitingMidRequestIsRestartedAndTheRequestRetried() async throws {
        let setup = try await startForSlaves()
        do {
            let mark = setup.cluster.dir.appendingPathComponent("exited-once").path
            let slave = try setup.startSlave("x", processors: setup.processorBlock(
                name: "x", envs: ["PROVER_EXIT_AFTER": "1", "PROVER_EXIT_MARK": mark]))
            let a = try setup.sealed("s-t01037-2")
            setup.manager.send(id: 1, task: task(a, sector: 2))
            let answer = await setup.manager.answer(1)
            XCTAssertEqual(try output(answer, id: 1), [proof(a)])
            let starts = setup.events("start", of: "x"), requests = setup.events("request", of: "x")
            XCTAssertEqual(starts.count, 2, "started again after it exited")
            let exit = try XCTUnwrap(setup.events("exit", of: "x").first?["at"] as? Double)
            let restart = try XCTUnwrap(starts.last?["at"] as? Double)
            XCTAssertGreaterThanOrEqual(restart - exit, 2.5, "auto_restart waits 3 s")
            let ids = requests.compactMap { ($0["id"] as? NSNumber)?.uint64Value }
            XCTAssertEqual(ids.count, 2)
            XCTAssertEqual(ids.first, 1, "ids start at 1")
            XCTAssertGreaterThan(ids.last ?? 0, ids.first ?? 0, "ids are not reset when the child restarts")
            XCTAssertEqual(setup.runs(of: a.path), 1, "the first request never ran")
            XCTAssertTrue(slave.log.contains("child process exited: window_post"), slave.log.suffix(3000).description)
            let jobs = try await setup.admin().list(all: true)
            XCTAssertEqual(jobs.map(\.tryNum), [2], "the exit failed the first attempt")
            requireOnlyProtocolLines(setup.manager, ids: [1])
        } catch {
            await setup.stop()
            throw error
        }
        await setup.stop()
    }

    /// One child per GPU, each with its own envs, at most `concurrent`
    /// requests in flight on each; VC_CG_* with a cpuset; inherit_envs.
    func testEachChildHasItsEnvironmentAndAtMostConcurrentInFlight() async throws {
        let setup = try await startForSlaves()
        do {
            let blocks = setup.processorBlock(name: "gpu0", slowSeconds: 1, concurrent: 1,
                                              envs: ["CUDA_VISIBLE_DEVICES": "0", "TMPDIR": "/tmp/prover0", "PATH": "/usr/local/bin:/usr/bin:/bin"],
                                              extra: "cgroup.cpuset = \"0-1\"\ninherit_envs = false")
                + "\n" + setup.processorBlock(name: "gpu1", slowSeconds: 1, concurrent: 1,
                                              envs: ["CUDA_VISIBLE_DEVICES": "1", "TMPDIR": "/tmp/prover1", "PROVER_NOISE": "1"])
            let slave = try setup.startSlave("box", concurrent: 8, processors: blocks, environment: ["SLAVE_ONLY": "yes"])
            var expected: [UInt64: String] = [:]
            for i in UInt64(1)...6 {
                let s = try setup.sealed("s-t01037-\(i)")
                expected[i] = proof(s)
                setup.manager.send(id: i, task: task(s, sector: i))
            }
            for i in UInt64(1)...6 {
                let answer = await setup.manager.answer(i)
                XCTAssertEqual(try output(answer, id: i), [expected[i]!])
            }
            for name in ["gpu0", "gpu1"] {
                let inflight = setup.events("request", of: name).compactMap { ($0["inflight"] as? NSNumber)?.intValue }
                XCTAssertFalse(inflight.isEmpty, "\(name) proved")
                XCTAssertEqual(inflight.max(), 1, "\(name): at most concurrent = 1 in flight")
            }
            let env0 = try XCTUnwrap(setup.events("start", of: "gpu0").first?["env"] as? [String: Any])
            let env1 = try XCTUnwrap(setup.events("start", of: "gpu1").first?["env"] as? [String: Any])
            XCTAssertEqual(env0["VC_CG_NAME"] as? String, "vc-worker/sub-window_post-\(slave.pid)-0")
            XCTAssertEqual(env0["VC_CG_CPUSET"] as? String, "0-1")
            XCTAssertEqual(env0["CUDA_VISIBLE_DEVICES"] as? String, "0")
            XCTAssertEqual(env0["TMPDIR"] as? String, "/tmp/prover0")
            XCTAssertTrue(env0["SLAVE_ONLY"] is NSNull, "inherit_envs = false: not the slave's environment")
            XCTAssertTrue(env1["VC_CG_NAME"] is NSNull, "no cpuset, no cgroup")
            XCTAssertEqual(env1["CUDA_VISIBLE_DEVICES"] as? String, "1")
            XCTAssertEqual(env1["TMPDIR"] as? String, "/tmp/prover1")
            XCTAssertEqual(env1["SLAVE_ONLY"] as? String, "yes", "inherit_envs defaults to true")
            XCTAssertEqual(setup.events("start").count, 2, "one long-lived child per entry")
            // gpu1 wrote a non-JSON line and an answer to an unknown id before each answer.
            XCTAssertTrue(slave.log.contains("wrote a line that is not a response (not a JSON object); skipped: bellperson: a log line on stdout"),
                          slave.log.suffix(3000).description)
            XCTAssertTrue(slave.log.contains("which is not in flight; dropped"), slave.log.suffix(3000).description)
        } catch {
            await setup.stop()
            throw error
        }
        await setup.stop()
    }

    /// A child whose ready line is wrong, or later than stable_wait, gets no
    /// request; the slave says why and, while none of its children can take
    /// a request, claims no job it could only fail: the proof waits for a slave that can.
    func testAWrongOrLateReadyLineGetsNoRequests() async throws {
        let setup = try await startForSlaves()
        do {
            let wrong = try setup.startSlave("wrong", processors: setup.processorBlock(
                name: "wrong", envs: ["PROVER_READY_LINE": "window_post processor started"]))
            let late = try setup.startSlave("late", processors: setup.processorBlock(
                name: "late", envs: ["PROVER_READY_DELAY": "3"], extra: "stable_wait = \"1s\""))
            try await wrong.waitForLog(containing: #"printed "window_post processor started" where its ready line "window_post processor ready" was due"#)
            try await late.waitForLog(containing: #"no ready line "window_post processor ready" within 1s (stable_wait)"#)
            for slave in [wrong, late] { try await slave.waitForLog(containing: "connected to master") }
            let a = try setup.sealed("s-t01037-3")
            setup.manager.send(id: 1, task: task(a, sector: 3))
            // Both slaves are connected and pull all along; neither asks for window_post jobs.
            try setup.startSlave("good")
            let answer = await setup.manager.answer(1)
            XCTAssertEqual(try output(answer, id: 1), [proof(a)])
            XCTAssertEqual(setup.events("request").map { $0["name"] as? String }, ["good"], "no request reached a child that was not ready")
            let jobs = try await setup.admin().list(all: true)
            XCTAssertEqual(jobs.map(\.tryNum), [1], "no slave without a ready prover took it")
            XCTAssertFalse(wrong.log.contains("job started") || late.log.contains("job started"))
        } catch {
            await setup.stop()
            throw error
        }
        await setup.stop()
    }

    /// Removing a job the prover is working on kills that child (there is no
    /// cancel message) and starts it again at once; it then proves the next.
    func testARemovedJobKillsItsProverWhichStartsAgain() async throws {
        let setup = try await startForSlaves()
        do {
            let slave = try setup.startSlave("r", processors: setup.processorBlock(name: "r", slowSeconds: 600, envs: ["PROVER_HELPER": "1"]))
            let a = try setup.sealed("s-t01037-4")
            setup.manager.send(id: 1, task: task(a, sector: 4))
            try await poll("the request on the prover") { !setup.events("request", of: "r").isEmpty }
            let started = try XCTUnwrap(setup.events("start", of: "r").first)
            let first = pid(started), helper = (started["helper"] as? NSNumber)?.int32Value ?? -1
            let jobs = try await setup.admin().list(all: true)
            let removed = try await setup.admin().remove(jobs.map(\.id))
            XCTAssertEqual(removed, 1)
            _ = try requireError(await setup.manager.answer(1), id: 1)
            try await poll("the prover's process group killed and the prover started again") {
                isGone(first) && isGone(helper) && setup.events("start", of: "r").count == 2
            }
            XCTAssertTrue(slave.log.contains("was aborted"), slave.log.suffix(3000).description)
        } catch {
            await setup.stop()
            throw error
        }
        await setup.stop()
    }

    /// A slave stopping (SIGTERM, nothing running) kills its children's
    /// process groups, helpers included (the parent-death signal alone would
    /// reach only the child itself), and starts none again.
    func testAStoppingSlaveKillsItsProversProcessGroups() async throws {
        let setup = try await startForSlaves()
        do {
            let slave = try setup.startSlave("t", processors: setup.processorBlock(name: "t", envs: ["PROVER_HELPER": "1"]))
            try await slave.waitForLog(containing: "window_post processor ready")
            let start = try XCTUnwrap(setup.events("start", of: "t").first)
            let helper = try XCTUnwrap((start["helper"] as? NSNumber)?.int32Value)
            XCTAssertFalse(isGone(helper))
            let status = await slave.stop(SIGTERM)
            XCTAssertEqual(status, 0, slave.log.suffix(2000).description)
            try await poll("the prover and its helper to be killed", timeout: 10) { isGone(pid(start)) && isGone(helper) }
            XCTAssertEqual(setup.events("start", of: "t").count, 1, "not started again while stopping")
        } catch {
            await setup.stop()
            throw error
        }
        await setup.stop()
    }

    /// A slave stopping with a proof running hands the job back when
    /// shutdown_grace runs out, killing the prover, which stays down.
    func testAStoppingSlaveAbortsItsProofAndStartsNoProverAgain() async throws {
        let setup = try await startForSlaves()
        do {
            let slave = try setup.startSlave("u", processors: setup.processorBlock(name: "u", slowSeconds: 600, envs: ["PROVER_HELPER": "1"]))
            let a = try setup.sealed("s-t01037-5")
            setup.manager.send(id: 1, task: task(a, sector: 5))
            try await poll("the request on the prover") { !setup.events("request", of: "u").isEmpty }
            let start = try XCTUnwrap(setup.events("start", of: "u").first)
            let status = await slave.stop(SIGTERM)
            XCTAssertEqual(status, 0, slave.log.suffix(2000).description)
            try await poll("the prover and its helper to be killed", timeout: 10) { isGone(pid(start)) && isGone((start["helper"] as? NSNumber)?.int32Value ?? -1) }
            XCTAssertTrue(slave.log.contains("released 1 unfinished job(s)"), slave.log.suffix(2000).description)
            XCTAssertEqual(setup.events("start", of: "u").count, 1, "the abort at shutdown starts no prover again")
        } catch {
            await setup.stop()
            throw error
        }
        await setup.stop()
    }
}
