import Foundation
import Shared
import XCTest

/// Outputs and results sized against the master's frame limit.
final class OutputLimitTests: XCTestCase {
    /// An output that no finish frame could carry fails its attempt with the
    /// sizes, the processor is stopped there, and the slave is not wedged: the
    /// next job on it succeeds.
    func testAnOutputOverTheFrameLimitFailsClearlyAndTheSlaveGoesOn() async throws {
        let cluster = try TestCluster(task: ["max_retry": "1"])
        try await cluster.startMaster()
        let big = try cluster.shellScript("big.sh", "head -c 20000000 /dev/zero\n")
        let small = try cluster.shellScript("small.sh", "echo small\n")
        try cluster.startSlave("sized", concurrent: 1, extra: """
            kinds = []
            [[processors.big]]
            bin = "\(big)"
            [[processors.small]]
            bin = "\(small)"
            """)
        try await cluster.use {
            let bigID = try await cluster.client().submit([NewJob(kind: "big")])[0]
            let failed = try await cluster.waitFor("the big job to fail") { $0.contains { $0.id == bigID && $0.state == .failed } }
            let error = failed.first { $0.id == bigID }!.error
            let limit = (Frame.defaultMaxBytes - (64 << 10)) / 4 * 3
            XCTAssertTrue(error.contains("\(big): output of at least "), error)
            XCTAssertTrue(error.contains("bytes exceeds the limit of \(limit) bytes (the master's server.max_frame_bytes less framing)"), error)

            let smallID = try await cluster.client().submit([NewJob(kind: "small")])[0]
            let done = try await cluster.waitFor("the small job after it") { $0.contains { $0.id == smallID && [.succeed, .failed].contains($0.state) } }
            let job = done.first { $0.id == smallID }!
            XCTAssertEqual(job.state, .succeed, job.error)
            XCTAssertEqual(job.output.map { String(decoding: $0, as: UTF8.self) }, "small\n")
        }
    }

    /// Results that each fit but together do not travel in several finish
    /// frames: three 7 MiB outputs (9.3 MiB each in base64; any two over the
    /// 16 MiB limit) that end together all arrive.
    func testResultsThatEndTogetherTravelInFramesThatFit() async throws {
        // The usual 2 s heartbeat timeout: a finished job whose result waits
        // for the frames ahead of it (9 MiB each, parsed by a debug build) is
        // still heartbeated, so the master does not take it back meanwhile.
        let cluster = try TestCluster(task: ["max_retry": "1"])
        try await cluster.startMaster()
        let barrier = cluster.dir.appendingPathComponent("barrier")
        try FileManager.default.createDirectory(at: barrier, withIntermediateDirectories: true)
        // Each waits for the other two to have started, so that all three end at once.
        let seven = try cluster.shellScript("seven.sh", """
            touch \(barrier.path)/$WDPOST_JOB_ID
            while [ "$(ls \(barrier.path) | wc -l)" -lt 3 ]; do sleep 0.01; done
            head -c 7340032 /dev/zero
            """)
        try cluster.startSlave("batch", concurrent: 3, extra: "kinds = []\n[[processors.seven]]\nbin = \"\(seven)\"\nconcurrent = 3")
        try await cluster.use {
            let ids = try await cluster.client().submit(Array(repeating: NewJob(kind: "seven"), count: 3))
            // Brief lists: three such outputs in one list answer would be over the limit themselves.
            let deadline = Date().addingTimeInterval(60)
            while Date() < deadline {
                let jobs = try await cluster.client().list(all: true, brief: true)
                if jobs.filter({ [.succeed, .failed].contains($0.state) }).count == 3 { break }
                try await Task.sleep(nanoseconds: 50_000_000)
            }
            for id in ids {
                let shown = try await cluster.client().show([id])
                let job = try XCTUnwrap(shown.first)
                XCTAssertEqual(job.state, .succeed, job.error)
                XCTAssertEqual(job.output?.count, 7_340_032)
            }
        }
    }
}
