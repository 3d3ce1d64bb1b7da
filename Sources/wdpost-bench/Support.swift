import Foundation
import NIOPosix
import Shared

/// A usage or set-up problem: printed as one line, exit 2.
struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// `--key value` / `--key=value` / `--flag` arguments. Every key must be read
/// by the subcommand (`checkAllUsed`), so a typo is an error, not a silent default.
final class Options {
    private var values: [String: String] = [:]
    private var flags: Set<String> = []
    private var used: Set<String> = []

    init(_ args: ArraySlice<String>) throws {
        var i = args.startIndex
        while i < args.endIndex {
            let arg = args[i]
            guard arg.hasPrefix("--"), arg.count > 2 else { throw BenchError("unexpected argument \"\(arg)\" (options are --key value)") }
            let body = String(arg.dropFirst(2))
            if let eq = body.firstIndex(of: "=") {
                values[String(body[..<eq])] = String(body[body.index(after: eq)...])
                i += 1
            } else if i + 1 < args.endIndex, !args[i + 1].hasPrefix("--") {
                values[body] = args[i + 1]
                i += 2
            } else {
                flags.insert(body)
                i += 1
            }
        }
    }

    func string(_ key: String, _ fallback: String? = nil) throws -> String {
        used.insert(key)
        if let v = values[key] { return v }
        if let fallback { return fallback }
        throw BenchError("missing --\(key)")
    }

    func optionalString(_ key: String) -> String? {
        used.insert(key)
        return values[key]
    }

    func int(_ key: String, _ fallback: Int? = nil, min: Int = Int.min) throws -> Int {
        let text = try string(key, fallback.map(String.init))
        guard let v = Int(text), v >= min else { throw BenchError("--\(key) \(text): expected an integer ≥ \(min)") }
        return v
    }

    func double(_ key: String, _ fallback: Double? = nil) throws -> Double {
        let text = try string(key, fallback.map { "\($0)" })
        guard let v = Double(text), v >= 0 else { throw BenchError("--\(key) \(text): expected a number ≥ 0") }
        return v
    }

    func flag(_ key: String) -> Bool {
        used.insert(key)
        return flags.contains(key)
    }

    func address(_ key: String = "master") throws -> HostPort {
        let text = try string(key)
        guard let hp = HostPort(text) else { throw BenchError("--\(key) \(text): expected HOST:PORT") }
        return hp
    }

    func token(_ key: String) throws -> [UInt8] {
        let path = try string(key)
        do { return try readToken(path, context: "--\(key)") } catch { throw BenchError("\(error)") }
    }

    func checkAllUsed() throws {
        let unknown = Set(values.keys).union(flags).subtracting(used).sorted()
        if !unknown.isEmpty { throw BenchError("unknown option(s): \(unknown.map { "--" + $0 }.joined(separator: ", "))") }
    }
}

/// Progress for the person watching; results go to stdout as key=value lines.
func progress(_ message: String) {
    FileHandle.standardError.write(Data("wdpost-bench: \(message)\n".utf8))
}

/// Prints one result line: `key=value key=value …`.
func emit(_ pairs: [(String, String)]) {
    print(pairs.map { "\($0.0)=\($0.1)" }.joined(separator: " "))
    fflush(stdout)
}

func fmt(_ x: Double, _ digits: Int = 3) -> String {
    guard x.isFinite else { return "nan" }
    return String(format: "%.\(digits)f", x)
}

/// Latency samples in milliseconds; nearest-rank percentiles.
struct Samples {
    private(set) var values: [Double] = []
    mutating func add(_ ms: Double) { values.append(ms) }
    mutating func add(contentsOf other: Samples) { values += other.values }
    var count: Int { values.count }

    func percentile(_ p: Double) -> Double {
        guard !values.isEmpty else { return .nan }
        let sorted = values.sorted()
        let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
        return sorted[Swift.min(sorted.count - 1, Swift.max(0, rank - 1))]
    }

    var max: Double { values.max() ?? .nan }
    var mean: Double { values.isEmpty ? .nan : values.reduce(0, +) / Double(values.count) }
}

/// Thread-safe sample collection for many concurrent emulated slaves.
final class SharedSamples: @unchecked Sendable {
    private let lock = NSLock()
    private var samples = Samples()
    func add(_ ms: Double) { lock.withLock { samples.add(ms) } }
    var snapshot: Samples { lock.withLock { samples } }
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func add(_ k: Int = 1) { lock.withLock { n += k } }
    var value: Int { lock.withLock { n } }
}

final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var stopped = false
    var isSet: Bool { lock.withLock { stopped } }
    func set() { lock.withLock { stopped = true } }
}

/// Monotonic milliseconds, for round-trip times.
func monoMs() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e6 }

func sleepMs(_ ms: Double) async {
    guard ms > 0 else { return }
    try? await Task.sleep(nanoseconds: UInt64(ms * 1e6))
}

/// CPU time and memory of a process, from /proc.
struct ProcSample {
    /// utime + stime, in clock ticks.
    var ticks: Int64
    var wallMicros: Int64
    /// VmHWM (peak resident set) and VmRSS, in kB.
    var hwmKB: Int64
    var rssKB: Int64

    static func read(pid: Int32) throws -> ProcSample {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else {
            throw BenchError("cannot read /proc/\(pid)/stat (is process \(pid) running?)")
        }
        // Fields after "comm)": state is field 3, utime field 14, stime field 15.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let utime = Int64(fields[11]), let stime = Int64(fields[12]) else {
            throw BenchError("unexpected /proc/\(pid)/stat format")
        }
        var hwm: Int64 = 0, rss: Int64 = 0
        if let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) {
            for line in status.split(separator: "\n") {
                let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
                guard parts.count >= 2 else { continue }
                if parts[0] == "VmHWM:" { hwm = Int64(parts[1]) ?? 0 }
                if parts[0] == "VmRSS:" { rss = Int64(parts[1]) ?? 0 }
            }
        }
        return ProcSample(ticks: utime + stime, wallMicros: nowMicros(), hwmKB: hwm, rssKB: rss)
    }

    /// Percent of one core used between two samples.
    static func cpuPercent(from a: ProcSample, to b: ProcSample) -> Double {
        let hz = Double(sysconf(Int32(_SC_CLK_TCK)))
        let seconds = Double(b.wallMicros - a.wallMicros) / 1e6
        guard seconds > 0, hz > 0 else { return .nan }
        return Double(b.ticks - a.ticks) / hz / seconds * 100
    }
}

/// One event loop thread is plenty for the emulator and leaves the second core to the master.
let benchGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)

/// A slave connection with the real handshake; it claims only `noop` jobs.
func connectSlave(_ master: HostPort, token: [UInt8], name: String, concurrent: Int) async throws -> RPCClient {
    let identity = RPCClient.Identity(role: .slave, name: name, token: token,
                                      capabilities: Capabilities(kinds: [JobKind.noop], concurrent: concurrent))
    return try await RPCClient.connect(to: master, as: identity, group: benchGroup)
}

func connectAdmin(_ master: HostPort, token: [UInt8]) async throws -> AdminClient {
    try await AdminClient.connect(to: master, token: token, name: "bench-admin")
}

/// Job rows for many ids, fetched in chunks (the admin `show` call).
func fetchJobs(_ admin: AdminClient, ids: [String], chunk: Int = 2000) async throws -> [Job] {
    var jobs: [Job] = []
    jobs.reserveCapacity(ids.count)
    var start = 0
    while start < ids.count {
        let end = min(ids.count, start + chunk)
        jobs += try await admin.show(Array(ids[start..<end]))
        start = end
    }
    return jobs
}

/// Store operations the master has run so far: the count of its
/// `wdpost_db_operation_seconds` histogram at `[metrics] listen`, or nil when
/// no metrics URL is given or it cannot be read.
func dbOperations(_ metricsURL: String?) async -> Int? {
    guard let metricsURL, let url = HostPort(metricsURL.replacingOccurrences(of: "http://", with: "")
                                                .trimmingCharacters(in: CharacterSet(charactersIn: "/"))) else { return nil }
    guard let text = try? await httpGet(url, path: "/metrics") else { return nil }
    for line in text.split(separator: "\n") where line.hasPrefix("wdpost_db_operation_seconds_count ") {
        return Int(line.split(separator: " ").last ?? "")
    }
    return nil
}

/// A minimal HTTP/1.0 GET over a blocking socket (the metrics endpoint is on loopback).
func httpGet(_ address: HostPort, path: String) async throws -> String {
    try await withCheckedThrowingContinuation { (cont: CheckedContinuation<String, Error>) in
        DispatchQueue.global().async {
            do { cont.resume(returning: try httpGetBlocking(address, path: path)) } catch { cont.resume(throwing: error) }
        }
    }
}

private func httpGetBlocking(_ address: HostPort, path: String) throws -> String {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw BenchError("socket() failed") }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = in_port_t(UInt16(address.port).bigEndian)
    guard inet_pton(AF_INET, address.host, &addr.sin_addr) == 1 else { throw BenchError("\(address.host): not an IPv4 address") }
    let connected = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { throw BenchError("cannot connect to \(address)") }
    let request = Array("GET \(path) HTTP/1.0\r\nHost: \(address.host)\r\n\r\n".utf8)
    guard write(fd, request, request.count) == request.count else { throw BenchError("write to \(address) failed") }
    var timeout = timeval(tv_sec: 5, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    // Read until the body announced by Content-Length is complete (the server may keep the connection open).
    var response: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    let separator: [UInt8] = Array("\r\n\r\n".utf8)
    while true {
        let n = read(fd, &buffer, buffer.count)
        if n <= 0 { break }
        response += buffer[0..<n]
        guard let end = response.firstRange(of: separator)?.upperBound else { continue }
        let head = String(decoding: response[..<end], as: UTF8.self).lowercased()
        if let line = head.split(separator: "\r\n").first(where: { $0.hasPrefix("content-length:") }),
           let length = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)),
           response.count - end >= length {
            return String(decoding: response[end..<(end + length)], as: UTF8.self)
        }
    }
    return String(decoding: response, as: UTF8.self)
}
