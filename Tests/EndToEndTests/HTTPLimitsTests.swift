import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Shared
import XCTest

/// The unauthenticated HTTP side may cost the master little: its connections
/// are capped and timed out, so they cannot take the RPC side's descriptors,
/// and the page never shows what a processor printed on stderr.
final class HTTPLimitsTests: XCTestCase {
    /// Opens a TCP connection to 127.0.0.1:`port` and sends the start of a
    /// request that never ends (a half-open client); returns the socket.
    static func halfOpenRequest(port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket: \(errno)") }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard connected else { close(fd); throw TestFailure("connect to the metrics port: \(errno)") }
        let partial = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        _ = partial.withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
        return fd
    }

    /// Waits until the peer has closed every socket in `fds` (EOF or reset);
    /// returns those still open after `timeout`.
    static func awaitClosed(_ fds: [Int32], timeout: TimeInterval) async -> [Int32] {
        await withCheckedContinuation { cont in
            DispatchQueue.global().async {
                var open = Set(fds)
                let deadline = Date().addingTimeInterval(timeout)
                var buffer = [UInt8](repeating: 0, count: 4096)
                while !open.isEmpty, Date() < deadline {
                    var polls = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
                    guard poll(&polls, nfds_t(polls.count), 200) > 0 else { continue }
                    for p in polls where p.revents != 0 {
                        let n = recv(p.fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
                        if n == 0 || (n < 0 && errno != EAGAIN) { open.remove(p.fd) }
                    }
                }
                cont.resume(returning: Array(open))
            }
        }
    }

    /// More half-open requests than the master has descriptors to spare: with
    /// the HTTP cap, admin commands still get through, and every half-open
    /// connection is closed (beyond the cap at once, the rest after
    /// request_timeout).
    func testHalfOpenHTTPRequestsCannotStarveTheRPCPortAndAreClosed() async throws {
        let cluster = try TestCluster()
        cluster.metrics = true
        cluster.metricsExtra = "max_connections = 8\nrequest_timeout = \"3s\""
        try await cluster.startMaster()
        try await cluster.use {
            let master = try XCTUnwrap(cluster.master)
            let port = try XCTUnwrap(cluster.metricsURL.flatMap { URL(string: $0)?.port })
            _ = try await cluster.submitNoop(1)
            // Room for 24 more descriptors than the master uses now: 60
            // half-open requests would take them all without the cap.
            let inUse = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(master.pid)/fd").count
            let limit = try cluster.run(program: "/usr/bin/prlimit", ["--pid", "\(master.pid)", "--nofile=\(inUse + 24):\(inUse + 24)"])
            XCTAssertEqual(limit.status, 0, limit.err)

            var fds: [Int32] = []
            defer { fds.forEach { close($0) } }
            for _ in 0..<60 { fds.append(try Self.halfOpenRequest(port: port)) }

            // The RPC side still accepts: an admin command over a new connection.
            let list = try cluster.run(program: "/usr/bin/timeout", ["20", cluster.binary.path, "list", "--master", cluster.address.description,
                                                             "--token-file", cluster.dir.appendingPathComponent("admin.token").path])
            XCTAssertEqual(list.status, 0, "wdpost list while 60 half-open HTTP requests wait: \(list.err)")
            XCTAssertEqual(list.out.split(separator: "\n").filter { $0.contains("ReadyToRun") }.count, 1, list.out)

            let stillOpen = await Self.awaitClosed(fds, timeout: 30)
            XCTAssertEqual(stillOpen.count, 0, "\(stillOpen.count) half-open HTTP connection(s) were never closed")
            XCTAssertTrue(master.isRunning)
        }
    }

    /// A prover may print secrets on stderr; the unauthenticated page and
    /// status.json must not show them, `wdpost show` (authenticated) does.
    func testTheStatusPageDoesNotShowAProcessorsStderr() async throws {
        let cluster = try TestCluster(task: ["max_retry": "1"])
        cluster.metrics = true
        try await cluster.startMaster()
        let secret = "SECRET-\(UUID().uuidString)"
        let leaky = try cluster.write("leaky.sh", "#!/bin/sh\necho \"worker key is \(secret)\" >&2\nexit 7\n")
        chmod(leaky.path, 0o755)
        try cluster.startSlave("leaky", extra: """
            kinds = []
            [[processors.leak]]
            bin = "\(leaky.path)"
            """)
        try await cluster.use {
            let id = try await cluster.client().submit([NewJob(kind: "leak")])[0]
            let failed = try await cluster.waitFor("the job to fail") { $0.first { $0.id == id }?.state == .failed }
            XCTAssertTrue(failed.first { $0.id == id }!.error.contains(secret), "the error itself keeps the stderr")
            let base = try XCTUnwrap(cluster.metricsURL)
            for path in ["", "status.json"] {
                let (data, _) = try await URLSession.shared.data(from: URL(string: base + path)!)
                let body = String(decoding: data, as: UTF8.self)
                XCTAssertTrue(body.contains(id), "the failure is listed on /\(path): \(body)")
                XCTAssertTrue(body.contains("exit status 7"), "with what happened: \(body)")
                XCTAssertFalse(body.contains(secret), "/\(path) shows the processor's stderr: \(body)")
                XCTAssertTrue(body.contains("stderr not shown here (wdpost show \(id))"), body)
            }
            let show = try cluster.cli(["show", id])
            XCTAssertEqual(show.status, 0, show.err)
            XCTAssertTrue(show.out.contains(secret), "wdpost show has the whole error")
        }
    }
}
