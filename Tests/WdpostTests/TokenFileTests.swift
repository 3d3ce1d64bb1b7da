import Foundation
import Shared
import XCTest

/// Token files: text or raw bytes, never one secret for both roles, and a
/// warning when others may read them.
final class TokenFileTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("wdpost-token-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func file(_ name: String, _ bytes: [UInt8], mode: Int = 0o600) throws {
        let path = dir.appendingPathComponent(name).path
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
    }

    func master(slave: String, admin: String) throws -> String {
        let path = dir.appendingPathComponent("master.toml").path
        try "[server]\ntoken_file = \"\(slave)\"\nadmin_token_file = \"\(admin)\"\n".write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func testOneSecretForBothRolesIsRefused() throws {
        try file("both.token", Array("one-secret-for-everyone".utf8))
        try file("copy.token", Array("one-secret-for-everyone\n".utf8))
        for admin in ["both.token", "copy.token"] {
            XCTAssertThrowsError(try MasterConfig.load(path: master(slave: "both.token", admin: admin))) { error in
                XCTAssertTrue("\(error)".contains("token_file and admin_token_file hold the same secret"), "\(error)")
            }
        }
    }

    func testARawByteTokenIsUsedAsItIs() throws {
        let raw: [UInt8] = [0xff, 0xfe, 0x00, 0x0a, 0x80, 0x20] + (0..<26).map { UInt8($0) }
        try file("raw.token", raw)
        try file("admin.token", Array("  admin-secret-of-sixteen-bytes \n".utf8))
        let config = try MasterConfig.load(path: master(slave: "raw.token", admin: "admin.token"))
        XCTAssertEqual(config.server.slaveToken, raw, "not UTF-8: every byte, whitespace included")
        XCTAssertEqual(config.server.adminToken, Array("admin-secret-of-sixteen-bytes".utf8), "text: trimmed")
        XCTAssertEqual(config.warnings, [])
    }

    func testTokenFilesOthersCanReadAndShortTokensAreWarnedAbout() throws {
        try file("slave.token", Array("slave-secret-of-enough-bytes".utf8), mode: 0o644)
        try file("admin.token", Array("short".utf8))
        let config = try MasterConfig.load(path: master(slave: "slave.token", admin: "admin.token"))
        XCTAssertEqual(config.warnings.count, 2, "\(config.warnings)")
        XCTAssertTrue(config.warnings[0].contains("is accessible to group or others (mode 644); run chmod 600"), config.warnings[0])
        XCTAssertTrue(config.warnings[1].contains("is 5 bytes; use at least 16"), config.warnings[1])
    }

    func testMaxFrameBytesHasAnUpperBound() throws {
        try file("slave.token", Array("slave-secret-of-enough-bytes".utf8))
        try file("admin.token", Array("admin-secret-of-enough-bytes".utf8))
        let path = try master(slave: "slave.token", admin: "admin.token")
        try (try String(contentsOfFile: path, encoding: .utf8) + "max_frame_bytes = 1073741824\n").write(toFile: path, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try MasterConfig.load(path: path)) { error in
            XCTAssertTrue("\(error)".contains("[server] max_frame_bytes: expected at most 268435456"), "\(error)")
        }
    }
}
