import Foundation
import Shared
import XCTest

/// `db.url = "mysql://…"` taken apart, without a server.
final class MariaDBURLTests: XCTestCase {
    func testPartsArePercentDecodedAndTheDatabaseKeptAsGiven() throws {
        let url = try MariaDBURL(parsing: "mysql://wd%40post:p%40ss%3Aw%2Frd@db.example:3307/venus-cluster-wdpost")
        XCTAssertEqual(url, MariaDBURL(user: "wd@post", password: "p@ss:w/rd", host: "db.example", port: 3307, database: "venus-cluster-wdpost"))
        XCTAssertEqual(try MariaDBURL(parsing: "mysql://u:p@h/d").port, 3306, "the port defaults to 3306")
        XCTAssertEqual(try MariaDBURL(parsing: "mysql://u@h:1/d").password, "", "no password")
        XCTAssertEqual(try MariaDBURL(parsing: "mysql://u:a@b@h:1/d").password, "a@b", "the last @ ends the password")
        let v6 = try MariaDBURL(parsing: "mysql://u:p@[::1]:3310/d")
        XCTAssertEqual(v6.host, "::1")
        XCTAssertEqual(v6.port, 3310)
        XCTAssertEqual(v6.description, "MariaDB at [::1]:3310 database d as u")
    }

    func testMalformedURLsAreRefusedWithoutEchoingThePassword() {
        for bad in ["mysql://h:1/d", "mysql://u:hunter2@h:99999/d", "mysql://u:hunter2@h:1", "mysql://u:hunter2@h:1/",
                    "mysql://u:hunter2@:1/d", "mysql://u:hunter2@h:x/d", "mysql://u:hunter2@[::1/d", "mysql://u:hunter2@h:1/a/b",
                    "postgres://u:hunter2@h/d"] {
            XCTAssertThrowsError(try MariaDBURL(parsing: bad), bad) { error in
                XCTAssertTrue("\(error)".contains("expected mysql://user:password@host:port/database"), "\(error)")
                XCTAssertFalse("\(error)".contains("hunter2"), "\(error)")
            }
        }
    }

    func testConfigLoadChecksTheURLNamingFileAndKey() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wdpost-url-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try "t".write(to: dir.appendingPathComponent("t"), atomically: true, encoding: .utf8)
        try "a".write(to: dir.appendingPathComponent("a"), atomically: true, encoding: .utf8)
        let path = dir.appendingPathComponent("master.toml").path
        func load(_ url: String) throws -> MasterConfig {
            try """
                [server]
                token_file = "t"
                admin_token_file = "a"
                [db]
                url = "\(url)"
                """.write(toFile: path, atomically: true, encoding: .utf8)
            return try MasterConfig.load(path: path)
        }
        XCTAssertEqual(try load("mysql://wdpost:hunter2@127.0.0.1:3306/venus-cluster-wdpost").db.url,
                       "mysql://wdpost:hunter2@127.0.0.1:3306/venus-cluster-wdpost", "a mysql URL is kept as written")
        XCTAssertThrowsError(try load("mysql://wdpost:hunter2@127.0.0.1:port/venus-cluster-wdpost")) { error in
            XCTAssertTrue("\(error)".contains(path) && "\(error)".contains("[db] url"), "\(error)")
            XCTAssertFalse("\(error)".contains("hunter2"), "\(error)")
        }
    }
}
