import Foundation

/// `master.toml`. Durations are microseconds.
public struct MasterConfig: Sendable {
    public struct Server: Sendable {
        public var listen: HostPort
        /// Authenticated connections (slaves and admin clients).
        public var maxConnections: Int
        /// Connections still in their handshake: a budget of their own, so
        /// peers without a token cannot keep real slaves out.
        public var maxUnauthenticated: Int = 256
        public var maxFrameBytes: Int
        /// A frame begun must be complete within this (µs): cuts off slow-loris senders.
        public var frameTimeout: Int64
        /// A connection silent for this long (µs) is closed: cuts off half-open peers.
        public var idleTimeout: Int64
        public var slaveToken: [UInt8]
        public var adminToken: [UInt8]
    }
    public struct DB: Sendable {
        public var url: String
        public var minConnections: Int
        public var maxConnections: Int
        public var idleTimeout: Int64
    }
    public struct Task: Sendable {
        public var timeout: Int64
        public var maxRetry: Int
        public var heartbeatTimeout: Int64
        public var retryJobInterval: Int64
        public var archiveJobInterval: Int64
        public var shouldArchive: Int64
        public var jobLifetime: Int64
    }
    /// `[dbc]`: DeepBrainChain machine verification.
    public struct DBC: Sendable {
        /// Committee members; an order books 3 of them at random. Empty: verification is off.
        public var committee: [String]
        /// Members a person acts for (`wdpost dbc submit-hash/submit-raw`); the
        /// master runs the probe for every other member itself.
        public var manual: [String]
        /// Length of one chain block (µs); the chain's hours are 600 blocks.
        public var blockTime: Int64

        public init(committee: [String] = [], manual: [String] = [], blockTime: Int64 = 6_000_000) {
            self.committee = committee; self.manual = manual; self.blockTime = blockTime
        }

        public func isAutomatic(_ member: String) -> Bool { committee.contains(member) && !manual.contains(member) }
        public func isManual(_ member: String) -> Bool { committee.contains(member) && manual.contains(member) }
    }

    public var name: String
    public var server: Server
    public var db: DB
    public var task: Task
    /// `[metrics] listen`: the Prometheus endpoint and status page; nil = off.
    public var metricsListen: HostPort?
    public var dbc: DBC = DBC()
    /// `[damocles]`: running as damocles-manager's ext-prover child.
    public var damocles: Damocles = Damocles()
    public var computechain = ComputeChainConfig()
    /// Said at start-up in the log; nothing here stops it.
    public var warnings: [String] = []
    /// `[metrics]` limits on its HTTP connections, kept apart from the RPC side's.
    public var http = HTTP()

    public struct HTTP: Sendable {
        /// Connections beyond this are closed at once.
        public var maxConnections = 64
        /// µs a connection may take to send a whole request (or sit idle between
        /// requests) before it is closed: half-open and slow clients hold nothing long.
        public var requestTimeout: Int64 = 10_000_000
        public init() {}
    }
    /// Logged at start-up as information (a token file created).
    public var notices: [String] = []

    public static func load(path: String) throws -> MasterConfig {
        let r = try ConfigReader(path: path)
        let name = try r.string("server", "name", default: ProcessInfo.processInfo.hostName)
        let server = Server(
            listen: try r.address("server", "listen", default: "0.0.0.0:9527"),
            maxConnections: try r.int("server", "max_connections", default: 4096, min: 1),
            maxUnauthenticated: try r.int("server", "max_unauthenticated", default: 256, min: 1),
            maxFrameBytes: try r.int("server", "max_frame_bytes", default: Frame.defaultMaxBytes, min: 1024),
            frameTimeout: try r.duration("server", "frame_timeout", default: "30s"),
            idleTimeout: try r.duration("server", "idle_timeout", default: "5m"),
            slaveToken: try r.token("server", "token_file", beside: "slave.token", create: true),
            adminToken: try r.token("server", "admin_token_file", beside: "admin.token", create: true))
        guard server.maxFrameBytes <= Frame.maxAllowedBytes else {
            throw ConfigError("\(path): [server] max_frame_bytes: expected at most \(Frame.maxAllowedBytes) (256 MiB), got \(server.maxFrameBytes)")
        }
        if server.slaveToken == server.adminToken {
            throw ConfigError("\(path): [server] token_file and admin_token_file hold the same secret, so every slave could run admin commands (remove-all); give admins a token of their own")
        }
        let db = DB(
            url: try r.string("db", "url", default: "sqlite://wdpost.db"),
            minConnections: try r.int("db", "min_connections", default: 1, min: 0),
            maxConnections: try r.int("db", "max_connections", default: 10, min: 1),
            idleTimeout: try r.duration("db", "idle_timeout", default: "10m"))
        guard db.minConnections <= db.maxConnections else {
            throw ConfigError("\(path): [db] min_connections (\(db.minConnections)) must not exceed max_connections (\(db.maxConnections))")
        }
        let task = Task(
            timeout: try r.duration("task", "timeout", default: "1h"),
            maxRetry: try r.int("task", "max_retry", default: 3, min: 1),
            heartbeatTimeout: try r.duration("task", "heartbeat_timeout", default: "1m"),
            retryJobInterval: try r.duration("task", "retry_job_interval", default: "10s", allowZero: true),
            archiveJobInterval: try r.duration("task", "archive_job_interval", default: "10m"),
            shouldArchive: try r.duration("task", "should_archive", default: "2days"),
            jobLifetime: try r.duration("task", "job_lifetime", default: "30days"))
        let metricsText = try r.string("metrics", "listen", default: "")
        let metrics = metricsText.isEmpty ? nil : try r.address("metrics", "listen", default: "")
        let dbc = try readDBC(r)
        let computechain = try readComputeChain(r)
        var http = HTTP()
        http.maxConnections = try r.int("metrics", "max_connections", default: http.maxConnections, min: 1)
        http.requestTimeout = try r.duration("metrics", "request_timeout", default: "10s")
        let damocles = try readDamocles(r)
        try r.rejectUnknown()
        var config = MasterConfig(name: name, server: server, db: db, task: task, metricsListen: metrics, dbc: dbc, damocles: damocles)
        config.warnings = r.warnings
        config.http = http
        config.notices = r.notices
        config.computechain = computechain
        config.db.url = try DatabaseURL.resolveSQLitePath(config.db.url, relativeTo: r)
        return config
    }
}

extension MasterConfig {
    static func readDBC(_ r: ConfigReader) throws -> DBC {
        let committee = try r.stringArray("dbc", "committee")
        let manual = try r.stringArray("dbc", "manual")
        let blockTime = try r.duration("dbc", "block_time", default: "6s")
        let path = r.path
        for name in committee where name.isEmpty || name.contains(where: { $0.isWhitespace || $0 == "," }) {
            throw ConfigError("\(path): [dbc] committee: \"\(name)\" is not a member name (expected a non-empty name without spaces or commas)")
        }
        if let dup = committee.first(where: { name in committee.filter { $0 == name }.count > 1 }) {
            throw ConfigError("\(path): [dbc] committee: \"\(dup)\" is listed twice")
        }
        if !committee.isEmpty && committee.count < DBCRules.membersPerOrder {
            throw ConfigError("\(path): [dbc] committee: expected at least \(DBCRules.membersPerOrder) members (an order books \(DBCRules.membersPerOrder) distinct members), or none to turn verification off; got \(committee.count)")
        }
        for name in manual where !committee.contains(name) {
            throw ConfigError("\(path): [dbc] manual: \"\(name)\" is not in [dbc] committee")
        }
        return DBC(committee: committee, manual: manual, blockTime: blockTime)
    }
}

/// `db.url`: `sqlite://PATH` (relative to the config file) or `mysql://user:pass@host:port/db`.
public enum DatabaseURL {
    static func resolveSQLitePath(_ url: String, relativeTo r: ConfigReader) throws -> String {
        if url.hasPrefix("sqlite://") {
            let path = String(url.dropFirst("sqlite://".count))
            guard !path.isEmpty else { throw ConfigError("\(r.path): [db] url: expected sqlite://PATH with a file path") }
            return "sqlite://" + r.resolvePath(path)
        }
        if url.hasPrefix("mysql://") {
            // Checked here so a malformed URL stops start-up naming the file and key.
            do { _ = try MariaDBURL(parsing: url) } catch { throw ConfigError("\(r.path): [db] url: \(error)") }
            return url
        }
        throw ConfigError("\(r.path): [db] url: expected \"sqlite://PATH\" or \"mysql://user:password@host:port/database\"")
    }

    /// The URL with any password replaced, for log lines and error messages.
    public static func redacted(_ url: String) -> String {
        guard let scheme = url.range(of: "://"), let at = url.range(of: "@", options: .backwards) else { return url }
        let userinfo = url[scheme.upperBound..<at.lowerBound]
        guard let colon = userinfo.firstIndex(of: ":") else { return url }
        return String(url[..<colon]) + ":***" + String(url[at.lowerBound...])
    }
}
