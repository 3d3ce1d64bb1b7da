import Foundation
import Master
import Shared
import XCTest

extension StoreConformance {
    func proofJob(miner: String, size: String, sectors: Int = 1, key: String? = nil) -> NewJob {
        var job = NewJob(kind: "window_post", input: Data("{}".utf8), minerID: miner, uniqueKey: key)
        job.sectorSize = size
        job.sectors = sectors
        return job
    }

    /// A slave's allowed_sizes and allowed_miners restrict proof jobs at
    /// claim time; miners match however they are spelt (1037, f01037,
    /// t01037); jobs without a size or miner are for everyone. The size and
    /// sector count are kept, archived included.
    func proofJobsHonourAllowedSizesAndMiners() throws {
        let small = try insert([proofJob(miner: "1037", size: "32GiB", sectors: 3)], now: 1)[0]
        let large = try insert([proofJob(miner: "1037", size: "64GiB")], now: 2)[0]
        let otherMiner = try insert([proofJob(miner: "2000", size: "32GiB")], now: 3)[0]
        let plain = try insert([NewJob(kind: "window_post")], now: 4)[0]
        XCTAssertEqual(try get(small).sectorSize, "32GiB")
        XCTAssertEqual(try get(small).sectors, 3)
        XCTAssertEqual(try get(plain).sectorSize, "")

        let got = try tx { try store.claim(worker: "w", kinds: ["window_post"], miners: ["f01037"], sizes: ["32GiB"], limit: 10, now: 2_000) }
        XCTAssertEqual(got.map(\.id), [small, plain], "the size and the miner (spelt f01037) filter; an unsized job is anyone's")
        XCTAssertEqual(got.first?.sectors, 3)
        let none = try tx { try store.claim(worker: "w", kinds: ["window_post"], miners: ["t01037"], sizes: ["2KiB"], limit: 10, now: 2_000) }
        XCTAssertEqual(none.map(\.id), [])
        let merged = try tx { try store.claim([ClaimWanted(worker: "w2", limit: 10)], kinds: ["window_post"], miners: ["t01037"], sizes: ["64GiB", "32GiB"], now: 2_000) }
        XCTAssertEqual(merged.flatMap { $0 }.map(\.id), [large])
        XCTAssertEqual(try claim(kinds: ["window_post"]).map(\.id), [otherMiner], "no lists: any size, any miner")

        let job = try get(small)
        XCTAssertEqual(try finish(job, now: 3_000), .recorded)
        XCTAssertEqual(try tx { try store.archive(finishedBefore: 4_000) }, 1)
        XCTAssertEqual(try get(small).sectorSize, "32GiB", "the archive keeps the size")
        XCTAssertEqual(try get(small).sectors, 3)
    }

    /// A damocles task asked again after its job failed runs again, with its
    /// tries renewed; a job in any other state is left as it is.
    func aFailedJobRunsAgainOnlyWhenFailed() throws {
        let id = try insert([proofJob(miner: "1037", size: "32GiB", key: "window_post:abc")], maxTry: 1)[0]
        XCTAssertFalse(try tx { try store.rerunFailed(id) }, "ready: nothing to rerun")
        let job = try XCTUnwrap(try claim(kinds: ["window_post"]).first)
        XCTAssertFalse(try tx { try store.rerunFailed(id) }, "running: left alone")
        XCTAssertEqual(try finish(job, ok: false, error: "gpu fell off"), .recorded)
        XCTAssertEqual(try get(id).state, .failed)
        XCTAssertTrue(try tx { try store.rerunFailed(id) })
        let again = try get(id)
        XCTAssertEqual(again.state, .readyToRun)
        XCTAssertEqual(again.tryNum, 0)
        XCTAssertEqual(again.finishedAt, 0)
        XCTAssertEqual(try insert([proofJob(miner: "1037", size: "32GiB", key: "window_post:abc")]), [id], "still the same job")
        XCTAssertEqual(try claim(kinds: ["window_post"]).map(\.id), [id])
    }
}
