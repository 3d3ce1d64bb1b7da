import CMariaDB
import Foundation

/// One column of a fetched row.
enum MariaDBValue: Equatable {
    case null
    case int(Int64)
    case bytes([UInt8])
}

/// A fetched row, read by column index like `SQLiteRow`.
struct MariaDBRow {
    let values: [MariaDBValue]

    func isNull(_ i: Int) -> Bool { values[i] == .null }

    func int(_ i: Int) -> Int64 {
        switch values[i] {
        case let .int(v): return v
        // Decimal results (SUM, some expressions) arrive as text.
        case let .bytes(b): return Int64(String(decoding: b, as: UTF8.self)) ?? 0
        case .null: return 0
        }
    }

    func text(_ i: Int) -> String {
        switch values[i] {
        case let .bytes(b): return String(decoding: b, as: UTF8.self)
        case let .int(v): return String(v)
        case .null: return ""
        }
    }

    func blob(_ i: Int) -> Data {
        if case let .bytes(b) = values[i] { return Data(b) }
        return Data()
    }
}

/// A server-side prepared statement (binary protocol): parameters are always
/// bound, never spliced into the SQL text. Owned by one `MariaDBConnection`
/// and used from one thread at a time.
final class MariaDBStatement {
    let stmt: UnsafeMutablePointer<MYSQL_STMT>
    let sql: String
    let parameterCount: Int

    init(connection: UnsafeMutablePointer<MYSQL>, sql: String) throws {
        guard let stmt = mysql_stmt_init(connection) else { throw MariaDBError(connection: connection) }
        let rc = sql.withCString { mysql_stmt_prepare(stmt, $0, UInt(strlen($0))) }
        if rc != 0 {
            let error = MariaDBError(statement: stmt)
            mysql_stmt_close(stmt)
            throw error
        }
        // Have store_result compute each column's longest value, so result
        // buffers are sized once per execution instead of refetching truncated columns.
        var updateMaxLength: my_bool = 1
        mysql_stmt_attr_set(stmt, STMT_ATTR_UPDATE_MAX_LENGTH, &updateMaxLength)
        self.stmt = stmt
        self.sql = sql
        parameterCount = Int(mysql_stmt_param_count(stmt))
    }

    deinit { mysql_stmt_close(stmt) }

    private func fail() -> MariaDBError { MariaDBError(statement: stmt) }

    /// Binds `params` and executes. The parameter buffers live only for this
    /// call: the client sends them during `mysql_stmt_execute`.
    private func execute(_ params: [SQLValue]) throws {
        guard params.count == parameterCount else {
            throw MariaDBError(code: 2034, message: "statement takes \(parameterCount) parameter(s), \(params.count) given")
        }
        var buffers: [UnsafeMutableRawPointer] = []
        defer { buffers.forEach { $0.deallocate() } }
        func copy(_ bytes: UnsafeRawBufferPointer) -> (UnsafeMutableRawPointer, UInt) {
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(1, bytes.count), alignment: 8)
            if let base = bytes.baseAddress, bytes.count > 0 { buffer.copyMemory(from: base, byteCount: bytes.count) }
            buffers.append(buffer)
            return (buffer, UInt(bytes.count))
        }
        var binds = [MYSQL_BIND](repeating: MYSQL_BIND(), count: params.count)
        for (i, value) in params.enumerated() {
            switch value {
            case var .int(v):
                (binds[i].buffer, binds[i].buffer_length) = withUnsafeBytes(of: &v) { copy($0) }
                binds[i].buffer_type = MYSQL_TYPE_LONGLONG
            case let .text(s):
                var utf8 = Array(s.utf8)
                (binds[i].buffer, binds[i].buffer_length) = utf8.withUnsafeMutableBytes { copy(UnsafeRawBufferPointer($0)) }
                binds[i].buffer_type = MYSQL_TYPE_STRING
            case let .blob(d):
                (binds[i].buffer, binds[i].buffer_length) = d.withUnsafeBytes { copy($0) }
                binds[i].buffer_type = MYSQL_TYPE_BLOB
            case .null:
                binds[i].buffer_type = MYSQL_TYPE_NULL
            }
        }
        if !binds.isEmpty {
            let failed = binds.withUnsafeMutableBufferPointer { mysql_stmt_bind_param(stmt, $0.baseAddress) }
            if failed != 0 { throw fail() }
        }
        if mysql_stmt_execute(stmt) != 0 { throw fail() }
    }

    /// Runs a statement that returns no rows; returns the rows it matched
    /// (the connection sets CLIENT_FOUND_ROWS, so an UPDATE that leaves a row
    /// unchanged still counts it, as SQLite does).
    func run(_ params: [SQLValue]) throws -> Int {
        try execute(params)
        let affected = mysql_stmt_affected_rows(stmt)
        // A statement that unexpectedly produced rows must not leave them pending.
        if mysql_stmt_field_count(stmt) > 0 { mysql_stmt_free_result(stmt) }
        return affected == UInt64.max ? 0 : Int(affected)
    }

    /// Runs a query and returns all its rows.
    func query(_ params: [SQLValue]) throws -> [MariaDBRow] {
        try execute(params)
        defer { mysql_stmt_free_result(stmt) }
        if mysql_stmt_store_result(stmt) != 0 { throw fail() }
        guard let meta = mysql_stmt_result_metadata(stmt) else { return [] }
        defer { mysql_free_result(meta) }
        let count = Int(mysql_num_fields(meta))
        guard count > 0, let fields = mysql_fetch_fields(meta) else { return [] }

        // One output buffer per column: 8 bytes for integers, the column's
        // longest value (known after store_result) for everything else.
        var isInteger = [Bool](repeating: false, count: count)
        var binds = [MYSQL_BIND](repeating: MYSQL_BIND(), count: count)
        let lengths = UnsafeMutablePointer<UInt>.allocate(capacity: count)
        let nulls = UnsafeMutablePointer<my_bool>.allocate(capacity: count)
        var buffers: [UnsafeMutableRawPointer] = []
        defer {
            lengths.deallocate()
            nulls.deallocate()
            buffers.forEach { $0.deallocate() }
        }
        for i in 0..<count {
            let field = fields[i]
            switch field.type {
            case MYSQL_TYPE_TINY, MYSQL_TYPE_SHORT, MYSQL_TYPE_INT24, MYSQL_TYPE_LONG, MYSQL_TYPE_LONGLONG, MYSQL_TYPE_YEAR:
                isInteger[i] = true
                binds[i].buffer_type = MYSQL_TYPE_LONGLONG
                binds[i].buffer_length = 8
                binds[i].is_unsigned = (field.flags & UInt32(UNSIGNED_FLAG)) != 0 ? 1 : 0
            default:
                binds[i].buffer_type = MYSQL_TYPE_BLOB
                binds[i].buffer_length = max(1, field.max_length)
            }
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: Int(binds[i].buffer_length), alignment: 8)
            buffers.append(buffer)
            binds[i].buffer = buffer
            binds[i].length = lengths + i
            binds[i].is_null = nulls + i
        }
        let failed = binds.withUnsafeMutableBufferPointer { mysql_stmt_bind_result(stmt, $0.baseAddress) }
        if failed != 0 { throw fail() }

        var rows: [MariaDBRow] = []
        while true {
            let rc = mysql_stmt_fetch(stmt)
            if rc == MYSQL_NO_DATA { break }
            if rc != 0 && rc != MYSQL_DATA_TRUNCATED { throw fail() }
            var values: [MariaDBValue] = []
            values.reserveCapacity(count)
            for i in 0..<count {
                if nulls[i] != 0 {
                    values.append(.null)
                } else if isInteger[i] {
                    let raw = buffers[i].load(as: Int64.self)
                    values.append(.int(raw))
                } else if lengths[i] <= binds[i].buffer_length {
                    values.append(.bytes(Array(UnsafeRawBufferPointer(start: buffers[i], count: Int(lengths[i])))))
                } else {
                    values.append(.bytes(try fetchWhole(column: i, length: Int(lengths[i]))))
                }
            }
            rows.append(MariaDBRow(values: values))
        }
        return rows
    }

    /// Refetches one column whose value outgrew its buffer (should max_length ever be short).
    private func fetchWhole(column: Int, length: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: length)
        var got: UInt = 0
        let rc = bytes.withUnsafeMutableBytes { buffer -> Int32 in
            var bind = MYSQL_BIND()
            bind.buffer_type = MYSQL_TYPE_BLOB
            bind.buffer = buffer.baseAddress
            bind.buffer_length = UInt(length)
            return withUnsafeMutablePointer(to: &got) { gotPointer in
                bind.length = gotPointer
                return mysql_stmt_fetch_column(stmt, &bind, UInt32(column), 0)
            }
        }
        if rc != 0 { throw fail() }
        return bytes
    }
}
