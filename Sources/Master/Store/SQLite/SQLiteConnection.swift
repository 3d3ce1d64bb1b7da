import CSQLite
import Foundation

public struct SQLiteError: Error, CustomStringConvertible {
    public let code: Int32
    public let message: String
    public var description: String { "sqlite error \(code): \(message)" }
}

private let SQLITE_TRANSIENT_PTR = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// One SQLite connection with a cache of prepared statements. Not thread-safe:
/// the store executor owns it and uses it from its one thread.
final class SQLiteConnection {
    private var db: OpaquePointer?
    private var cache: [String: OpaquePointer] = [:]

    init(path: String) throws {
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close(db)
            throw SQLiteError(code: rc, message: "\(path): \(message)")
        }
        sqlite3_busy_timeout(db, 5000)
    }

    deinit {
        for stmt in cache.values { sqlite3_finalize(stmt) }
        sqlite3_close(db)
    }

    private func check(_ rc: Int32) throws {
        guard rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW else {
            throw SQLiteError(code: rc, message: String(cString: sqlite3_errmsg(db)))
        }
    }

    /// Runs SQL text that takes no parameters (schema, pragmas, transaction control).
    func exec(_ sql: String) throws {
        try check(sqlite3_exec(db, sql, nil, nil, nil))
    }

    private func prepared(_ sql: String, _ params: [SQLValue]) throws -> OpaquePointer {
        let stmt: OpaquePointer
        if let cached = cache[sql] {
            stmt = cached
        } else {
            var fresh: OpaquePointer?
            try check(sqlite3_prepare_v2(db, sql, -1, &fresh, nil))
            stmt = fresh!
            cache[sql] = stmt
        }
        sqlite3_reset(stmt)
        sqlite3_clear_bindings(stmt)
        for (i, value) in params.enumerated() {
            let index = Int32(i + 1)
            switch value {
            case let .int(v): try check(sqlite3_bind_int64(stmt, index, v))
            case let .text(s): try check(sqlite3_bind_text(stmt, index, s, -1, SQLITE_TRANSIENT_PTR))
            case let .blob(d):
                try check(d.withUnsafeBytes { sqlite3_bind_blob(stmt, index, $0.baseAddress, Int32(d.count), SQLITE_TRANSIENT_PTR) })
            case .null: try check(sqlite3_bind_null(stmt, index))
            }
        }
        return stmt
    }

    /// Runs a statement that returns no rows; returns the number of rows changed.
    @discardableResult
    func run(_ sql: String, _ params: [SQLValue] = []) throws -> Int {
        let stmt = try prepared(sql, params)
        defer { sqlite3_reset(stmt) }
        try check(sqlite3_step(stmt))
        return Int(sqlite3_changes(db))
    }

    /// Runs a query and maps each row.
    func query<T>(_ sql: String, _ params: [SQLValue] = [], _ map: (SQLiteRow) throws -> T) throws -> [T] {
        let stmt = try prepared(sql, params)
        defer { sqlite3_reset(stmt) }
        var rows: [T] = []
        while true {
            let rc = sqlite3_step(stmt)
            if rc == SQLITE_DONE { break }
            try check(rc)
            rows.append(try map(SQLiteRow(stmt: stmt)))
        }
        return rows
    }
}

struct SQLiteRow {
    let stmt: OpaquePointer

    func int(_ i: Int) -> Int64 { sqlite3_column_int64(stmt, Int32(i)) }
    func isNull(_ i: Int) -> Bool { sqlite3_column_type(stmt, Int32(i)) == SQLITE_NULL }
    func text(_ i: Int) -> String {
        guard let p = sqlite3_column_text(stmt, Int32(i)) else { return "" }
        return String(cString: p)
    }
    func blob(_ i: Int) -> Data {
        let n = Int(sqlite3_column_bytes(stmt, Int32(i)))
        guard n > 0, let p = sqlite3_column_blob(stmt, Int32(i)) else { return Data() }
        return Data(bytes: p, count: n)
    }
}
