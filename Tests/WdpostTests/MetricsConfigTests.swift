import Foundation
import Shared
import XCTest

/// `[metrics] max_connections` and `request_timeout`: the HTTP side's limits.
final class MetricsConfigTests: XCTestCase {
    func load(_ metrics: String) throws -> MasterConfig {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wdpost-metrics-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try "s".write(to: dir.appendingPathComponent("slave.token"), atomically: true, encoding: .utf8)
        try "a".write(to: dir.appendingPathComponent("admin.token"), atomically: true, encoding: .utf8)
        let path = dir.appendingPathComponent("master.toml").path
        try """
            [server]
            token_file = "slave.token"
            admin_token_file = "admin.token"
            [metrics]
            listen = "127.0.0.1:0"
            \(metrics)
            """.write(toFile: path, atomically: true, encoding: .utf8)
        return try MasterConfig.load(path: path)
    }

    func testDefaultsValuesAndRefusals() throws {
        let defaults = try load("")
        XCTAssertEqual(defaults.http.maxConnections, 64)
        XCTAssertEqual(defaults.http.requestTimeout, 10_000_000)
        let set = try load("max_connections = 8\nrequest_timeout = \"2s\"")
        XCTAssertEqual(set.http.maxConnections, 8)
        XCTAssertEqual(set.http.requestTimeout, 2_000_000)
        XCTAssertThrowsError(try load("max_connections = 0")) { XCTAssertTrue("\($0)".contains("[metrics] max_connections"), "\($0)") }
        XCTAssertThrowsError(try load("request_timeout = \"0\"")) { XCTAssertTrue("\($0)".contains("[metrics] request_timeout"), "\($0)") }
    }
}
