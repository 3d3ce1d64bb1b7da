import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
@testable import Master
import Shared
import XCTest

/// The master as ComputeChain's worker pool, against the fake L1 node: every
/// (block, worker) result lands in a block exactly once with the right
/// result hash, through dropped transactions and a master SIGKILL.
final class ComputeChainTests: XCTestCase {
    let n: UInt32 = 64

    /// Three funded workers' key files in the cluster's folder, and the master's [computechain] section.
    func setUp(_ cluster: TestCluster, workers: Int = 3, balance: Int64 = 10_000_000_000_000) async throws -> (FakeNode, [ComputeChainKey]) {
        var keys: [ComputeChainKey] = []
        var section = """
            [computechain]
            node = "NODE"
            n = \(n)
            poll = "100ms"
            resend_after = 3

            """
        for i in 0..<workers {
            let key = try ComputeChainKey(privateKey: SecureRandom.bytes(32), name: "worker\(i)")
            _ = try cluster.write("worker\(i).json", key.keystoreJSON)
            keys.append(key)
            section += "[[computechain.workers]]\nkey_file = \"worker\(i).json\"\n"
        }
        let node = try await FakeNode(dir: cluster.dir, funds: Dictionary(uniqueKeysWithValues: keys.map { ($0.address, balance) }))
        cluster.masterExtra = section.replacingOccurrences(of: "NODE", with: node.url)
        return (node, keys)
    }

    /// The (task id → expected result hash) of every block from `from` to `to`, for every worker.
    func expected(_ node: FakeNode, _ keys: [ComputeChainKey], from: Int64, to: Int64) async throws -> [String: (Int64, String, String)] {
        var out: [String: (Int64, String, String)] = [:]
        for h in from...to {
            let hash = try await node.blockHash(h)
            for k in keys {
                let root = try Kernels.syntheticRoot(blockHash: hash, worker: k.address, n: n).hex
                out[UUIDv5.task(blockHash: hash, workerAddress: k.address)] = (h, k.address, root)
            }
        }
        return out
    }

    /// Waits until every worker's results of `blocks` consecutive blocks from the first tasked one are in blocks.
    func waitForResults(_ node: FakeNode, _ keys: [ComputeChainKey], blocks: Int64, cluster: TestCluster,
                        timeout: TimeInterval = 120) async throws -> (first: Int64, results: [FakeNode.Result]) {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let status = try? await cluster.client().computechainStatus()
            let first = status?.workers.map { $0.lastBlockTasked }.min() ?? -1
            let results = try await node.results()
            if first >= 0, let start = try await firstTasked(node, keys, results: results) {
                let want = try await expected(node, keys, from: start, to: start + blocks - 1)
                let have = Set(results.map(\.task_id))
                if want.keys.allSatisfy(have.contains) { return (start, results) }
            }
            try await Task.sleep(nanoseconds: 200_000_000)
        }
        throw TestFailure("timed out waiting for \(blocks) blocks of results; master log:\n\(cluster.masterLogs.suffix(3000))")
    }

    /// The lowest block height whose task for the first worker is in a block.
    func firstTasked(_ node: FakeNode, _ keys: [ComputeChainKey], results: [FakeNode.Result]) async throws -> Int64? {
        let ids = Set(results.map(\.task_id))
        let top = try await node.height()
        for h in 0...max(0, top) {
            let hash = try await node.blockHash(h)
            if ids.contains(UUIDv5.task(blockHash: hash, workerAddress: keys[0].address)) { return h }
        }
        return nil
    }

    /// Each result once, each the right hash for its task, and only tasks this cluster made.
    func check(_ results: [FakeNode.Result], _ node: FakeNode, _ keys: [ComputeChainKey], first: Int64) async throws {
        let top = results.map(\.height).max() ?? first
        let want = try await expected(node, keys, from: first, to: top)
        var seen = Set<String>()
        for r in results {
            XCTAssertTrue(seen.insert(r.task_id).inserted, "task \(r.task_id) is in a block twice")
            guard let (_, worker, root) = want[r.task_id] else { XCTFail("result for a task no block of \(first)…\(top) makes: \(r)"); continue }
            XCTAssertEqual(r.from, worker)
            XCTAssertEqual(r.result_hash, root, "the synthetic root of task \(r.task_id)")
        }
    }

    func testEveryBlockAndWorkerInABlockOnceThroughDroppedTransactions() async throws {
        let cluster = try TestCluster()
        let (node, keys) = try await setUp(cluster)
        cluster.metrics = true
        try await cluster.use {
            // The first two transactions are answered "received" and forgotten.
            try await node.control(#"{"drop": 2}"#)
            try await cluster.startMaster()
            try cluster.startSlave("gpu-1", concurrent: 4)
            let (first, results) = try await waitForResults(node, keys, blocks: 6, cluster: cluster)
            let stats = try await node.stats()
            XCTAssertGreaterThanOrEqual(stats["dropped"] as? Int ?? 0, 2)
            try await check(results, node, keys, first: first)
            let status = try await cluster.client().computechainStatus()
            XCTAssertEqual(status.workers.map(\.address), keys.map(\.address))
            XCTAssertGreaterThanOrEqual(status.workers.map(\.resends).reduce(0, +), 2, "the dropped transactions were sent again")
            let cli = try cluster.cli(["computechain", "status"])
            XCTAssertEqual(cli.status, 0, cli.err)
            XCTAssertTrue(cli.out.contains(keys[0].address), cli.out)
            let metrics = try await httpGet(cluster.metricsURL! + "metrics")
            XCTAssertTrue(metrics.contains("wdpost_computechain_results{worker=\"\(keys[1].address)\",state=\"in_blocks\"}"), metrics)
            XCTAssertTrue(metrics.contains("wdpost_computechain_node_up 1"), metrics)
            let page = try await httpGet(cluster.metricsURL!)
            XCTAssertTrue(page.contains("<h2>ComputeChain</h2>") && page.contains(keys[2].address), page)
        }
        await node.stop()
    }

    /// Waits until the node has dropped `count` transactions (the event: they were sent).
    func waitForDrops(_ node: FakeNode, _ count: Int, cluster: TestCluster) async throws {
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if (try await node.stats()["dropped"] as? Int ?? 0) >= count { return }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
        throw TestFailure("the node dropped fewer than \(count) transactions; master log:\n\(cluster.masterLogs.suffix(2000))")
    }

    func httpGet(_ url: String) async throws -> String {
        String(decoding: try await URLSession.shared.data(from: URL(string: url)!).0, as: UTF8.self)
    }

    /// A worker without the fee is an error shown for it, and nothing is sent
    /// for it (no storm of refused transactions); funded, its results go out.
    func testLowBalanceIsAnErrorPerWorkerNotARetryStorm() async throws {
        let cluster = try TestCluster()
        let (node, keys) = try await setUp(cluster, workers: 2)
        try await node.control(#"{"fund": {"\#(keys[1].address)": 0}}"#)
        try await cluster.use {
            try await cluster.startMaster()
            try cluster.startSlave("gpu-1", concurrent: 4)
            let deadline = Date().addingTimeInterval(60)
            var status = try await cluster.client().computechainStatus()
            while Date() < deadline, !(status.workers[1].lastError.contains("balance") && status.workers[1].waiting >= 3 && status.workers[0].inBlocks >= 3) {
                try await Task.sleep(nanoseconds: 200_000_000)
                status = try await cluster.client().computechainStatus()
            }
            XCTAssertTrue(status.workers[1].lastError.contains("below the fee"), status.workers[1].lastError)
            XCTAssertEqual(status.workers[1].sends, 0, "nothing sent while the balance is short")
            XCTAssertEqual(status.workers[0].lastError, "")
            let rejected = try await node.stats()["rejected"] as? [String: Int] ?? [:]
            XCTAssertNil(rejected["insufficient_balance"])
            let cli = try cluster.cli(["computechain", "status"])
            XCTAssertTrue(cli.out.contains("below the fee"), cli.out)
            try await node.control(#"{"fund": {"\#(keys[1].address)": 10000000000000}}"#)
            let (first, results) = try await waitForResults(node, keys, blocks: 4, cluster: cluster)
            try await check(results, node, keys, first: first)
        }
        await node.stop()
    }

    /// Refused transactions go again with a fresh nonce; a nonce spent by a
    /// transaction from elsewhere (nonce_too_low) is recovered from.
    func testRefusedAndSpentNoncesAreRecovered() async throws {
        let cluster = try TestCluster()
        let (node, keys) = try await setUp(cluster, workers: 2)
        try await cluster.use {
            try await node.control(#"{"reject": 3, "error": "mempool_full"}"#)
            try await cluster.startMaster()
            try cluster.startSlave("gpu-1", concurrent: 4)
            _ = try await waitForResults(node, keys, blocks: 2, cluster: cluster)
            // Sent transactions waiting in the pool lose their nonce to others.
            try await node.control(#"{"drop": 4}"#)
            try await waitForDrops(node, 4, cluster: cluster)
            try await node.control(#"{"spend": {"\#(keys[0].address)": 2}}"#)
            let (first, results) = try await waitForResults(node, keys, blocks: 10, cluster: cluster)
            try await check(results, node, keys, first: first)
            let rejected = try await node.stats()["rejected"] as? [String: Int] ?? [:]
            XCTAssertEqual(rejected["mempool_full"], 3)
            let status = try await cluster.client().computechainStatus()
            XCTAssertGreaterThanOrEqual(status.workers.map(\.rejections).reduce(0, +), 3)
        }
        await node.stop()
    }

    func testMasterKilledWithResultsInFlightLosesAndRepeatsNothing() async throws {
        let cluster = try TestCluster()
        let (node, keys) = try await setUp(cluster)
        try await cluster.use {
            try await cluster.startMaster()
            try cluster.startSlave("gpu-1", concurrent: 4)
            _ = try await waitForResults(node, keys, blocks: 2, cluster: cluster)
            // Results in flight: three sent and dropped by the node (so in
            // the outbox as sent, not in a block), others sent or computing.
            try await node.control(#"{"drop": 3}"#)
            try await waitForDrops(node, 3, cluster: cluster)
            cluster.master?.signal(SIGKILL)
            _ = await cluster.master?.waitForExit()
            try await cluster.startMaster()
            let (first, results) = try await waitForResults(node, keys, blocks: 10, cluster: cluster)
            try await check(results, node, keys, first: first)
        }
        await node.stop()
    }

    func testWrongOrMissingKeyFileRefusedAtStart() async throws {
        let cluster = try TestCluster()
        let (node, keys) = try await setUp(cluster, workers: 1)
        await node.stop()
        let other = try ComputeChainKey(privateKey: SecureRandom.bytes(32))
        let cases = [
            ("missing", "no such file", { try FileManager.default.removeItem(at: cluster.dir.appendingPathComponent("worker0.json")) }),
            ("wrong address", "does not match the key", {
                _ = try cluster.write("worker0.json", keys[0].keystoreJSON.replacingOccurrences(of: keys[0].address, with: other.address))
            }),
        ]
        for (what, needle, prepare) in cases {
            try prepare()
            let proc = try cluster.launchMaster()
            let status = await proc.waitForExit()
            XCTAssertNotEqual(status, 0, what)
            XCTAssertTrue(proc.log.contains(needle) && proc.log.contains("worker0.json"), "\(what): \(proc.log)")
        }
        await cluster.shutdown()
    }
}
