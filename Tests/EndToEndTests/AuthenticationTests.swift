import Foundation
import Shared
import XCTest

/// Protocol 2: both sides prove the token, every frame after the handshake is
/// tagged, and unauthenticated peers have a small budget of their own.
final class AuthenticationTests: XCTestCase {
    /// Waits for `condition`, polling a value only the stand-in can report.
    func eventually(_ what: String, timeout: TimeInterval = 20, _ condition: () -> Bool) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while !condition() {
            guard Date() < deadline else { throw TestFailure("timed out waiting for \(what)") }
            usleep(20_000)
        }
    }

    /// Whoever holds the master's port without the token gets no slave: the
    /// slave sees the welcome cannot be proven, sends nothing after it, and
    /// keeps retrying (the real master may be back any moment).
    func testASlaveTakesNothingFromAPeerThatCannotProveTheToken() async throws {
        let rogue = try RogueMaster()
        let cluster = try TestCluster()
        cluster.port = rogue.port
        let slave = try cluster.startSlave("victim", concurrent: 2)
        try await cluster.use {
            try eventually("the slave's second handshake with the rogue") { rogue.handshakeCount >= 2 }
            XCTAssertEqual(rogue.framesAfterWelcome, [], "no pull, heartbeat or finish reaches a peer without the token")
            XCTAssertTrue(slave.isRunning, "the slave retries rather than exits")
            XCTAssertTrue(slave.log.contains("did not prove that it holds the slave token"), slave.log)

            do {
                _ = try await RPCClient.connect(to: HostPort(host: "127.0.0.1", port: rogue.port),
                                                as: .init(role: .admin, name: "ops", token: Array(cluster.adminToken.utf8)),
                                                group: .singletonMultiThreadedEventLoopGroup)
                XCTFail("an admin client must not talk to a peer that cannot prove the token")
            } catch let refused as RPCClient.Refused {
                XCTAssertFalse(refused.fatal)
                XCTAssertTrue(refused.message.contains("it is not our master"), refused.message)
            }
        }
    }

    /// A relay in the middle passes a real admin's handshake on, then tries
    /// its own frames: an injected `remove-all` and a replay of one of the
    /// admin's frames. Each closes the connection and changes nothing, and the
    /// admin is told why.
    func testARelayInTheMiddleCanNeitherInjectNorReplayFrames() async throws {
        let cluster = try TestCluster()
        try await cluster.startMaster()
        try await cluster.use {
            let ids = try await cluster.submitNoop(3)
            for attack in ["inject", "replay"] {
                let relay = try TCPRelay(to: cluster.port)
                let victim = try await AdminClient.connect(to: HostPort(host: "127.0.0.1", port: relay.port), token: Array(cluster.adminToken.utf8))
                let seen = try await victim.list(all: true)
                XCTAssertEqual(seen.count, 3)
                if attack == "inject" {
                    let frame = try Codec.frame(.removeAll, 99, RemoveAllRequest(really: true))
                    relay.inject(RawSocket.frame(type: frame.type.rawValue, Data(frame.payload.readableBytesView)))
                } else {
                    // The client's last frame (its list request) again, tag and all.
                    let frames = RawSocket.frames(relay.clientBytes)
                    let last = try XCTUnwrap(frames.last)
                    relay.inject(RawSocket.frame(type: last.type, Data(last.payload)))
                }
                do {
                    _ = try await victim.list(all: true)
                    XCTFail("\(attack): the master must close a connection whose frames fail their tags")
                } catch {
                    XCTAssertTrue("\(error)".contains("failed its authentication tag"), "\(attack): \(error)")
                }
                await victim.close()
            }
            let jobs = try await cluster.client().list(all: true)
            XCTAssertEqual(Set(jobs.map(\.id)), Set(ids), "nothing was removed")
            XCTAssertFalse(cluster.masterLogs.contains("removed all"))
            XCTAssertTrue(cluster.masterLogs.contains("failed its authentication tag"))
        }
    }

    /// Before the handshake a frame may be 64 KiB: a peer cannot make the
    /// master buffer 16 MiB per connection. After it, the configured limit.
    func testFramesBeforeTheHandshakeAreSmall() async throws {
        let cluster = try TestCluster()
        try await cluster.startMaster()
        try await cluster.use {
            let big = try RawSocket(port: cluster.port)
            _ = big.readAll(timeout: 0.5)
            big.send([0, 0x10, 0, 0, MessageType.auth.rawValue, 0, 0, 0, 0])  // announces 1 MiB
            let answer = big.readAll(timeout: 5)
            XCTAssertTrue(answer.closed)
            XCTAssertTrue(String(decoding: answer.bytes, as: UTF8.self).contains("exceeds the limit of 65536 bytes"),
                          String(decoding: answer.bytes, as: UTF8.self))

            let input = Data(("\"" + String(repeating: "a", count: 2 << 20) + "\"").utf8)
            let ids = try await cluster.client().submit([NewJob(kind: JobKind.noop, input: input)])
            let shown = try await cluster.client().show(ids)
            XCTAssertEqual(shown.first?.input, input, "2 MiB travel once authenticated")
        }
    }

    /// Connections in their handshake have their own budget: holding them
    /// open refuses further handshakes by name but takes no authenticated
    /// place; the authenticated budget is refused by its own name, not finally.
    func testUnauthenticatedConnectionsHaveABudgetOfTheirOwn() async throws {
        let cluster = try TestCluster()
        cluster.serverExtra = "max_connections = 2\nmax_unauthenticated = 2"
        try await cluster.startMaster()
        try cluster.startSlave("s1", concurrent: 1)
        try await cluster.use {
            _ = try await cluster.submitNoop(1)
            try await cluster.waitFor("the slave's job") { $0.count == 1 && $0.allSatisfy { $0.state == .succeed } }
            // The slave and the cluster's admin client hold both authenticated places.
            var held = try (0..<2).map { _ in try RawSocket(port: cluster.port) }
            held.forEach { _ = $0.readAll(timeout: 0.1) }
            let third = try RawSocket(port: cluster.port)
            let refused = third.readAll(timeout: 5)
            XCTAssertTrue(refused.closed)
            XCTAssertTrue(String(decoding: refused.bytes, as: UTF8.self).contains("server.max_unauthenticated = 2"))
            _ = try await cluster.submitNoop(2)
            try await cluster.waitFor("jobs run while strangers hold handshakes") { $0.count == 3 && $0.allSatisfy { $0.state == .succeed } }
            held.removeAll()

            do {
                _ = try await AdminClient.connect(to: cluster.address, token: Array(cluster.adminToken.utf8))
                XCTFail("a third authenticated connection is over max_connections = 2")
            } catch let refused as RPCClient.Refused {
                XCTAssertFalse(refused.fatal, "a full master is worth retrying")
                XCTAssertTrue(refused.message.contains("server.max_connections = 2"), refused.message)
            }
        }
    }

    /// A request larger than the master's frame limit fails in the client
    /// with the limit's name, instead of "connection to the master lost".
    func testARequestOverTheMastersLimitIsRefusedWithItsName() async throws {
        let cluster = try TestCluster()
        cluster.serverExtra = "max_frame_bytes = 1048576"
        try await cluster.startMaster()
        try await cluster.use {
            let file = try cluster.write("big.json", "\"" + String(repeating: "a", count: 2 << 20) + "\"")
            let result = try cluster.cli(["submit", "--kind", "noop", "--input", "@\(file.path)"])
            XCTAssertNotEqual(result.status, 0)
            XCTAssertTrue(result.err.contains("exceeds the master's frame limit of 1048576 bytes (server.max_frame_bytes)"), result.err)
            let jobs = try await cluster.client().list(all: true)
            XCTAssertEqual(jobs.count, 0)
        }
    }

    /// Names are normalised (NFC) and checked where they enter: two spellings
    /// of one name are one slave name in `slaves`; a newline or an overlong
    /// name is refused, finally, by what is wrong with it.
    func testNamesAreNormalisedAndCheckedAtTheHandshake() async throws {
        let cluster = try TestCluster()
        try await cluster.startMaster()
        try await cluster.use {
            let token = Array(cluster.slaveToken.utf8)
            var held: [RPCClient] = []
            for name in ["caf\u{E9}", "cafe\u{301}"] {
                held.append(try await RPCClient.connect(to: cluster.address, as: .init(role: .slave, name: name, token: token,
                                                                                      capabilities: Capabilities(kinds: ["noop"])),
                                                        group: .singletonMultiThreadedEventLoopGroup))
            }
            let names = try await cluster.client().slaves().map { Array($0.name.utf8) }
            XCTAssertEqual(names, [Array("caf\u{E9}".utf8), Array("caf\u{E9}".utf8)])
            for (name, why) in [("s1\nfinish accepted", "U+000A"), (String(repeating: "n", count: 300), "over the limit of 255")] {
                do {
                    _ = try await RPCClient.connect(to: cluster.address, as: .init(role: .slave, name: name, token: token),
                                                    group: .singletonMultiThreadedEventLoopGroup)
                    XCTFail("\(why): must be refused")
                } catch let refused as RPCClient.Refused {
                    XCTAssertTrue(refused.fatal)
                    XCTAssertTrue(refused.message.contains(why), refused.message)
                }
            }
            for client in held { await client.close() }
        }
    }
}
