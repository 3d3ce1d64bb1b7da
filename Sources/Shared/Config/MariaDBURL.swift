import Foundation

/// `mysql://user:password@host:port/database`, taken apart for the C client.
/// User, password and database are percent-decoded (a password holding `@`,
/// `/` or `:` is written `%40`, `%2F`, `%3A`); the port defaults to 3306; an
/// IPv6 host is written in brackets. The database name is kept as given
/// (`venus-cluster-wdpost` is a valid name and is passed as-is to the client).
public struct MariaDBURL: Sendable, Equatable, CustomStringConvertible {
    public var user: String
    public var password: String
    public var host: String
    public var port: Int
    public var database: String

    public static let defaultPort = 3306

    public init(user: String, password: String, host: String, port: Int = MariaDBURL.defaultPort, database: String) {
        self.user = user
        self.password = password
        self.host = host
        self.port = port
        self.database = database
    }

    /// Parses the URL; the error text never contains the password.
    public init(parsing url: String) throws {
        let expected = "expected mysql://user:password@host:port/database"
        guard url.hasPrefix("mysql://") else { throw ConfigError("\(expected)") }
        let rest = url.dropFirst("mysql://".count)
        // The last '@' ends the userinfo, so a raw '@' in a password still parses.
        guard let at = rest.lastIndex(of: "@") else { throw ConfigError("\(expected): no user") }
        let userinfo = rest[..<at]
        let location = rest[rest.index(after: at)...]
        let userPart: Substring, passwordPart: Substring
        if let colon = userinfo.firstIndex(of: ":") {
            userPart = userinfo[..<colon]
            passwordPart = userinfo[userinfo.index(after: colon)...]
        } else {
            userPart = userinfo
            passwordPart = ""
        }
        guard let user = String(userPart).removingPercentEncoding, !user.isEmpty else {
            throw ConfigError("\(expected): the user is empty or badly percent-encoded")
        }
        guard let password = String(passwordPart).removingPercentEncoding else {
            throw ConfigError("\(expected): the password is badly percent-encoded")
        }
        guard let slash = location.firstIndex(of: "/") else { throw ConfigError("\(expected): no database") }
        let hostPort = location[..<slash]
        guard let database = String(location[location.index(after: slash)...]).removingPercentEncoding,
              !database.isEmpty, !database.contains("/"), !database.contains("?") else {
            throw ConfigError("\(expected): the database name is missing or not a plain name")
        }
        var host = String(hostPort)
        var port = Self.defaultPort
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { throw ConfigError("\(expected): unclosed '[' in the host") }
            let after = host[host.index(after: close)...]
            if after.hasPrefix(":") {
                guard let p = Int(after.dropFirst()), (1...65535).contains(p) else { throw ConfigError("\(expected): bad port") }
                port = p
            } else if !after.isEmpty {
                throw ConfigError("\(expected): bad host")
            }
            host = String(host[host.index(after: host.startIndex)..<close])
        } else if let colon = host.lastIndex(of: ":") {
            guard let p = Int(host[host.index(after: colon)...]), (1...65535).contains(p) else {
                throw ConfigError("\(expected): bad port")
            }
            port = p
            host = String(host[..<colon])
        }
        guard !host.isEmpty else { throw ConfigError("\(expected): no host") }
        self.init(user: user, password: password, host: host, port: port, database: database)
    }

    /// Where and as whom, without the password: for log lines and error messages.
    public var description: String {
        let h = host.contains(":") ? "[\(host)]" : host
        return "MariaDB at \(h):\(port) database \(database) as \(user)"
    }
}
