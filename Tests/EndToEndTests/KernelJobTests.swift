import Foundation
import NIOPosix
import Shared
import Slave
import XCTest

/// `synthetic` and `wdpost` jobs through real processes, and results the master must refuse.
final class KernelJobTests: XCTestCase {
    func makeSector(_ cluster: TestCluster, _ name: String, bytes: Int) throws -> (path: String, root: String) {
        var rng = SystemRandomNumberGenerator()
        let data = Data((0..<bytes).map { _ in UInt8.random(in: 0...255, using: &rng) })
        let url = cluster.dir.appendingPathComponent(name)
        try data.write(to: url)
        let r = try cluster.run(["kernel", "merkle-root", url.path])
        XCTAssertEqual(r.status, 0, r.err)
        return (url.path, r.out.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// The cluster's directory with symlinks resolved, as `[slave] sector_paths` keeps it.
    func realDir(_ cluster: TestCluster) -> String {
        cluster.dir.resolvingSymlinksInPath().path
    }

    func testSyntheticAndWdpostJobsSucceedAndAMissingSectorIsNamed() async throws {
        let cluster = try TestCluster(task: ["max_retry": "1"])
        try await cluster.startMaster()
        try cluster.startSlave("gpu-1", concurrent: 2, extra: "sector_paths = [\"\(cluster.dir.path)\"]")
        try await cluster.use {
            let synthetic = SyntheticInput(blockHash: "00ab", workerAddress: "worker-1", n: 96, k: 4)
            let s1 = try makeSector(cluster, "sector-1", bytes: 100_000)
            let s2 = try makeSector(cluster, "sector-2", bytes: 4_097)
            let randomness = String(repeating: "5a", count: 32)
            let post = PoStInput(randomness: randomness, sectors: [SectorInput(id: 1, path: s1.path, root: s1.root),
                                                                    SectorInput(id: 2, path: s2.path, root: s2.root)])
            let missing = PoStInput(randomness: randomness, sectors: [SectorInput(id: 77, path: cluster.dir.appendingPathComponent("gone").path, root: s1.root)])
            let empty = PoStInput(randomness: randomness, challenges: 0, sectors: [SectorInput(id: 1, path: s1.path, root: s1.root)])
            let enc = JSONEncoder()
            let ids = try await cluster.client().submit([
                NewJob(kind: JobKind.synthetic, input: try enc.encode(synthetic)),
                NewJob(kind: JobKind.wdpost, input: try enc.encode(post)),
                NewJob(kind: JobKind.wdpost, input: try enc.encode(missing)),
            ])
            // A job that challenges nothing proves nothing: refused at submit, not run.
            do {
                _ = try await cluster.client().submit([NewJob(kind: JobKind.wdpost, input: try enc.encode(empty))])
                XCTFail("a wdpost job without challenges must be refused at submit")
            } catch {
                XCTAssertTrue("\(error)".contains("job 1 of 1 (kind \"wdpost\"): wdpost: challenges must be in"), "\(error)")
            }
            let jobs = try await cluster.waitFor("kernel jobs to finish") { jobs in
                jobs.count == 3 && jobs.allSatisfy { $0.state == .succeed || $0.state == .failed }
            }
            let byID = Dictionary(uniqueKeysWithValues: jobs.map { ($0.id, $0) })
            XCTAssertEqual(byID[ids[0]]?.state, .succeed, byID[ids[0]]?.error ?? "")
            XCTAssertEqual(byID[ids[1]]?.state, .succeed, byID[ids[1]]?.error ?? "")
            XCTAssertEqual(byID[ids[2]]?.state, .failed)
            XCTAssertTrue(byID[ids[2]]!.error.contains("sector 77"), byID[ids[2]]!.error)

            let output = try JSONDecoder().decode(SyntheticOutput.self, from: try XCTUnwrap(byID[ids[0]]?.output))
            let cli = try cluster.run(["kernel", "synthetic", "--block-hash", "00ab", "--worker", "worker-1", "--n", "96"])
            XCTAssertEqual(output.root, cli.out.trimmingCharacters(in: .whitespacesAndNewlines))
            XCTAssertEqual(output.rows.count, 4)
            let proof = try JSONDecoder().decode(PoStOutput.self, from: try XCTUnwrap(byID[ids[1]]?.output))
            XCTAssertEqual(proof.sectors.map(\.proofs.count), [10, 10])
        }
    }

    /// A slave that returns a tampered row, path or leaf gets its attempt failed.
    func testTamperedResultsFailVerification() async throws {
        let cluster = try TestCluster(task: ["retry_job_interval": "\"1h\""])
        try await cluster.startMaster()
        try await cluster.use {
            let synthetic = SyntheticInput(blockHash: "c0ffee", workerAddress: "t1", n: 64, k: 3)
            let sector = try makeSector(cluster, "sector", bytes: 10_000)
            let post = PoStInput(randomness: String(repeating: "01", count: 32), challenges: 4,
                                 sectors: [SectorInput(id: 9, path: sector.path, root: sector.root)])
            let enc = JSONEncoder()
            let client = try await RPCClient.connect(
                to: cluster.address,
                as: .init(role: .slave, name: "cheat", token: Array(cluster.slaveToken.utf8), capabilities: Capabilities(kinds: [JobKind.synthetic, JobKind.wdpost], concurrent: 8)),
                group: .singletonMultiThreadedEventLoopGroup)
            let tampers: [(String, NewJob, (inout Data) throws -> Void)] = [
                ("row value", NewJob(kind: JobKind.synthetic, input: try enc.encode(synthetic)), { data in
                    var out = try JSONDecoder().decode(SyntheticOutput.self, from: data)
                    out.rows[1].values[5] &+= 1
                    data = try enc.encode(out)
                }),
                ("row path", NewJob(kind: JobKind.synthetic, input: try enc.encode(synthetic)), { data in
                    var out = try JSONDecoder().decode(SyntheticOutput.self, from: data)
                    out.rows[0].path[0] = String(repeating: "00", count: 32)
                    data = try enc.encode(out)
                }),
                ("leaf", NewJob(kind: JobKind.wdpost, input: try enc.encode(post)), { data in
                    var out = try JSONDecoder().decode(PoStOutput.self, from: data)
                    out.sectors[0].proofs[2].leaf = String(repeating: "ff", count: 32)
                    data = try enc.encode(out)
                }),
                ("none", NewJob(kind: JobKind.wdpost, input: try enc.encode(post)), { _ in }),
            ]
            for (what, job, tamper) in tampers {
                let id = try await cluster.client().submit([job])[0]
                let pulled = try await client.call(.pull, PullRequest(max: 1, kinds: [job.kind], waitMs: 0), as: PullResponse.self).jobs
                XCTAssertEqual(pulled.map(\.id), [id])
                // Compute the honest answer with the slave's own runner, then spoil it.
                var output = job.kind == JobKind.synthetic ? try await SyntheticRunner().run(pulled[0]) : try await PoStRunner(sectorPaths: [realDir(cluster)]).run(pulled[0])
                try tamper(&output)
                let ack = try await client.call(.finish, FinishRequest(results: [JobResult(id: id, lease: pulled[0].lease, ok: true, output: output)]), as: FinishResponse.self)
                XCTAssertEqual(ack.statuses, [.accepted], what)
                let after = try await cluster.client().show([id])[0]
                if what == "none" {
                    XCTAssertEqual(after.state, .succeed, "the honest result verifies: \(after.error)")
                } else {
                    XCTAssertEqual(after.state, .readyToRun, what)
                    XCTAssertTrue(after.error.hasPrefix("verification failed"), "\(what): \(after.error)")
                }
            }
            await client.close()
        }
    }

    /// A sector path is read only inside `[slave] sector_paths`: not a file
    /// outside (a rogue master would get its bytes back as leaves), not through
    /// a symlink inside pointing out, and nothing at all on a slave with none.
    func testSectorPathsAreConfinedToTheConfiguredDirectories() async throws {
        let cluster = try TestCluster(task: ["max_retry": "1"])
        try await cluster.startMaster()
        let sectors = cluster.dir.appendingPathComponent("sectors")
        try FileManager.default.createDirectory(at: sectors, withIntermediateDirectories: true)
        let inside = try makeSector(cluster, "sectors/good", bytes: 5_000)
        let outside = try makeSector(cluster, "outside", bytes: 5_000)
        try FileManager.default.createSymbolicLink(atPath: sectors.appendingPathComponent("link").path, withDestinationPath: outside.path)
        // A sibling whose name starts like the directory's is outside it too.
        try FileManager.default.createDirectory(at: cluster.dir.appendingPathComponent("sectors-evil"), withIntermediateDirectories: true)
        let sibling = try makeSector(cluster, "sectors-evil/s", bytes: 5_000)
        try cluster.startSlave("confined", concurrent: 1, extra: "kinds = [\"wdpost\"]\nsector_paths = [\"sectors\"]")
        try await cluster.use {
            let root = String(repeating: "00", count: 32)
            func job(_ path: String, _ root: String) throws -> NewJob {
                NewJob(kind: JobKind.wdpost, input: try JSONEncoder().encode(
                    PoStInput(randomness: String(repeating: "5a", count: 32), sectors: [SectorInput(id: 3, path: path, root: root)])))
            }
            let ids = try await cluster.client().submit([
                try job(inside.path, inside.root),
                try job("/etc/passwd", root),
                try job(sectors.appendingPathComponent("link").path, outside.root),
                try job(sectors.appendingPathComponent("../outside").path, outside.root),
                try job(sibling.path, sibling.root),
            ])
            let jobs = try await cluster.waitFor("the sector jobs to finish") { jobs in
                ids.allSatisfy { id in jobs.contains { $0.id == id && [.succeed, .failed].contains($0.state) } }
            }
            let byID = Dictionary(uniqueKeysWithValues: jobs.map { ($0.id, $0) })
            XCTAssertEqual(byID[ids[0]]?.state, .succeed, byID[ids[0]]?.error ?? "")
            let dir = realDir(cluster) + "/sectors"
            let refused = [("/etc/passwd", "/etc/passwd"), (sectors.appendingPathComponent("link").path, realDir(cluster) + "/outside"),
                           (sectors.appendingPathComponent("../outside").path, realDir(cluster) + "/outside"),
                           (sibling.path, realDir(cluster) + "/sectors-evil/s")]
            for (id, (given, real)) in zip(ids.dropFirst(), refused) {
                XCTAssertEqual(byID[id]?.state, .failed, given)
                XCTAssertEqual(byID[id]?.error, "wdpost: sector 3 (\(given)): refused: \(real) is outside [slave] sector_paths (\(dir))")
                XCTAssertNil(byID[id]?.output, given)
            }
        }
    }

    /// With no `sector_paths` (the default) the `wdpost` kind reads no file.
    func testWithoutSectorPathsEverySectorIsRefused() async throws {
        let cluster = try TestCluster(task: ["max_retry": "1"])
        try await cluster.startMaster()
        let sector = try makeSector(cluster, "sector", bytes: 5_000)
        try cluster.startSlave("closed", concurrent: 1, extra: "kinds = [\"wdpost\"]")
        try await cluster.use {
            let input = PoStInput(randomness: String(repeating: "5a", count: 32), sectors: [SectorInput(id: 4, path: sector.path, root: sector.root)])
            let id = try await cluster.client().submit([NewJob(kind: JobKind.wdpost, input: try JSONEncoder().encode(input))])[0]
            let jobs = try await cluster.waitFor("the job to fail") { $0.contains { $0.id == id && $0.state == .failed } }
            XCTAssertEqual(jobs.first { $0.id == id }?.error,
                           "wdpost: sector 4 (\(sector.path)): refused: this slave reads no sector files ([slave] sector_paths is empty)")
        }
    }
}
