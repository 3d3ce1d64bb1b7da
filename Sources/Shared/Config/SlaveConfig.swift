import Foundation

/// One `[[processors.<kind>]]` entry: an external program that runs jobs of a kind.
public struct ProcessorConfig: Sendable {
    public var kind: String
    public var bin: String
    public var args: [String]
    public var envs: [String: String]
    public var concurrent: Int
    public var cpuset: String
    /// Kill the program and fail the attempt after this long (µs); 0 = no limit of its own.
    public var timeout: Int64
    /// How the slave talks to it: a program per job, or damocles' long-lived processors.
    public var `protocol`: ProcessorProtocol = .oneshot
    /// vc: how long the ready line may take (µs), damocles' `stable_wait`.
    public var stableWait: Int64 = 5_000_000
    /// vc: start the child again (after 3 s) when it exits.
    public var autoRestart = true
    /// vc: start from the slave's environment (else from an empty one), then `envs`.
    public var inheritEnvs = true

    /// The kinds that speak vc-processors unless an entry says `protocol`.
    public static let vcKinds = ["window_post", "winning_post"]
}

/// `protocol` of a `[[processors.KIND]]` entry.
public enum ProcessorProtocol: String, Sendable {
    /// One program per job: the input on stdin, the output from stdout, the exit status.
    case oneshot
    /// damocles' vc-processors: a long-lived child per entry, JSON lines matched by id.
    case vc
}

/// `slave.toml`. Durations are microseconds.
public struct SlaveConfig: Sendable {
    public var serverAddr: HostPort
    public var reconnectInterval: Int64
    public var heartbeatInterval: Int64
    public var token: [UInt8]
    public var name: String
    public var concurrent: Int
    public var pullInterval: Int64
    public var shutdownGrace: Int64
    public var kinds: [String]
    public var allowedMiners: [String]
    public var allowedSizes: [String]
    public var processors: [ProcessorConfig]
    /// Data disk checked by the `dbc-verify` probe (the filesystem holding it).
    public var dataPath: String
    /// `[dbc] doctor_root`: where the `dbc-doctor` kind reads /proc, /sys, /dev, /etc and /data.
    public var doctorRoot: String = "/"
    /// `[dbc]` node id, rent listener and chain check (`SlaveConfig+DBC.swift`).
    public var dbc = SlaveDBCConfig()
    /// Said at start-up in the log; nothing here stops it.
    public var warnings: [String] = []
    /// Directories (real paths, symlinks resolved) a `wdpost` job's sector files
    /// must be in; none: the kind reads no file. Whoever can hand out jobs (the
    /// master, or whoever poses as it) otherwise reads any file the slave can.
    public var sectorPaths: [String] = []

    /// Kinds this binary runs without an external program.
    public static let builtinKinds = [JobKind.noop, JobKind.synthetic, JobKind.wdpost, JobKind.dbcVerify, JobKind.dbcDoctor]

    public static func load(path: String) throws -> SlaveConfig {
        let r = try ConfigReader(path: path)
        var config = SlaveConfig(
            serverAddr: try r.address("master", "server_addr", default: "127.0.0.1:9527"),
            reconnectInterval: try r.duration("master", "reconnect_interval", default: "5s"),
            heartbeatInterval: try r.duration("master", "heartbeat_interval", default: "10s"),
            token: try r.token("master", "token_file", beside: "slave.token", create: false),
            name: try r.string("slave", "name", default: ProcessInfo.processInfo.hostName),
            concurrent: try r.int("slave", "concurrent", default: 1, min: 1),
            pullInterval: try r.duration("slave", "pull_interval", default: "10s"),
            shutdownGrace: try r.duration("slave", "shutdown_grace", default: "30s", allowZero: true),
            kinds: try r.stringArray("slave", "kinds", default: builtinKinds),
            allowedMiners: try r.stringArray("slave", "allowed_miners"),
            allowedSizes: try r.stringArray("slave", "allowed_sizes"),
            processors: try readProcessors(r),
            dataPath: try r.string("slave", "data_path", default: "/data"))
        for size in config.allowedSizes where !PoStProofType.sizes.contains(size) {
            throw ConfigError("\(path): [slave] allowed_sizes: \"\(size)\" is not a sector size (expected some of \(PoStProofType.sizes.joined(separator: ", ")))")
        }
        for kind in config.kinds where !builtinKinds.contains(kind) {
            throw ConfigError("\(path): [slave] kinds: \"\(kind)\" is not a built-in kind (built-in: \(builtinKinds.joined(separator: ", "))); run other kinds through [[processors.\(kind)]]")
        }
        // The master normalises and checks names the same way at the handshake;
        // refusing here stops a slave that could never connect at start.
        do { config.name = try PeerName.validated(config.name, what: "name") } catch {
            throw ConfigError("\(path): [slave] \(error)")
        }
        guard !config.dataPath.isEmpty else { throw ConfigError("\(path): [slave] data_path: expected a directory path") }
        config.dataPath = r.resolvePath(config.dataPath)
        config.sectorPaths = try readSectorPaths(r)
        let doctorRoot = try r.string("dbc", "doctor_root", default: "/")
        guard !doctorRoot.isEmpty else { throw ConfigError("\(path): [dbc] doctor_root: expected a directory path (default \"/\")") }
        config.doctorRoot = r.resolvePath(doctorRoot)
        config.dbc = try SlaveDBCConfig.read(r)
        config.kinds = Array(Set(config.kinds + config.processors.map(\.kind))).sorted()
        try r.rejectUnknown(ignoringSections: ["processors"])
        config.warnings = r.warnings
        return config
    }

    /// Jobs of `kind` this slave runs at once, when processors run it: every
    /// vc entry is a child with its own `concurrent`; a one-shot kind runs at
    /// its first entry's.
    public func processorSlots(_ kind: String) -> Int? {
        let entries = processors.filter { $0.kind == kind }
        guard let first = entries.first else { return nil }
        return first.protocol == .vc ? entries.reduce(0) { $0 + $1.concurrent } : first.concurrent
    }

    static func readSectorPaths(_ r: ConfigReader) throws -> [String] {
        try r.stringArray("slave", "sector_paths").map { entry in
            let what = "\(r.path): [slave] sector_paths: \"\(entry)\""
            guard !entry.isEmpty else { throw ConfigError("\(what): expected a directory path") }
            guard let real = realpath(r.resolvePath(entry), nil) else {
                throw ConfigError("\(what): \(String(cString: strerror(errno)))")
            }
            defer { free(real) }
            var info = stat()
            guard stat(real, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else { throw ConfigError("\(what): not a directory") }
            return String(cString: real)
        }
    }

    /// Where exec will find `program`, as execvp looks: the path itself when it
    /// has a '/', else the first executable regular file of that name in PATH.
    /// Nil, with why, when there is none.
    static func locate(_ program: String) -> (path: String?, why: String) {
        func executable(_ path: String) -> String? {
            var info = stat()
            guard stat(path, &info) == 0 else { return String(cString: strerror(errno)) }
            if info.st_mode & S_IFMT == S_IFDIR { return "is a directory" }
            guard info.st_mode & S_IFMT == S_IFREG else { return "is not a regular file" }
            return access(path, X_OK) == 0 ? nil : "is not executable"
        }
        if program.contains("/") {
            if let why = executable(program) { return (nil, "\(program): \(why)") }
            return (program, "")
        }
        // execvp's search path when PATH is unset; an empty entry is the current directory.
        let search = ProcessInfo.processInfo.environment["PATH"] ?? "/bin:/usr/bin"
        for dir in search.split(separator: ":", omittingEmptySubsequences: false) {
            let candidate = (dir.isEmpty ? "." : String(dir)) + "/" + program
            if executable(candidate) == nil { return (candidate, "") }
        }
        return (nil, "\"\(program)\" is not an executable in PATH (\(search))")
    }

    static func readProcessors(_ r: ConfigReader) throws -> [ProcessorConfig] {
        guard let table = try r.table("processors") else { return [] }
        var result: [ProcessorConfig] = []
        for kind in table.keys {
            let where_ = "\(r.path): [[processors.\(kind)]]"
            guard let entries = table[kind]?.array else { throw ConfigError("\(where_): expected an array of tables") }
            for entry in entries {
                guard let t = entry.table else { throw ConfigError("\(where_): expected an array of tables") }
                var proto: ProcessorProtocol = ProcessorConfig.vcKinds.contains(kind) ? .vc : .oneshot
                if let p = t["protocol"] {
                    guard let text = p.string, let chosen = ProcessorProtocol(rawValue: text) else {
                        throw ConfigError("\(where_) protocol: expected \"vc\" (damocles' long-lived processors) or \"oneshot\" (a program per job)")
                    }
                    proto = chosen
                }
                let known = proto == .vc
                    ? ["args", "auto_restart", "bin", "cgroup", "concurrent", "envs", "inherit_envs", "protocol", "stable_wait"]
                    : ["args", "bin", "cgroup", "concurrent", "envs", "protocol", "timeout"]
                for key in t.keys.sorted() where !known.contains(key) {
                    let why = ["auto_restart", "inherit_envs", "stable_wait"].contains(key) ? " (only with protocol = \"vc\")"
                        : key == "timeout" ? " (not with protocol = \"vc\": the master's [task] timeout aborts a job)" : ""
                    throw ConfigError("\(where_): unknown key \"\(key)\"\(why) (known: \(known.joined(separator: ", ")))")
                }
                func flag(_ key: String) throws -> Bool {
                    guard let v = t[key] else { return true }
                    guard let b = v.bool else { throw ConfigError("\(where_) \(key): expected true or false") }
                    return b
                }
                let autoRestart = try flag("auto_restart"), inheritEnvs = try flag("inherit_envs")
                var stableWait: Int64 = 5_000_000
                if let v = t["stable_wait"] {
                    guard let text = v.string, let micros = try? DurationText.micros(text), micros > 0 else {
                        throw ConfigError("\(where_) stable_wait: expected a duration string such as \"5s\"")
                    }
                    stableWait = micros
                }
                guard let bin = t["bin"]?.string, !bin.isEmpty else { throw ConfigError("\(where_) bin: expected the path of the program") }
                let args = try (t["args"]?.array).map { try $0.map { v -> String in
                    guard let s = v.string else { throw ConfigError("\(where_) args: expected an array of strings") }
                    return s
                } } ?? []
                var envs: [String: String] = [:]
                if let e = t["envs"] {
                    guard let et = e.table else { throw ConfigError("\(where_) envs: expected a table of strings") }
                    for k in et.keys {
                        guard let s = et[k]?.string else { throw ConfigError("\(where_) envs.\(k): expected a string") }
                        envs[k] = s
                    }
                }
                var concurrent = 1
                if let c = t["concurrent"] {
                    guard let i = c.int, i >= 1 else { throw ConfigError("\(where_) concurrent: expected an integer ≥ 1") }
                    concurrent = i
                }
                var cpuset = ""
                if let g = t["cgroup"] {
                    guard let gt = g.table, gt.keys.allSatisfy({ $0 == "cpuset" }) else {
                        throw ConfigError("\(where_) cgroup: expected a table with the key cpuset, e.g. cgroup = { cpuset = \"0-7\" }")
                    }
                    if let c = gt["cpuset"] {
                        guard let text = c.string else { throw ConfigError("\(where_) cgroup.cpuset: expected a CPU list string such as \"0-7\"") }
                        cpuset = text
                    }
                }
                var timeout: Int64 = 0
                if let tv = t["timeout"] {
                    guard let text = tv.string, let micros = try? DurationText.micros(text) else {
                        throw ConfigError("\(where_) timeout: expected a duration string such as \"30m\"")
                    }
                    timeout = micros
                }
                // A bare program name is looked up in PATH; a relative path is relative to the config file.
                let program = bin.contains("/") ? r.resolvePath(bin) : bin
                // Checked now: a missing program would otherwise fail every try of every job of the kind.
                let found = locate(program)
                guard found.path != nil else { throw ConfigError("\(where_) bin: \(found.why)") }
                // A vc child joins the cgroup named in its environment itself; a one-shot one runs under taskset.
                if !cpuset.isEmpty && proto == .oneshot {
                    let taskset = locate("taskset")
                    guard taskset.path != nil else { throw ConfigError("\(where_) cgroup.cpuset: needs taskset (util-linux): \(taskset.why)") }
                }
                if let other = result.first(where: { $0.kind == kind && $0.protocol != proto }) {
                    throw ConfigError("\(where_) protocol: every entry of one kind speaks one protocol (another says \"\(other.protocol.rawValue)\")")
                }
                result.append(ProcessorConfig(kind: kind, bin: program, args: args, envs: envs, concurrent: concurrent,
                                              cpuset: cpuset, timeout: timeout, protocol: proto, stableWait: stableWait,
                                              autoRestart: autoRestart, inheritEnvs: inheritEnvs))
            }
        }
        return result
    }
}
