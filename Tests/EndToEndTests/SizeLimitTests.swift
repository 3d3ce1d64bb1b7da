import Foundation
import Shared
import XCTest

/// Large inputs reach a real slave: a claim never makes an answer larger
/// than the slave's frame limit.
final class SizeLimitTests: XCTestCase {
    func testThreeLargeInputsPulledTogetherAllRun() async throws {
        // Each 6 MiB assignment takes a debug build a while to encode, send and
        // decode on a busy machine: a heartbeat timeout of 30 s keeps that from
        // counting here (the claim's size is what this test is about).
        let cluster = try TestCluster(task: ["heartbeat_timeout": "\"30s\""])
        try await cluster.startMaster()
        try await cluster.use {
            // 6 MiB each: three in one answer would be 24 MiB of base64, over the 16 MiB frame.
            let input = Data(#"{"pad": ""#.utf8) + Data(repeating: 0x78, count: 6 << 20) + Data(#""}"#.utf8)
            // One submit each: a submit frame has the same 16 MiB limit.
            var ids: [String] = []
            for _ in 0..<3 { ids += try await cluster.client().submit([NewJob(kind: JobKind.noop, input: input)]) }
            try cluster.startSlave("big", concurrent: 3)
            let jobs = try await cluster.waitFor("the three large jobs to succeed") { jobs in
                ids.allSatisfy { id in jobs.contains { $0.id == id && $0.state == .succeed } }
            }
            XCTAssertEqual(jobs.filter { ids.contains($0.id) }.map(\.tryNum), [1, 1, 1], "each ran once, none lost to a heartbeat timeout")
        }
    }
}
