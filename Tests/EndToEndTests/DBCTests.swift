import Foundation
import Shared
import XCTest

/// DeepBrainChain verification through a real master and real slaves, with a
/// block time of 1 ms: the chain's 48 hours are 28.8 s.
final class DBCTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Builds the stand-in CUDA library of Tests/ckernels (one fake GPU, its own
    /// kernel implementation), so the machine under test has a GPU on a box without one.
    func buildFakeCUDA(into dir: URL) throws -> URL {
        let out = dir.appendingPathComponent("libfake_cuda.so")
        let cc = Process()
        cc.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        let src = Self.root.appendingPathComponent("Sources/CKernels")
        cc.arguments = [ProcessInfo.processInfo.environment["CC"] ?? "cc", "-std=c11", "-O2", "-shared", "-fPIC",
                        "-I", src.appendingPathComponent("include").path, "-I", src.path, "-o", out.path,
                        Self.root.appendingPathComponent("Tests/ckernels/fake_cuda.c").path, "-lcrypto"]
        try cc.run()
        cc.waitUntilExit()
        guard cc.terminationStatus == 0 else { throw TestFailure("cannot build the fake CUDA library (cc exit \(cc.terminationStatus))") }
        return out
    }

    /// Polls `wdpost dbc status` over the admin RPC until `done` holds.
    @discardableResult
    func waitForDBC(_ cluster: TestCluster, machine: String, _ what: String, timeout: TimeInterval = 90,
                    _ done: (DBCStatus) -> Bool) async throws -> DBCStatus {
        let deadline = Date().addingTimeInterval(timeout)
        var last: DBCStatus?
        while Date() < deadline {
            if let status = try? await cluster.client().dbcStatus(machine: machine) {
                last = status
                if done(status) { return status }
            }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        throw TestFailure("timed out waiting for \(what); last order: \(String(describing: last?.orders.last))\nmaster log tail:\n\(cluster.masterLogs.suffix(3000))")
    }

    /// The acceptance run: two slaves, one of them the machine under test,
    /// three automatic members. The GPU box is Confirmed; the CPU-only box,
    /// verified at the same time, is Refused by all three (it has no GPU).
    func testThreeAutomaticMembersConfirmTheGPUMachineAndRefuseTheCPUOnlyOne() async throws {
        let cluster = try TestCluster(dbc: """
            committee = ["alice", "bob", "carol"]
            block_time = "1ms"
            """)
        try await cluster.use {
            let fake = try buildFakeCUDA(into: cluster.dir)
            let data = cluster.dir.appendingPathComponent("data")
            try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
            try await cluster.startMaster()
            try cluster.startSlave("gpu-box", extra: "data_path = \"\(data.path)\"",
                                   environment: ["WDPOST_CUDA_LIB": fake.path, "WDFAKE_DEVICES": "1"])
            try cluster.startSlave("cpu-box", extra: "data_path = \"\(data.path)\"", environment: ["WDPOST_NO_GPU": "1"])

            let verify = try cluster.cli(["dbc", "verify", "--machine", "gpu-box"])
            XCTAssertEqual(verify.status, 0, verify.err)
            XCTAssertTrue(verify.out.contains("Order ") && verify.out.contains("SubmittingHash"), verify.out)
            let again = try cluster.cli(["dbc", "verify", "--machine", "gpu-box"])
            XCTAssertNotEqual(again.status, 0)
            XCTAssertTrue(again.err.contains("already has an open order"), again.err)
            let cpuVerify = try cluster.cli(["dbc", "verify", "--machine", "cpu-box"])
            XCTAssertEqual(cpuVerify.status, 0, cpuVerify.err)

            let confirmed = try await waitForDBC(cluster, machine: "gpu-box", "the GPU box to be summarised") {
                $0.orders.last?.summary != nil
            }
            let order = try XCTUnwrap(confirmed.orders.last)
            let summary = try XCTUnwrap(order.summary)
            XCTAssertEqual(summary.result, .confirmed, "\(order)")
            XCTAssertEqual(summary.valid, ["alice", "bob", "carol"])
            XCTAssertEqual(summary.invalid, [])
            XCTAssertEqual(summary.unruly, [])
            XCTAssertEqual(order.round, 1)
            let info = try XCTUnwrap(summary.info)
            XCTAssertEqual(info.gpuType, "wdpostfakeGPU")
            XCTAssertEqual(info.gpuNum, 1)
            XCTAssertEqual(info.gpuMem, 8)
            XCTAssertEqual(info.cudaCore, 1280, "10 SMs × 128 cores (compute capability 8.6)")
            XCTAssertEqual(info.machineID, DBCMachineID.default(for: "gpu-box"))
            XCTAssertTrue(info.isSupport)
            XCTAssertEqual(info.randStr, "", "the summary compares infos without rand_str")
            for m in order.members {
                XCTAssertNotNil(m.hash, m.name)
                XCTAssertNotNil(m.info, m.name)
                // Each member's probe started in its own first slot; hashes were committed before any reveal.
                XCTAssertGreaterThanOrEqual(try XCTUnwrap(m.hashedAt), m.slots[0])
                XCTAssertLessThanOrEqual(try XCTUnwrap(m.hashedAt), try XCTUnwrap(order.members.compactMap(\.revealedAt).min()))
                XCTAssertEqual(m.info?.randStr.count, 16, "a fresh random rand_str per probe")
                XCTAssertEqual(m.info?.hashHex, m.hash)
            }
            XCTAssertEqual(Set(order.members.compactMap(\.hash)).count, 3, "hashes all differ")
            XCTAssertNil(order.members.first { $0.held != nil }, "held infos are not shown")

            // The probes ran on the machine under test only.
            let jobs = try await cluster.client().list(all: true).filter { $0.kind == JobKind.dbcVerify }
            let gpuJobs = jobs.filter { $0.pin == "gpu-box" }
            XCTAssertEqual(gpuJobs.count, 3)
            XCTAssertTrue(gpuJobs.allSatisfy { $0.worker == "gpu-box" && $0.state == .succeed }, "\(gpuJobs.map { ($0.worker, $0.state) })")
            XCTAssertTrue(jobs.filter { $0.pin == "cpu-box" }.allSatisfy { $0.worker == "cpu-box" || $0.worker.isEmpty })

            // The operator's view.
            let status = try cluster.cli(["dbc", "status", "--machine", "gpu-box"])
            XCTAssertEqual(status.status, 0, status.err)
            for part in ["Machine gpu-box", "Result: Confirmed", "valid: alice, bob, carol", "unruly: -", "alice", "automatic",
                         "Verify slots", "#0 block", "#3 block", "#6 block", "\"gpu_type\": \"wdpostfakeGPU\"", order.id] {
                XCTAssertTrue(status.out.contains(part), "status should show \(part):\n\(status.out)")
            }

            let refused = try await waitForDBC(cluster, machine: "cpu-box", "the CPU-only box to be summarised") {
                $0.orders.last?.summary != nil
            }
            XCTAssertEqual(refused.orders.last?.summary?.result, .refused, "no GPU: every member refuses, and refusals agree")
            XCTAssertEqual(refused.orders.last?.summary?.valid, ["alice", "bob", "carol"])

            let all = try cluster.cli(["dbc", "status"])
            XCTAssertEqual(all.status, 0, all.err)
            XCTAssertTrue(all.out.contains("gpu-box") && all.out.contains("Confirmed") && all.out.contains("cpu-box") && all.out.contains("Refused"), all.out)
        }
    }

    func exampleInfo(machineID: String, rand: String) -> MachineInfo {
        MachineInfo(machineID: machineID, gpuType: "GeForceRTX3080", gpuNum: 4, cudaCore: 8704, gpuMem: 10, calcPoint: 59890,
                    sysDisk: 500, dataDisk: 3905, cpuType: "Intel(R) Xeon(R) Silver 4214R", cpuCoreNum: 46, cpuRate: 2400,
                    memNum: 440, randStr: rand, isSupport: true)
    }

    /// Manual members through the command line, across the windows and a
    /// master restart; and a machine nobody verifies, re-booked at 48 h.
    func testManualMembersWindowsRestartAndRebooking() async throws {
        let cluster = try TestCluster(dbc: """
            committee = ["alice", "bob", "carol", "dave"]
            manual = ["alice", "bob", "carol", "dave"]
            block_time = "1ms"
            """)
        try await cluster.use {
            try await cluster.startMaster()
            let booked = try await cluster.client().dbcVerify(machine: "box")
            _ = try await cluster.client().dbcVerify(machine: "idle-box")
            let order = try XCTUnwrap(booked.orders.last)
            let (a, b, c) = (order.members[0].name, order.members[1].name, order.members[2].name)
            let infoA = exampleInfo(machineID: order.machineID, rand: "rand-\(a)")
            let infoB = exampleInfo(machineID: order.machineID, rand: "rand-\(b)")
            let fileA = try cluster.write("a.json", infoA.json())
            let fileB = try cluster.write("b.json", infoB.json())

            let hashA = try cluster.cli(["dbc", "hash", "--info", fileA.path], admin: false)
            XCTAssertEqual(hashA.status, 0, hashA.err)
            XCTAssertEqual(hashA.out.trimmingCharacters(in: .whitespacesAndNewlines), infoA.hashHex)
            var r = try cluster.cli(["dbc", "submit-hash", "--machine", "box", "--member", a, infoA.hashHex])
            XCTAssertEqual(r.status, 0, r.err)
            r = try cluster.cli(["dbc", "submit-hash", "--machine", "box", "--member", b, infoB.hashHex])
            XCTAssertEqual(r.status, 0, r.err)
            // A hash sent twice: by the same member, and by another member.
            r = try cluster.cli(["dbc", "submit-hash", "--machine", "box", "--member", b, infoB.hashHex])
            XCTAssertNotEqual(r.status, 0)
            XCTAssertTrue(r.err.contains("already submitted a hash"), r.err)
            r = try cluster.cli(["dbc", "submit-hash", "--machine", "box", "--member", c, infoA.hashHex])
            XCTAssertNotEqual(r.status, 0)
            XCTAssertTrue(r.err.contains("already submitted by another member"), r.err)
            let outsider = ["alice", "bob", "carol", "dave"].first { ![a, b, c].contains($0) }!
            r = try cluster.cli(["dbc", "submit-hash", "--machine", "box", "--member", outsider, exampleInfo(machineID: order.machineID, rand: "x").hashHex])
            XCTAssertNotEqual(r.status, 0)
            XCTAssertTrue(r.err.contains("not booked"), r.err)
            // A reveal before its window (c has not hashed, so the window waits for 36 h).
            r = try cluster.cli(["dbc", "submit-raw", "--machine", "box", "--member", a, "--info", fileA.path])
            XCTAssertNotEqual(r.status, 0)
            XCTAssertTrue(r.err.contains("raw infos are accepted from block"), r.err)

            // The master restarts in the middle of the order: nothing is lost.
            await cluster.master?.stop()
            try await cluster.startMaster()
            let afterRestart = try await cluster.client().dbcStatus(machine: "box")
            XCTAssertEqual(afterRestart.orders.last?.members.map(\.hash), [infoA.hashHex, infoB.hashHex, nil])

            // 36 h after booking the window opens.
            try await waitForDBC(cluster, machine: "box", "the raw window to open") { $0.height >= order.rawOpensAt }
            // A reveal that does not match its hash.
            r = try cluster.cli(["dbc", "submit-raw", "--machine", "box", "--member", a, "--info", fileB.path])
            XCTAssertNotEqual(r.status, 0)
            XCTAssertTrue(r.err.contains("not to \(a)'s committed hash"), r.err)
            r = try cluster.cli(["dbc", "submit-raw", "--machine", "box", "--member", a, "--info", fileA.path])
            XCTAssertEqual(r.status, 0, r.err)
            r = try cluster.cli(["dbc", "submit-raw", "--machine", "box", "--member", b, "--info", fileB.path])
            XCTAssertEqual(r.status, 0, r.err)
            // Everyone who hashed has revealed: summarised at once.
            let done = try await cluster.client().dbcStatus(machine: "box")
            let summary = try XCTUnwrap(done.orders.last?.summary)
            XCTAssertEqual(summary.result, .confirmed)
            XCTAssertEqual(summary.valid, [a, b].sorted())
            XCTAssertEqual(summary.unruly, [c])
            let text = try cluster.cli(["dbc", "status", "--machine", "box"])
            XCTAssertTrue(text.out.contains("Result: Confirmed") && text.out.contains("unruly: \(c)") && text.out.contains("manual"), text.out)

            // Nobody acted on idle-box: at 48 h no consensus, all three unruly, booked again.
            let rebooked = try await waitForDBC(cluster, machine: "idle-box", "idle-box to be booked again") { $0.orders.count == 2 }
            let first = rebooked.orders[0], second = rebooked.orders[1]
            XCTAssertEqual(first.summary?.result, .noConsensus)
            XCTAssertEqual(first.summary?.unruly, first.members.map(\.name).sorted())
            XCTAssertEqual(second.round, 2)
            XCTAssertEqual(second.status, .submittingHash)
            XCTAssertEqual(second.machineID, first.machineID)
            XCTAssertGreaterThanOrEqual(second.bookedAt, first.rawClosesAt)
            let history = try cluster.cli(["dbc", "status", "--machine", "idle-box"])
            XCTAssertTrue(history.out.contains("History:") && history.out.contains("NoConsensus") && history.out.contains("round 2"), history.out)
        }
    }

    func testAutomaticMembersRefuseManualSubmissionsAndVerificationNeedsACommittee() async throws {
        let cluster = try TestCluster(dbc: "committee = [\"alice\", \"bob\", \"carol\"]\nblock_time = \"1ms\"")
        try await cluster.use {
            try await cluster.startMaster()
            _ = try await cluster.client().dbcVerify(machine: "box")
            let r = try cluster.cli(["dbc", "submit-hash", "--machine", "box", "--member", "alice", "0x" + String(repeating: "ab", count: 16)])
            XCTAssertNotEqual(r.status, 0)
            XCTAssertTrue(r.err.contains("automatic member"), r.err)
            let unknown = try cluster.cli(["dbc", "status", "--machine", "nowhere"])
            XCTAssertNotEqual(unknown.status, 0)
            XCTAssertTrue(unknown.err.contains("has no DBC order"), unknown.err)
        }

        let off = try TestCluster()
        do {
            try await off.startMaster()
            let r = try off.cli(["dbc", "verify", "--machine", "box"])
            XCTAssertNotEqual(r.status, 0)
            XCTAssertTrue(r.err.contains("[dbc] committee is empty"), r.err)
        } catch {
            await off.shutdown()
            throw error
        }
        await off.shutdown()
    }
}
