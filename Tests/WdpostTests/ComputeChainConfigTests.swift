import Foundation
import Shared
import XCTest

/// `[computechain]` in master.toml: values, defaults, and errors naming the file, key and expectation.
final class ComputeChainConfigTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("wdpost-ccconfig-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try "s3cret-slave-token".write(to: dir.appendingPathComponent("slave.token"), atomically: true, encoding: .utf8)
        try "adm1n-admin-token".write(to: dir.appendingPathComponent("admin.token"), atomically: true, encoding: .utf8)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func load(_ section: String) throws -> MasterConfig {
        let url = dir.appendingPathComponent("master.toml")
        try """
            [server]
            token_file = "slave.token"
            admin_token_file = "admin.token"
            \(section)
            """.write(to: url, atomically: true, encoding: .utf8)
        return try MasterConfig.load(path: url.path)
    }

    func testOffByDefaultAndValues() throws {
        XCTAssertFalse(try load("").computechain.enabled)
        let c = try load("""
            [computechain]
            node = "http://10.0.0.5:8000"
            n = 256
            every = 2
            [[computechain.workers]]
            key_file = "keys/w1.json"
            slave = "gpu-1"
            [[computechain.workers]]
            key_file = "/abs/w2.json"
            """).computechain
        XCTAssertTrue(c.enabled)
        XCTAssertEqual(c.node, "http://10.0.0.5:8000")
        XCTAssertEqual(c.n, 256)
        XCTAssertEqual(c.every, 2)
        XCTAssertEqual(c.poll, 1_000_000)
        XCTAssertEqual(c.workers.map(\.keyFile), [dir.appendingPathComponent("keys/w1.json").path, "/abs/w2.json"])
        XCTAssertEqual(c.workers.map(\.slave), ["gpu-1", nil])
    }

    func testTheExampleLoadsWithAWorker() throws {
        let example = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("master.toml.example")
        var text = try String(contentsOf: example, encoding: .utf8)
        text = text.replacingOccurrences(of: "# [[computechain.workers]]\n# key_file", with: "[[computechain.workers]]\nkey_file")
            .replacingOccurrences(of: "# slave = \"gpu-box-1\"", with: "slave = \"gpu-box-1\"")
        let url = dir.appendingPathComponent("example.toml")
        try text.write(to: url, atomically: true, encoding: .utf8)
        // The example's token files are slave.token and admin.token beside it, as written in setUp.
        XCTAssertEqual(try MasterConfig.load(path: url.path).computechain.workers.first?.slave, "gpu-box-1")
    }

    func testErrorsNameTheKey() {
        let cases: [(String, String)] = [
            ("[computechain]\nn = 20000\n[[computechain.workers]]\nkey_file = \"k\"", "[computechain] n: expected 1…16384"),
            ("[computechain]\nevery = 0", "[computechain] every: expected an integer ≥ 1"),
            ("[computechain]\nnodes = \"x\"", "[computechain] unknown key \"nodes\""),
            ("[[computechain.workers]]\nslave = \"gpu-1\"", "[[computechain.workers]] entry 1: key_file: required"),
            ("[[computechain.workers]]\nkey_file = \"k\"\nkeyfile = \"k\"", "entry 1: unknown key \"keyfile\""),
            ("[computechain]\nnode = \"localhost:8000\"\n[[computechain.workers]]\nkey_file = \"k\"", "[computechain] node: expected the node's URL"),
        ]
        for (section, needle) in cases {
            XCTAssertThrowsError(try load(section), section) { error in
                XCTAssertTrue("\(error)".contains(needle) && "\(error)".contains("master.toml"), "\(section): \(error)")
            }
        }
    }
}
