import Foundation

/// A bound value for a prepared statement, shared by both backends. Only
/// parameters are ever bound; no SQL text is built from user input.
enum SQLValue {
    case int(Int64)
    case text(String)
    case blob(Data)
    case null
}
