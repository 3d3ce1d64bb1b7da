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
        try await cluster.use {
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
        }
    }
}

extension BadInputTests {
    /// Slow-loris and half-open connections are cut off; a captured handshake
    /// cannot be replayed; the connection limit is refused clearly.
    func testSlowSilentReplayedAndExcessConnectionsAreCutOff() async throws {
        let cluster = try TestCluster()
        cluster.serverExtra = "frame_timeout = \"500ms\"\nidle_timeout = \"1500ms\"\nmax_unauthenticated = 3"
        try await cluster.startMaster()
        try cluster.startSlave("s1", concurrent: 1)
        try await cluster.use {
            // A slave of the previous release (protocol 1: no nonce of its own) is told both versions, finally.
            let old = try RawSocket(port: cluster.port)
            let greet = try XCTUnwrap(RawSocket.frames(old.readAll(timeout: 1).bytes).first)
            XCTAssertEqual(try Codec.decode(Hello.self, from: .init(bytes: greet.payload)).version, 2)
            old.send(RawSocket.frame(type: MessageType.auth.rawValue, Data(#"{"version":1,"role":"slave","name":"old-slave","mac":[1,2,3]}"#.utf8)))
            let versionAnswer = old.readAll(timeout: 5)
            XCTAssertTrue(versionAnswer.closed)
            let versionText = String(decoding: versionAnswer.bytes, as: UTF8.self)
            XCTAssertTrue(versionText.contains(#"master speaks 2, slave \"old-slave\" speaks 1"#), versionText)
            XCTAssertTrue(versionText.contains(#""fatal":true"#), versionText)

            // Three connections sit in their handshake: the 4th is refused by name.
            var held = try (0..<3).map { _ in try RawSocket(port: cluster.port) }
            held.forEach { _ = $0.readAll(timeout: 0.1) }
            let over = try RawSocket(port: cluster.port)
            let refused = over.readAll(timeout: 5)
            XCTAssertTrue(refused.closed)
            XCTAssertTrue(String(decoding: refused.bytes, as: UTF8.self).contains("max_unauthenticated"), String(decoding: refused.bytes, as: UTF8.self))
            held.removeAll()

            // Slow-loris: a frame begun, then one byte now and then.
            let loris = try RawSocket(port: cluster.port)
            let greeting = loris.readAll(timeout: 0.5)
            XCTAssertFalse(greeting.closed, "the slow client is first let in")
            let began = Date()
            loris.send([0, 0, 0, 50, 2])
            var cut = false
            for _ in 0..<40 where !cut {
                loris.send([0x20])
                cut = loris.readAll(timeout: 0.1).closed
            }
            XCTAssertTrue(cut, "a frame trickling in for longer than frame_timeout is cut off")
            XCTAssertGreaterThan(Date().timeIntervalSince(began), 0.45, "cut off by frame_timeout, not before")

            // Half-open: connected, authenticated or not, and silent.
            let silent = try RawSocket(port: cluster.port)
            XCTAssertTrue(silent.readAll(timeout: 5).closed, "a silent connection is closed after idle_timeout")

            // Replay: the auth frame answered to one nonce is useless on another connection.
            let first = try RawSocket(port: cluster.port)
            let hello = try XCTUnwrap(RawSocket.frames(first.readAll(timeout: 1).bytes).first)
            let (auth, _) = Auth.answering(try Codec.decode(Hello.self, from: .init(bytes: hello.payload)), role: .admin, name: "ops",
                                           capabilities: nil, token: Array(cluster.adminToken.utf8))
            let authFrame = RawSocket.frame(type: MessageType.auth.rawValue, try JSONEncoder().encode(auth))
            first.send(authFrame)
            XCTAssertEqual(RawSocket.frames(first.readAll(timeout: 1).bytes).first?.type, MessageType.welcome.rawValue)
            let replay = try RawSocket(port: cluster.port)
            _ = replay.readAll(timeout: 0.3)
            replay.send(authFrame)
            let answer = replay.readAll(timeout: 5)
            XCTAssertTrue(answer.closed)
            XCTAssertTrue(String(decoding: answer.bytes, as: UTF8.self).contains("authentication failed"))


            // Through all of it the real slave kept working.
            _ = try await cluster.submitNoop(3)
            try await cluster.waitFor("jobs to succeed") { $0.count == 3 && $0.allSatisfy { $0.state == .succeed } }
        }
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

    static func frame(type: UInt8, _ payload: Data) -> [UInt8] {
        let length = UInt32(5 + payload.count)
        return withUnsafeBytes(of: length.bigEndian, Array.init) + [type, 0, 0, 0, 0] + Array(payload)
    }

    /// Splits received bytes into (type, payload) frames.
    static func frames(_ bytes: [UInt8]) -> [(type: UInt8, payload: [UInt8])] {
        var out: [(UInt8, [UInt8])] = []
        var i = 0
        while i + 9 <= bytes.count {
            let length = Int(bytes[i]) << 24 | Int(bytes[i + 1]) << 16 | Int(bytes[i + 2]) << 8 | Int(bytes[i + 3])
            guard i + 4 + length <= bytes.count, length >= 5 else { break }
            out.append((bytes[i + 4], Array(bytes[(i + 9)..<(i + 4 + length)])))
            i += 4 + length
        }
        return out
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
