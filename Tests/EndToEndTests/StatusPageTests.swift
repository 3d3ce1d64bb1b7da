import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Shared
import XCTest

/// The metrics endpoint and the status page, read the way operators read them:
/// Prometheus' text format over HTTP, and the page in a real headless browser.
final class StatusPageTests: XCTestCase {
    static func browser() -> String? {
        for name in ["chromium", "chromium-browser", "google-chrome"] {
            for dir in ["/usr/bin", "/usr/local/bin"] where FileManager.default.isExecutableFile(atPath: "\(dir)/\(name)") {
                return "\(dir)/\(name)"
            }
        }
        return nil
    }

    func fetch(_ url: String) async throws -> (Int, String) {
        let (data, response) = try await URLSession.shared.data(from: URL(string: url)!)
        return ((response as! HTTPURLResponse).statusCode, String(decoding: data, as: UTF8.self))
    }

    func testMetricsAndStatusPageInAHeadlessBrowser() async throws {
        let cluster = try TestCluster(task: ["max_retry": "1"])
        cluster.metrics = true
        try await cluster.startMaster()
        try cluster.startSlave("page-slave", concurrent: 2)
        try await cluster.use {
            _ = try await cluster.submitNoop(5)
            let failing = try await cluster.submitNoop(1, input: #"{"fail": true}"#)[0]
            _ = try await cluster.submitNoop(1, input: #"{"sleep_ms": 60000}"#)
            try await cluster.waitFor("jobs to settle") { jobs in
                jobs.filter { $0.state == .succeed }.count == 5 && jobs.contains { $0.state == .failed } && jobs.contains { $0.state == .running }
            }
            let base = try XCTUnwrap(cluster.metricsURL)

            let (status, metrics) = try await fetch(base + "metrics")
            XCTAssertEqual(status, 200)
            XCTAssertTrue(metrics.contains("wdpost_jobs{state=\"Succeed\",kind=\"noop\"} 5"), metrics)
            XCTAssertTrue(metrics.contains("wdpost_jobs{state=\"Failed\",kind=\"noop\"} 1"))
            XCTAssertTrue(metrics.contains("wdpost_claims_total 7"))
            XCTAssertTrue(metrics.contains("wdpost_finishes_accepted_total 5"))
            XCTAssertTrue(metrics.contains("wdpost_connected_slaves 1"))
            XCTAssertTrue(metrics.contains("wdpost_db_operation_seconds_count"))
            let (missing, _) = try await fetch(base + "nope")
            XCTAssertEqual(missing, 404)

            let browser = try XCTUnwrap(Self.browser(), "a headless browser (chromium) is needed: .ci/run installs it")
            let page = Process()
            page.executableURL = URL(fileURLWithPath: browser)
            page.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                              "--user-data-dir=\(cluster.dir.appendingPathComponent("chromium").path)", "--dump-dom", base]
            let out = Pipe()
            page.standardOutput = out
            page.standardError = FileHandle.nullDevice
            try page.run()
            let dom = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            page.waitUntilExit()
            XCTAssertTrue(dom.contains("<title>wdpost master test-master</title>"), dom)
            XCTAssertTrue(dom.contains("<td>Succeed</td><td>5</td>"), dom)
            XCTAssertTrue(dom.contains("<td>Running</td><td>1</td>"))
            XCTAssertTrue(dom.contains("<td>page-slave</td>"), "slaves with their running jobs")
            XCTAssertTrue(dom.contains("<td>\(failing)</td>") && dom.contains("noop: failed as asked"), "latest failures with their errors")
        }
    }
}
