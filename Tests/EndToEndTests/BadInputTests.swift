import Foundation
import Shared
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Hostile or broken clients on the RPC port: each is refused alone while the
/// real slaves keep working.
final class BadInputTests: XCTestCase {
    func testGarbageHugeFramesAndWrongTokensAreRefusedWhileSlavesKeepWorking() async throws {
        let cluster = try TestCluster()
        try await cluster.startMaster()
        try cluster.startSlave("s1", concurrent: 2)
        do {
            let first = try await cluster.submitNoop(20, input: #"{"sleep_ms": 20}"#)

            // Garbage: a plausible length, then bytes that are no message type.
            let garbage = try RawSocket(port: cluster.port)
            _ = garbage.readAll(timeout: 0.5)  // the hello
            garbage.send([0, 0, 0, 9] + Array("garbage!!".utf8))
            XCTAssertTrue(garbage.readAll(timeout: 5).closed, "garbage must close the connection")

            // A 2 GiB length prefix is refused before anything is buffered.
            let huge = try RawSocket(port: cluster.port)
            _ = huge.readAll(timeout: 0.5)
            huge.send([0x80, 0, 0, 0, 1, 0, 0, 0, 1])
            let hugeAnswer = huge.readAll(timeout: 5)
            XCTAssertTrue(hugeAnswer.closed)
            XCTAssertTrue(String(decoding: hugeAnswer.bytes, as: UTF8.self).contains("exceeds the limit"))

            // Wrong tokens, for a slave and for an admin.
            for role in [Role.slave, .admin] {
                do {
                    _ = try await RPCClient.connect(to: cluster.address, as: .init(role: role, name: "intruder", token: Array("wrong".utf8)),
                                                    group: .singletonMultiThreadedEventLoopGroup)
                    XCTFail("a wrong \(role) token must be refused")
                } catch let refused as RPCClient.Refused {
                    XCTAssertTrue(refused.message.contains("authentication failed"), refused.message)
                }
            }

            // A slave token cannot run admin commands.
            let slave = try await RPCClient.connect(to: cluster.address, as: .init(role: .slave, name: "sneaky", token: Array(cluster.slaveToken.utf8)),
                                                    group: .singletonMultiThreadedEventLoopGroup)
            do {
                _ = try await slave.call(.removeAll, RemoveAllRequest(really: true), as: CountResponse.self)
                XCTFail("a slave must not run remove-all")
            } catch let error as ErrorMessage {
                XCTAssertTrue(error.message.contains("admin"), error.message)
            }
            await slave.close()

            let second = try await cluster.submitNoop(20, input: #"{"sleep_ms": 5}"#)
            let jobs = try await cluster.waitFor("all jobs to succeed") { jobs in jobs.count == 40 && jobs.allSatisfy { $0.state == .succeed } }
            XCTAssertEqual(Set(jobs.map(\.id)), Set(first + second))
            XCTAssertTrue(cluster.masterLogs.contains("peer=127.0.0.1"), "rejections are logged with the peer address")
        } catch {
            await cluster.shutdown()
            throw error
        }
        await cluster.shutdown()
    }
}

/// A plain blocking TCP socket, to send bytes no well-behaved client would.
final class RawSocket {
    let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard rc == 0 else { throw TestFailure("connect failed: errno \(errno)") }
    }

    deinit { close(fd) }

    func send(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, bytes.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Reads until the peer closes or `timeout` passes without data.
    func readAll(timeout: TimeInterval) -> (bytes: [UInt8], closed: Bool) {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, Int32(timeout * 1000)) > 0 else { return (out, false) }
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { return (out, true) }
            out += buffer[0..<n]
        }
    }
}
