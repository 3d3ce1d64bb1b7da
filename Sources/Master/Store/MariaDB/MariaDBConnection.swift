import CMariaDB
import Foundation
import Shared

/// The client library's process-wide set-up is not thread-safe, so it runs
/// once, before the first `mysql_init` (which would otherwise do it lazily on
/// whichever pool thread connects first).
private let libraryReady: Bool = mysql_server_init(0, nil, nil) == 0

/// One connection to MariaDB/MySQL with a cache of prepared statements.
/// Not thread-safe: the store executor hands it to one worker thread at a time.
final class MariaDBConnection {
    private let mysql: UnsafeMutablePointer<MYSQL>
    private var statements: [String: MariaDBStatement] = [:]
    let url: MariaDBURL

    struct Timeouts {
        /// Seconds to establish the TCP connection and log in.
        var connect: UInt32 = 5
        /// Seconds a read or write may block. Longer than the session's lock
        /// wait (10 s) so a lock wait ends as a server error, not a lost connection.
        var io: UInt32 = 30
    }

    /// Connects over TCP (a port is always named, so "localhost" does not
    /// silently mean the Unix socket). `selectDatabase: false` logs in without
    /// selecting a database (used by tests to create one).
    init(_ url: MariaDBURL, timeouts: Timeouts = Timeouts(), selectDatabase: Bool = true) throws {
        guard libraryReady, let mysql = mysql_init(nil) else {
            throw MariaDBError(code: 2008, message: "libmariadb could not be initialised")
        }
        var connectTimeout = timeouts.connect
        var ioTimeout = timeouts.io
        var tcp = MYSQL_PROTOCOL_TCP.rawValue
        // A silent reconnect would drop the open transaction and its locks
        // behind the executor's back; a lost connection must be seen as one.
        var reconnect: my_bool = 0
        mysql_options(mysql, MYSQL_OPT_CONNECT_TIMEOUT, &connectTimeout)
        mysql_options(mysql, MYSQL_OPT_READ_TIMEOUT, &ioTimeout)
        mysql_options(mysql, MYSQL_OPT_WRITE_TIMEOUT, &ioTimeout)
        mysql_options(mysql, MYSQL_OPT_PROTOCOL, &tcp)
        mysql_options(mysql, MYSQL_OPT_RECONNECT, &reconnect)
        _ = "utf8mb4".withCString { mysql_options(mysql, MYSQL_SET_CHARSET_NAME, $0) }
        // Affected rows count matched rows, as SQLite's changes() does.
        let flags = UInt(CLIENT_FOUND_ROWS)
        let connected = mysql_real_connect(mysql, url.host, url.user, url.password,
                                           selectDatabase ? url.database : nil, UInt32(url.port), nil, flags)
        if connected == nil {
            let error = MariaDBError(connection: mysql)
            mysql_close(mysql)
            throw error
        }
        self.mysql = mysql
        self.url = url
        // READ COMMITTED: locking reads take record locks only (no gap locks),
        // which is what a job queue with SKIP LOCKED wants. Strict mode turns
        // an oversized value into an error instead of a silent truncation.
        try exec("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
        try exec("SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION,ERROR_FOR_DIVISION_BY_ZERO'")
        try exec("SET SESSION innodb_lock_wait_timeout = 10")
    }

    deinit {
        statements.removeAll()
        mysql_close(mysql)
    }

    /// Runs SQL text that takes no parameters (schema, session settings,
    /// transaction control); any result it produces is discarded.
    func exec(_ sql: String) throws {
        let rc = sql.withCString { mysql_real_query(mysql, $0, UInt(strlen($0))) }
        if rc != 0 { throw MariaDBError(connection: mysql) }
        if let result = mysql_store_result(mysql) {
            mysql_free_result(result)
        } else if mysql_field_count(mysql) > 0 {
            throw MariaDBError(connection: mysql)
        }
    }

    private func statement(_ sql: String) throws -> MariaDBStatement {
        if let cached = statements[sql] { return cached }
        let fresh = try MariaDBStatement(connection: mysql, sql: sql)
        statements[sql] = fresh
        return fresh
    }

    /// Runs a statement that returns no rows; returns the number of rows matched.
    @discardableResult
    func run(_ sql: String, _ params: [SQLValue] = []) throws -> Int {
        try statement(sql).run(params)
    }

    /// Runs a query and maps each row.
    func query<T>(_ sql: String, _ params: [SQLValue] = [], _ map: (MariaDBRow) throws -> T) throws -> [T] {
        try statement(sql).query(params).map(map)
    }
}

extension MariaDBURL {
    /// `name` as a quoted identifier, for the few statements (CREATE/DROP
    /// DATABASE) where a name cannot be a bound parameter: backticks around
    /// it, and any backtick inside doubled, so `venus-cluster-wdpost` works
    /// and no name can end the identifier early.
    static func quoteIdentifier(_ name: String) -> String {
        "`" + name.replacingOccurrences(of: "`", with: "``") + "`"
    }
}
