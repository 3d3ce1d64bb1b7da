import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Shared
import XCTest

/// `wdpost dbc doctor` through the real binary on made-up machine trees, and
/// `--slaves` through a real master and two slaves, each on its own tree.
final class DBCDoctorTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("wdpost-doctor-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    struct Check: Decodable {
        var check: String
        var ok: Bool
        var detail: String
        var fix: String
    }

    func wdpost(_ args: [String]) throws -> (status: Int32, out: String, err: String) {
        try TestCluster.run(program: TestCluster.findBinary().path, args)
    }

    func doctor(_ tree: MachineTreeFixture, libvirtPort: Int, json: Bool = false, nodeDat: Bool = true) throws -> (status: Int32, out: String, err: String) {
        try wdpost(["dbc", "doctor", "--root", tree.root.path, "--libvirt", "127.0.0.1:\(libvirtPort)"]
                   + (nodeDat ? ["--node-dat", tree.nodeDat.path] : []) + (json ? ["--json"] : []))
    }

    /// The verdict column of each check's row in the text report.
    func verdicts(_ text: String) -> [String: String] {
        var out: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let cells = line.split(separator: " ", omittingEmptySubsequences: true)
            if cells.count >= 2, DoctorCheck.names.contains(String(cells[0])) { out[String(cells[0])] = String(cells[1]) }
        }
        return out
    }

    /// A stand-in for libvirtd's TCP port that accepts and drops every connection
    /// (unaccepted ones would fill its backlog), until the test ends.
    func libvirtStandIn() throws -> Listener {
        let listener = try Listener()
        let fd = listener.fd
        Thread.detachNewThread {
            while true {
                let client = Glibc.accept(fd, nil, nil)
                if client < 0 { return }
                close(client)
            }
        }
        addTeardownBlock { shutdown(fd, Int32(SHUT_RDWR)) }
        return listener
    }

    func testEveryCheckPassesOnAReadyMachineAndEachBreakFailsOnlyItsCheck() throws {
        let libvirt = try libvirtStandIn()
        let ready = try MachineTreeFixture(in: dir.appendingPathComponent("ready"))
        let r = try doctor(ready, libvirtPort: libvirt.port)
        XCTAssertEqual(r.status, 0, r.out + r.err)
        XCTAssertEqual(verdicts(r.out), Dictionary(uniqueKeysWithValues: DoctorCheck.names.map { ($0, "pass") }), r.out)
        XCTAssertTrue(r.out.contains("ready: every check passed"), r.out)
        XCTAssertTrue(r.out.contains("10de:1aef") && r.out.contains("/dev/sdb"), "says what it saw: \(r.out)")
        let j = try doctor(ready, libvirtPort: libvirt.port, json: true)
        XCTAssertEqual(j.status, 0, j.err)
        let report = try JSONDecoder().decode([Check].self, from: Data(j.out.utf8))
        XCTAssertEqual(report.map(\.check), DoctorCheck.names)
        XCTAssertTrue(report.allSatisfy { $0.ok && !$0.detail.isEmpty && !$0.fix.isEmpty }, j.out)

        // Without --node-dat, node_dat is reported as not checked, which is no failure.
        let bare = try doctor(ready, libvirtPort: libvirt.port, nodeDat: false)
        XCTAssertEqual(bare.status, 0, bare.out)
        XCTAssertEqual(verdicts(bare.out)["node_dat"], "skip", bare.out)

        for name in DoctorCheck.names {
            let tree = try MachineTreeFixture(in: dir.appendingPathComponent("broken-\(name)"))
            try tree.breakCheck(name)
            let text = try doctor(tree, libvirtPort: libvirt.port)
            XCTAssertEqual(text.status, 1, "\(name): \(text.out)")
            var expected = Dictionary(uniqueKeysWithValues: DoctorCheck.names.map { ($0, "pass") })
            expected[name] = "FAIL"
            XCTAssertEqual(verdicts(text.out), expected, "only \(name) fails:\n\(text.out)")
            XCTAssertTrue(text.out.contains("not ready: 1 of 11 checks failed (\(name))"), text.out)
            let json = try doctor(tree, libvirtPort: libvirt.port, json: true)
            XCTAssertEqual(json.status, 1, name)
            let checks = try JSONDecoder().decode([Check].self, from: Data(json.out.utf8))
            XCTAssertEqual(checks.filter { !$0.ok }.map(\.check), [name], json.out)
            let failed = try XCTUnwrap(checks.first { $0.check == name })
            // The row shows the guide's fix for what failed.
            XCTAssertTrue(text.out.contains("  \(name): \(failed.fix)"), text.out)
        }

        // Nothing listening on libvirt's port fails libvirt_tcp alone.
        let closedPort = try Listener().port
        let closed = try doctor(ready, libvirtPort: closedPort, json: true)
        XCTAssertEqual(closed.status, 1)
        let checks = try JSONDecoder().decode([Check].self, from: Data(closed.out.utf8))
        XCTAssertEqual(checks.filter { !$0.ok }.map(\.check), ["libvirt_tcp"], closed.out)
        XCTAssertTrue(checks.first { $0.check == "libvirt_tcp" }!.detail.contains("nothing answers on 127.0.0.1:\(closedPort)"), closed.out)

        // The doctor only reads: the tree is as it was.
        let before = try FileManager.default.subpathsOfDirectory(atPath: ready.root.path).sorted()
        _ = try doctor(ready, libvirtPort: libvirt.port)
        XCTAssertEqual(try FileManager.default.subpathsOfDirectory(atPath: ready.root.path).sorted(), before)

        let bad = try wdpost(["dbc", "doctor", "--root", dir.appendingPathComponent("nowhere").path])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.err.contains("--root") && bad.err.contains("not a directory"), bad.err)
        let badAddress = try wdpost(["dbc", "doctor", "--libvirt", "localhost"])
        XCTAssertTrue(badAddress.err.contains("expected HOST:PORT"), badAddress.err)
    }

    struct Row: Decodable {
        var machine: String
        var ok: Bool
        var failing: [String]
        var note: String
    }

    func testSlavesEachRunTheDoctorOnTheirOwnTreeAndTheRowsShowWhoIsNotReady() async throws {
        let cluster = try TestCluster()
        try await cluster.use {
            let libvirt = try libvirtStandIn()
            let a = try MachineTreeFixture(in: cluster.dir.appendingPathComponent("box-a"))
            let b = try MachineTreeFixture(in: cluster.dir.appendingPathComponent("box-b"))
            try b.breakCheck("iommu")
            try b.breakCheck("images")
            try await cluster.startMaster()
            // The master's config now holds its real port, for `-c master.toml`.
            let masterConfig = try cluster.writeMasterConfig().path
            try cluster.startSlave("box-a", concurrent: 1, extra: "\n[dbc]\ndoctor_root = \"\(a.root.path)\"")
            try cluster.startSlave("box-b", concurrent: 1, extra: "\n[dbc]\ndoctor_root = \"\(b.root.path)\"")
            try await waitForSlaves(cluster, ["box-a", "box-b"])
            let args = ["dbc", "doctor", "--slaves", "-c", masterConfig, "--libvirt", "127.0.0.1:\(libvirt.port)"]

            var r = try cluster.run(args)
            XCTAssertEqual(r.status, 1, r.out + r.err)
            let lines = r.out.split(separator: "\n").map(String.init)
            XCTAssertTrue(lines.contains { $0.hasPrefix("box-a") && $0.contains("yes") }, r.out)
            XCTAssertTrue(lines.contains { $0.hasPrefix("box-b") && $0.contains("NO") && $0.contains("iommu, images") }, r.out)
            XCTAssertTrue(r.out.contains("1 of 2 machines ready"), r.out)
            r = try cluster.run(args + ["--json"])
            XCTAssertEqual(r.status, 1)
            let rows = try JSONDecoder().decode([Row].self, from: Data(r.out.utf8))
            XCTAssertEqual(rows.map(\.machine), ["box-a", "box-b"])
            XCTAssertEqual(rows.map(\.ok), [true, false])
            XCTAssertEqual(rows[1].failing, ["iommu", "images"])
            let jobs = try await cluster.client().list(all: true).filter { $0.kind == JobKind.dbcDoctor }
            XCTAssertEqual(jobs.count, 4, "one pinned job per slave and run")
            XCTAssertTrue(jobs.allSatisfy { $0.state == .succeed && $0.pin == $0.worker }, "\(jobs.map { ($0.pin, $0.worker, $0.state) })")
            XCTAssertEqual(Set(jobs.map(\.worker)), ["box-a", "box-b"])

            // The operator fixes box-b: every machine is ready.
            _ = try MachineTreeFixture(in: cluster.dir.appendingPathComponent("box-b"))
            r = try cluster.run(args)
            XCTAssertEqual(r.status, 0, r.out + r.err)
            XCTAssertTrue(r.out.contains("2 of 2 machines ready"), r.out)

            // box-a is busy with its only slot: it does not answer in time, which is a failure too,
            // and the late doctor job is removed rather than run later.
            _ = try await cluster.client().submit([NewJob(kind: JobKind.noop, input: Data("{\"sleep_ms\": 60000}".utf8), worker: "box-a")])
            try await cluster.waitFor("the long job to run on box-a") { $0.contains { $0.kind == JobKind.noop && $0.state == .running } }
            r = try cluster.run(args + ["--timeout", "1s"])
            XCTAssertEqual(r.status, 1, r.out)
            XCTAssertTrue(r.out.split(separator: "\n").contains { $0.hasPrefix("box-a") && $0.contains("no answer in time") }, r.out)
            XCTAssertTrue(r.out.split(separator: "\n").contains { $0.hasPrefix("box-b") && $0.contains("yes") }, r.out)
            let open = try await cluster.client().list(all: true)
                .filter { $0.kind == JobKind.dbcDoctor && ($0.state == .readyToRun || $0.state == .running) }
            XCTAssertEqual(open.count, 0, "\(open.map { ($0.id, $0.state) })")
        }
    }

    func waitForSlaves(_ cluster: TestCluster, _ names: Set<String>) async throws {
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            if let slaves = try? await cluster.client().slaves(), names.isSubset(of: Set(slaves.map(\.name))) { return }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        throw TestFailure("slaves \(names.sorted()) did not connect")
    }
}
