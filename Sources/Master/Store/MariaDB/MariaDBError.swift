import CMariaDB
import Foundation

/// An error reported by libmariadb or the server, with MariaDB's own code,
/// SQLSTATE and message. The client and server never put the password in a
/// message (access denied says only "using password: YES"), and this type adds
/// nothing but the code and state, so it is safe to log.
public struct MariaDBError: Error, CustomStringConvertible, StoreTransactionError {
    public let code: UInt32
    public let sqlstate: String
    public let message: String

    public init(code: UInt32, sqlstate: String = "HY000", message: String) {
        self.code = code
        self.sqlstate = sqlstate
        self.message = message
    }

    init(connection: UnsafeMutablePointer<MYSQL>) {
        self.init(code: mysql_errno(connection), sqlstate: String(cString: mysql_sqlstate(connection)),
                  message: String(cString: mysql_error(connection)))
    }

    init(statement: UnsafeMutablePointer<MYSQL_STMT>) {
        self.init(code: mysql_stmt_errno(statement), sqlstate: String(cString: mysql_stmt_sqlstate(statement)),
                  message: String(cString: mysql_stmt_error(statement)))
    }

    public var description: String { "MariaDB error \(code) (\(sqlstate)): \(message)" }

    /// Codes after which the connection is unusable: the client lost the socket
    /// (2002, 2003, 2006, 2013, 2055, 5013, 5014), or the server is shutting
    /// down, killed the connection or hit a network error on it.
    static let connectionLostCodes: Set<UInt32> = [
        2002, 2003, 2006, 2013, 2055, 5013, 5014,  // client: cannot connect, gone, lost, read/write failed
        1053,  // ER_SERVER_SHUTDOWN
        1077,  // ER_NORMAL_SHUTDOWN
        1152, 1158, 1159, 1160, 1161,  // ER_ABORTING_CONNECTION, ER_NET_*
        1927,  // ER_CONNECTION_KILLED
        4031,  // ER_CLIENT_INTERACTION_TIMEOUT (idle connection closed by the server)
    ]

    public var isConnectionLost: Bool { Self.connectionLostCodes.contains(code) }

    /// 1213 (ER_LOCK_DEADLOCK): InnoDB chose this transaction as the deadlock
    /// victim and rolled all of it back. (A lock wait timeout, 1205, undoes only
    /// the statement, so the savepoint handles it like any failed operation.)
    public var isTransactionRolledBack: Bool { code == 1213 }

    /// 1062 (ER_DUP_ENTRY): a unique key already holds the value.
    var isDuplicateKey: Bool { code == 1062 }
}
