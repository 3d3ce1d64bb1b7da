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

    func testSyntheticAndWdpostJobsSucceedAndAMissingSectorIsNamed() async throws {
        let cluster = try TestCluster(task: ["max_retry": "1"])
        try await cluster.startMaster()
        try cluster.startSlave("gpu-1", concurrent: 2)
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
                var output = job.kind == JobKind.synthetic ? try await SyntheticRunner().run(pulled[0]) : try await PoStRunner().run(pulled[0])
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
}
