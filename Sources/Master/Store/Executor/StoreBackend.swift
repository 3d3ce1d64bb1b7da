import Foundation
import Shared

/// The store named by `db.url`: its first connection, opened and migrated at
/// start-up (so a wrong password or an unreachable server stops the master at
/// once, with one clear line), and how the executor's pool opens more.
public struct StoreBackend {
    public let first: JobStore
    public let pool: StoreExecutor.Pool
    /// The URL with the password redacted, for log lines.
    public let target: String
    public let open: () throws -> JobStore

    public static func open(_ db: MasterConfig.DB) throws -> StoreBackend {
        let target = DatabaseURL.redacted(db.url)
        if db.url.hasPrefix("sqlite://") {
            // One SQLite file has one writer: its pool is a single connection,
            // and the file one master, locked before the file is touched.
            let path = String(db.url.dropFirst("sqlite://".count))
            let lock = path.isEmpty || path == ":memory:" ? nil : try SQLiteFileLock(database: path)
            let store = try SQLiteStore(path: path)
            store.masterLock = lock
            try store.migrate()
            return StoreBackend(first: store, pool: .single, target: target) {
                throw ErrorMessage("the SQLite connection cannot be reopened")
            }
        }
        if db.url.hasPrefix("mysql://") {
            let url = try MariaDBURL(parsing: db.url)
            let store: MariaDBStore
            do {
                store = try MariaDBStore(url: url)
            } catch let error as MariaDBError {
                // The server's message names the user and host, never the password.
                throw ConfigError("cannot connect to \(url): \(error.message) (MariaDB error \(error.code))")
            }
            do {
                try store.migrate()
            } catch {
                throw ConfigError("\(url): schema migration failed: \(error)")
            }
            let pool = StoreExecutor.Pool(minConnections: db.minConnections, maxConnections: db.maxConnections,
                                          idleTimeout: db.idleTimeout)
            return StoreBackend(first: store, pool: pool, target: target) { try MariaDBStore(url: url) }
        }
        throw ConfigError("db.url \(target): expected sqlite://PATH or mysql://user:password@host:port/database")
    }
}
