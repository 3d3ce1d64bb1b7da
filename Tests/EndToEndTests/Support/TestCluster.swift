import Foundation
import Shared

/// A master and its slaves as real processes on loopback, in a temporary
/// directory with their own configs, tokens, SQLite file and logs. Give it a
/// `mysql://` URL to use MariaDB instead; several clusters given the same URL
/// are several masters sharing one database, each with its own slaves.
final class TestCluster: @unchecked Sendable {
    let dir: URL
    let binary: URL
    let slaveToken = "slave-token-\(UUID().uuidString)"
    let adminToken = "admin-token-\(UUID().uuidString)"
    var masterTask: [String: String]
    /// Lines of the master's [dbc] section.
    var masterDBC: String
    let dbURL: String
    let masterName: String
    var master: Proc?
    var masterRuns = 0
    var port = 0
    var slaves: [String: Proc] = [:]
    /// Serve `[metrics]` on a free port; its URL is read from the master's stdout.
    var metrics = false
    /// Extra lines for the master's [server] section.
    var serverExtra = ""
    var metricsURL: String?
    /// Shell commands run before the master is exec'd in the same shell (e.g. `ulimit -n 64`).
    var masterShellPrefix: String?
    /// Extra lines for the master's [metrics] section (with `metrics`).
    var metricsExtra = ""
    /// Sections appended to master.toml (e.g. `[computechain]`).
    var masterExtra = ""
    /// Extra environment of the master process (e.g. libfaketime's).
    var masterEnvironment: [String: String] = [:]
    private var admin: AdminClient?

    /// `task` overrides keys of the master's [task] section (values are TOML literals).
    init(task: [String: String] = [:], dbc: String = "", dbURL: String = "sqlite://wdpost.db", masterName: String = "test-master") throws {
        masterDBC = dbc
        self.dbURL = dbURL
        self.masterName = masterName
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("wdpost-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        binary = Self.findBinary()
        masterTask = ["heartbeat_timeout": "\"2s\"", "retry_job_interval": "\"100ms\"", "max_retry": "3"]
        masterTask.merge(task) { $1 }
        try slaveToken.write(to: dir.appendingPathComponent("slave.token"), atomically: true, encoding: .utf8)
        try adminToken.write(to: dir.appendingPathComponent("admin.token"), atomically: true, encoding: .utf8)
        for token in ["slave.token", "admin.token"] {
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: dir.appendingPathComponent(token).path)
        }
    }

    static func findBinary() -> URL {
        if let path = ProcessInfo.processInfo.environment["WDPOST_BIN"] { return URL(fileURLWithPath: path) }
        // `swift test` runs the test bundle from the build products directory, beside the wdpost binary.
        let beside = Bundle.main.bundleURL.appendingPathComponent("wdpost")
        if FileManager.default.isExecutableFile(atPath: beside.path) { return beside }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/wdpost")
    }

    var address: HostPort { HostPort(host: "127.0.0.1", port: port) }

    func write(_ name: String, _ text: String) throws -> URL {
        let url = dir.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    func writeMasterConfig() throws -> URL {
        let task = masterTask.sorted { $0.key < $1.key }.map { "\($0.key) = \($0.value)" }.joined(separator: "\n")
        return try write("master.toml", """
            [server]
            name = "\(masterName)"
            listen = "127.0.0.1:\(port)"
            token_file = "slave.token"
            admin_token_file = "admin.token"
            \(serverExtra)
            [db]
            url = "\(dbURL)"
            [task]
            \(task)
            \(metrics ? "[metrics]\nlisten = \"127.0.0.1:0\"\n\(metricsExtra)" : "")
            [dbc]
            \(masterDBC)
            \(masterExtra)
            """)
    }

    func launchMaster() throws -> Proc {
        let config = try writeMasterConfig()
        masterRuns += 1
        let arguments = ["master", "daemon", "-c", config.path]
        let logURL = dir.appendingPathComponent("master-\(masterRuns).log")
        let proc = try masterShellPrefix.map {
            try Proc(binary: URL(fileURLWithPath: "/bin/bash"), arguments: ["-c", "\($0) && exec \"$0\" \"$@\"", binary.path] + arguments,
                     logURL: logURL, environment: masterEnvironment)
        } ?? Proc(binary: binary, arguments: arguments, logURL: logURL, environment: masterEnvironment)
        master = proc
        return proc
    }

    /// Starts (or restarts, on the same port) the master and waits for its "listening" line.
    func startMaster() async throws {
        let proc = try launchMaster()
        let line = try await proc.waitForLine(containing: "listening on")
        guard let p = line.split(separator: ":").last.flatMap({ Int($0) }) else { throw TestFailure("no port in \(line)") }
        port = p
        if metrics {
            let http = try await proc.waitForLine(containing: "status page on ")
            metricsURL = http.components(separatedBy: "status page on ").last
        }
    }

    /// Starts a slave; `extra` adds lines to its [slave] section.
    @discardableResult
    func startSlave(_ name: String, concurrent: Int = 2, grace: String = "1s", extra: String = "",
                    environment: [String: String] = [:]) throws -> Proc {
        let config = try write("slave-\(name).toml", """
            [master]
            server_addr = "127.0.0.1:\(port)"
            token_file = "slave.token"
            reconnect_interval = "200ms"
            heartbeat_interval = "300ms"
            [slave]
            name = "\(name)"
            concurrent = \(concurrent)
            pull_interval = "1s"
            shutdown_grace = "\(grace)"
            \(extra)
            """)
        let proc = try Proc(binary: binary, arguments: ["slave", "daemon", "-c", config.path],
                            logURL: dir.appendingPathComponent("slave-\(name)-\(UUID().uuidString.prefix(4)).log"),
                            environment: environment)
        slaves[name] = proc
        return proc
    }

    func client() async throws -> AdminClient {
        if let admin, admin.isActive { return admin }
        let fresh = try await AdminClient.connect(to: address, token: Array(adminToken.utf8))
        admin = fresh
        return fresh
    }

    /// Polls the master's job table until `done` holds; the table is the event
    /// the test waits for, checked every 50 ms up to `timeout`.
    @discardableResult
    func waitFor(_ what: String, timeout: TimeInterval = 60, all: Bool = true, every interval: TimeInterval = 0.05,
                 _ done: ([Job]) -> Bool) async throws -> [Job] {
        let deadline = Date().addingTimeInterval(timeout)
        var last: [Job] = []
        while Date() < deadline {
            if let jobs = try? await client().list(all: all) {
                last = jobs
                if done(jobs) { return jobs }
            }
            try await Task.sleep(nanoseconds: UInt64(interval * 1e9))
        }
        let states = Dictionary(grouping: last, by: \.state).mapValues(\.count)
        throw TestFailure("timed out waiting for \(what); states: \(states)\nmaster log tail:\n\(master?.log.suffix(2000) ?? "")")
    }

    func submitNoop(_ count: Int, input: String = "{}") async throws -> [String] {
        try await client().submit(Array(repeating: NewJob(kind: JobKind.noop, input: Data(input.utf8)), count: count))
    }

    /// Runs the real `wdpost` command line against this master.
    /// `admin: false` runs a command that does not talk to the master.
    func cli(_ args: [String], admin: Bool = true) throws -> (status: Int32, out: String, err: String) {
        try run(args + (admin ? ["--master", address.description, "--token-file", dir.appendingPathComponent("admin.token").path] : []))
    }

    /// Runs the `wdpost` binary with these arguments.
    func run(_ args: [String]) throws -> (status: Int32, out: String, err: String) {
        try run(program: binary.path, args)
    }

    /// Runs a program to its end, collecting its output.
    func run(program: String, _ args: [String]) throws -> (status: Int32, out: String, err: String) {
        try Self.run(program: program, args)
    }

    /// Runs a program to its end, collecting its output (no cluster needed).
    static func run(program: String, _ args: [String]) throws -> (status: Int32, out: String, err: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: program)
        p.arguments = args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    /// All master logs of this cluster (one per start), concatenated.
    var masterLogs: String {
        (1...max(1, masterRuns)).map { (try? String(contentsOf: dir.appendingPathComponent("master-\($0).log"), encoding: .utf8)) ?? "" }.joined()
    }

    /// Runs a test's body and shuts the cluster down however the body ends.
    func use(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch {
            await shutdown()
            throw error
        }
        await shutdown()
    }

    func shutdown() async {
        await admin?.close()
        for proc in slaves.values { await proc.stop() }
        await master?.stop()
        if ProcessInfo.processInfo.environment["WDPOST_KEEP_TEST_DIRS"] == nil {
            try? FileManager.default.removeItem(at: dir)
        }
    }
}
