import Foundation

/// A result row, by column index, as both backends read it.
protocol SQLRow {
    func int(_ i: Int) -> Int64
    func isNull(_ i: Int) -> Bool
    func text(_ i: Int) -> String
    func blob(_ i: Int) -> Data
}

/// What SQL shared by the two backends needs of a connection: prepared
/// statements with bound parameters, run or queried.
protocol SQLConnection: AnyObject {
    associatedtype Row: SQLRow
    @discardableResult
    func run(_ sql: String, _ params: [SQLValue]) throws -> Int
    func query<T>(_ sql: String, _ params: [SQLValue], _ map: (Row) throws -> T) throws -> [T]
}

extension SQLiteConnection: SQLConnection {}
extension MariaDBConnection: SQLConnection {}
extension SQLiteRow: SQLRow {}
extension MariaDBRow: SQLRow {}
