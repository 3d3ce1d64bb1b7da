import Foundation
@testable import Master
import Shared
import XCTest

/// The MariaDB server the tests run against: `scripts/mariadb.sh start`
/// exports WDPOST_TEST_MYSQL_URL. Without it the MariaDB tests fail rather than
/// pass unnoticed; WDPOST_SKIP_MYSQL=1 skips them on purpose.
enum TestMariaDB {
    static func url() throws -> MariaDBURL {
        let env = ProcessInfo.processInfo.environment
        if let text = env["WDPOST_TEST_MYSQL_URL"], !text.isEmpty { return try MariaDBURL(parsing: text) }
        if env["WDPOST_SKIP_MYSQL"] == "1" { throw XCTSkip("WDPOST_SKIP_MYSQL=1: MariaDB tests skipped") }
        // A thrown error fails the test (a skip would let a missing server pass unnoticed).
        throw TestError("WDPOST_TEST_MYSQL_URL is not set: run the tests through scripts/test.sh, or eval \"$(scripts/mariadb.sh start)\" first (WDPOST_SKIP_MYSQL=1 skips these tests)")
    }

    /// A URL for database `venus-cluster-wdpost-<suffix>`, dropped and created
    /// empty (the test user may manage databases with that prefix).
    static func freshDatabase(_ suffix: String) throws -> MariaDBURL {
        var url = try self.url()
        url.database += "-" + suffix
        let admin = try MariaDBConnection(url, selectDatabase: false)
        try admin.exec("DROP DATABASE IF EXISTS \(MariaDBURL.quoteIdentifier(url.database))")
        try admin.exec("CREATE DATABASE \(MariaDBURL.quoteIdentifier(url.database)) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
        return url
    }

    static func dropDatabase(_ url: MariaDBURL) {
        guard let admin = try? MariaDBConnection(url, selectDatabase: false) else { return }
        try? admin.exec("DROP DATABASE IF EXISTS \(MariaDBURL.quoteIdentifier(url.database))")
    }

    /// Drops the store's tables, so the next `migrate` starts from nothing.
    static func emptyDatabase(_ url: MariaDBURL) throws {
        let c = try MariaDBConnection(url)
        let tables = try c.query("SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()", []) { $0.text(0) }
        for table in tables { try c.exec("DROP TABLE IF EXISTS \(MariaDBURL.quoteIdentifier(table))") }
    }
}
