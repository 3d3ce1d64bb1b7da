import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Shared
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Yield on rent (DBC.md §1): a slave on a DBC machine hears its node's
/// `renting` / `empty` broadcasts and gives the machine back within seconds.
final class DBCRentTests: XCTestCase {
    let node = String(repeating: "5e", count: 32)
    let otherNode = String(repeating: "77", count: 32)

    /// The UDP port the slave's rent listener bound (it was given port 0).
    func rentPort(_ slave: Proc) async throws -> Int {
        try await slave.waitForLog(containing: "listening for DBC rent announcements")
        let line = try XCTUnwrap(Proc.line(containing: "listening for DBC rent announcements", in: slave.log))
        let address = try XCTUnwrap(line.components(separatedBy: " on ").last?.split(separator: ";").first)
        return try XCTUnwrap(Int(address.split(separator: ":").last ?? ""))
    }

    /// One datagram to the slave's listener, from `source` (a loopback address).
    func send(_ bytes: [UInt8], to port: Int, from source: String = "127.0.0.1") throws {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        var local = sockaddr_in()
        local.sin_family = sa_family_t(AF_INET)
        local.sin_addr.s_addr = inet_addr(source)
        let bound = withUnsafePointer(to: &local) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0 else { throw TestFailure("bind \(source): errno \(errno)") }
        var to = sockaddr_in()
        to.sin_family = sa_family_t(AF_INET)
        to.sin_port = in_port_t(UInt16(port).bigEndian)
        to.sin_addr.s_addr = inet_addr("127.0.0.1")
        let sent = bytes.withUnsafeBytes { buf in
            withUnsafePointer(to: &to) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, buf.baseAddress, bytes.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        }
        guard sent == bytes.count else { throw TestFailure("sendto: errno \(errno)") }
    }

    /// What DBC's node broadcasts, byte for byte.
    func announcement(_ status: String, node: String) -> [UInt8] {
        Array(Data("{\"node_id\":\"\(node)\", \"status\":\"\(status)\"}".utf8).base64EncodedString().utf8)
    }

    /// `wdpost slaves`' State column for the slave `name`, and its JSON `rented`.
    func slaveState(_ cluster: TestCluster, _ name: String) throws -> (state: String, rented: Bool?) {
        let table = try cluster.cli(["slaves"])
        let row = table.out.split(separator: "\n").first { $0.hasPrefix(name + " ") }.map { $0.split(separator: " ").map(String.init) }
        let json = try cluster.cli(["slaves", "--json"])
        let slaves = try JSONDecoder().decode([SlaveInfo].self, from: Data(json.out.utf8))
        return (row?.last ?? "(no row: \(table.out) \(table.err))", slaves.first { $0.name == name }?.rented)
    }

    func awaitState(_ cluster: TestCluster, _ name: String, _ state: String, timeout: TimeInterval = 30) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        var last = try slaveState(cluster, name)
        while last.state != state {
            guard Date() < deadline else { throw TestFailure("\(name) is \(last), not \(state)") }
            try await Task.sleep(nanoseconds: 50_000_000)
            last = try slaveState(cluster, name)
        }
        XCTAssertEqual(last.rented, state == "rented")
    }

    func testARentedSlaveKillsItsJobsWithinTwoSecondsAndAnotherRunsThemWithoutASpentTry() async throws {
        // One try each: a release counted as a failed attempt would end the job Failed.
        let cluster = try TestCluster(task: ["max_retry": "1"])
        cluster.metrics = true
        try await cluster.startMaster()
        let pids = cluster.dir.appendingPathComponent("pids")
        try FileManager.default.createDirectory(at: pids, withIntermediateDirectories: true)
        // Sleeps for the job's input in seconds (CAP, when set, instead).
        let long = try cluster.shellScript("long.sh", """
            read secs
            [ -n "$CAP" ] && secs=$CAP
            echo $$ > "$PIDS/$SLAVE-$WDPOST_JOB_ID.pid"
            exec sleep "$secs"
            """)
        func processor(_ slave: String, _ envs: String) -> String {
            "kinds = []\n[[processors.long]]\nbin = \"\(long)\"\nconcurrent = 2\nenvs = { SLAVE = \"\(slave)\", PIDS = \"\(pids.path)\"\(envs) }"
        }
        let dbc = try cluster.startSlave("dbc", extra: processor("dbc", "") + "\n[dbc]\nnode_id = \"\(node)\"\nrent_listen = \"127.0.0.1:0\"")
        try await cluster.use {
            let port = try await rentPort(dbc)
            let ids = try await cluster.client().submit((0..<2).map { _ in NewJob(kind: "long", input: Data("600\n".utf8)) })
            var running: [Int32] = []
            for id in ids { running.append(try await cluster.awaitPid(in: pids.appendingPathComponent("dbc-\(id).pid").path)) }
            let other = try cluster.startSlave("other", extra: processor("other", ", CAP = \"0.2\""))
            try await other.waitForLog(containing: "connected to master")
            XCTAssertEqual(try slaveState(cluster, "dbc").state, "working")

            try send(announcement("renting", node: node), to: port)
            let deadline = Date().addingTimeInterval(2)
            while Date() < deadline, running.contains(where: ProcessorTests.isAlive) { try await Task.sleep(nanoseconds: 20_000_000) }
            XCTAssertEqual(running.filter(ProcessorTests.isAlive), [], "the rented slave's processors are gone within 2 s")
            var onDBC = ids
            while Date() < deadline, !onDBC.isEmpty {
                onDBC = try await cluster.client().list(all: true).filter { $0.state == .running && $0.worker == "dbc" }.map(\.id)
            }
            XCTAssertEqual(onDBC, [], "no job runs on the rented slave within 2 s")

            let done = try await cluster.waitFor("the jobs to end on the other slave") { jobs in
                ids.allSatisfy { id in jobs.contains { $0.id == id && [.succeed, .failed].contains($0.state) } }
            }
            for id in ids {
                let job = try XCTUnwrap(done.first { $0.id == id })
                XCTAssertEqual(job.state, .succeed, job.error)
                XCTAssertEqual(job.worker, "other")
                XCTAssertEqual(job.tryNum, 1, "the yield spent no try")
            }
            try await awaitState(cluster, "dbc", "rented")
            XCTAssertEqual(try slaveState(cluster, "other").state, "working")
            XCTAssertTrue(dbc.isRunning, "rented, not gone: it stays connected")
            let base = try XCTUnwrap(cluster.metricsURL)
            let metrics = try await fetch(base + "metrics")
            XCTAssertTrue(metrics.contains("\nwdpost_rented_slaves 1\n"), metrics)
            let page = try await fetch(base)
            XCTAssertTrue(page.contains("<td>dbc</td>") && page.contains("<td>rented</td>"), page)

            try send(announcement("empty", node: node), to: port)
            try await awaitState(cluster, "dbc", "working")
            let after = try await fetch(base + "metrics")
            XCTAssertTrue(after.contains("\nwdpost_rented_slaves 0\n"), after)

            // Working again: a job pinned to it runs there; meanwhile another
            // node's announcement and garbage change nothing.
            let pinned = try await cluster.client().submit([NewJob(kind: "long", input: Data("3\n".utf8), worker: "dbc")])[0]
            let pid = try await cluster.awaitPid(in: pids.appendingPathComponent("dbc-\(pinned).pid").path)
            for _ in 0..<2 {
                try send(announcement("renting", node: otherNode), to: port)
                try send(Array("garbage".utf8), to: port, from: "127.0.0.2")
            }
            try await dbc.waitForLog(containing: "ignoring an announcement for another node (\(otherNode)) from 127.0.0.1")
            try await dbc.waitForLog(containing: "is not a DBC rent announcement: not standard base64 from 127.0.0.2")
            XCTAssertTrue(ProcessorTests.isAlive(pid))
            let job = try await cluster.waitFor("the pinned job") { $0.contains { $0.id == pinned && [.succeed, .failed].contains($0.state) } }.first { $0.id == pinned }
            XCTAssertEqual(job?.state, .succeed, job?.error ?? "")
            XCTAssertEqual(job?.tryNum, 1)
            XCTAssertEqual(dbc.log.components(separatedBy: "ignoring ").count - 1, 2, "logged once per sender:\n\(dbc.log)")
            XCTAssertEqual(try slaveState(cluster, "dbc").state, "working")
        }
    }

    /// The GPUs are given back even while the master cannot be reached; the
    /// jobs are handed back once it can, before the slave's first pull.
    func testARentedSlaveKillsItsJobsWithoutItsMasterAndHandsThemBackOnReconnecting() async throws {
        // Expiry by heartbeat would spend the only try: the release must come first.
        let cluster = try TestCluster(task: ["max_retry": "1", "heartbeat_timeout": "\"60s\""])
        try await cluster.startMaster()
        let pids = cluster.dir.appendingPathComponent("pids")
        try FileManager.default.createDirectory(at: pids, withIntermediateDirectories: true)
        let long = try cluster.shellScript("long.sh", """
            read secs
            [ -n "$CAP" ] && secs=$CAP
            echo $$ > "$PIDS/$SLAVE-$WDPOST_JOB_ID.pid"
            exec sleep "$secs"
            """)
        func processor(_ slave: String, _ envs: String) -> String {
            "kinds = []\n[[processors.long]]\nbin = \"\(long)\"\nenvs = { SLAVE = \"\(slave)\", PIDS = \"\(pids.path)\"\(envs) }"
        }
        let dbc = try cluster.startSlave("dbc", concurrent: 1, extra: processor("dbc", "") + "\n[dbc]\nnode_id = \"\(node)\"\nrent_listen = \"127.0.0.1:0\"")
        try await cluster.use {
            let port = try await rentPort(dbc)
            let id = try await cluster.client().submit([NewJob(kind: "long", input: Data("600\n".utf8))])[0]
            let pid = try await cluster.awaitPid(in: pids.appendingPathComponent("dbc-\(id).pid").path)
            _ = await cluster.master?.stop()
            try send(announcement("renting", node: node), to: port)
            let deadline = Date().addingTimeInterval(2)
            while Date() < deadline, ProcessorTests.isAlive(pid) { try await Task.sleep(nanoseconds: 20_000_000) }
            XCTAssertFalse(ProcessorTests.isAlive(pid), "killed within 2 s with no master to tell")
            try await cluster.startMaster()
            try cluster.startSlave("other", extra: processor("other", ", CAP = \"0.2\""))
            let done = try await cluster.waitFor("the job to end on the other slave") { $0.contains { $0.id == id && [.succeed, .failed].contains($0.state) } }
            let job = try XCTUnwrap(done.first { $0.id == id })
            XCTAssertEqual(job.state, .succeed, job.error)
            XCTAssertEqual(job.worker, "other")
            XCTAssertEqual(job.tryNum, 1)
            try await awaitState(cluster, "dbc", "rented")
        }
    }

    func fetch(_ url: String) async throws -> String {
        let (data, _) = try await URLSession.shared.data(from: URL(string: url)!)
        return String(decoding: data, as: UTF8.self)
    }

    func testWithAChainEmptyIsObeyedOnlyOnceTheChainSaysOnline() async throws {
        let chain = try FakeChainNode(machineID: node, status: "rented")
        let cluster = try TestCluster()
        try await cluster.startMaster()
        let dbc = try cluster.startSlave("dbc", extra: """
            [dbc]
            node_id = "\(node)"
            rent_listen = "127.0.0.1:0"
            chain_rpc = "\(chain.url)"
            chain_poll_interval = "100ms"
            """)
        func pinnedNoop() async throws -> String {
            try await cluster.client().submit([NewJob(kind: JobKind.noop, input: Data("{}".utf8), worker: "dbc")])[0]
        }
        func state(_ id: String) async throws -> Job? { try await cluster.client().list(all: true).first { $0.id == id } }
        try await cluster.use {
            let port = try await rentPort(dbc)
            // Started while the chain says rented: it takes nothing until the chain says online.
            let first = try await pinnedNoop()
            try await awaitState(cluster, "dbc", "rented")
            try await chain.awaitRequests(chain.requests + 3)
            let waiting = try await state(first)
            XCTAssertEqual(waiting?.state, .readyToRun)
            chain.status = "online"
            try await cluster.waitFor("the first job") { $0.contains { $0.id == first && $0.state == .succeed } }
            try await awaitState(cluster, "dbc", "working")

            // Renting is obeyed unconfirmed; a forged empty is not.
            chain.status = "rented"
            try send(announcement("renting", node: node), to: port)
            try await awaitState(cluster, "dbc", "rented")
            let second = try await pinnedNoop()
            let asked = chain.requests
            try send(announcement("empty", node: node), to: port)
            try await chain.awaitRequests(asked + 3)
            chain.status = "committeeVerifying"
            try await chain.awaitRequests(chain.requests + 2)
            let held = try await state(second)
            XCTAssertEqual(held?.state, .readyToRun, "a forged empty resumed nothing")
            XCTAssertEqual(try slaveState(cluster, "dbc").state, "rented")
            chain.status = "online"
            try await cluster.waitFor("the second job") { $0.contains { $0.id == second && $0.state == .succeed } }
            try await awaitState(cluster, "dbc", "working")
            XCTAssertEqual(chain.violations, [])
            XCTAssertTrue(dbc.log.contains("the chain says the machine is rented, not online"), dbc.log)
        }
    }
}
