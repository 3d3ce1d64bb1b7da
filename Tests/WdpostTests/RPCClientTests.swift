import NIOPosix
import Shared
import XCTest

final class RPCClientTests: XCTestCase {
    /// A master that is not up yet: connecting fails with an error the caller
    /// can retry on, not a crash (slaves start before their master).
    func testConnectToAClosedPortThrows() async throws {
        let identity = RPCClient.Identity(role: .slave, name: "early", token: Array("t".utf8))
        for _ in 0..<3 {
            do {
                _ = try await RPCClient.connect(to: HostPort(host: "127.0.0.1", port: 1), as: identity, group: MultiThreadedEventLoopGroup.singleton)
                XCTFail("port 1 should refuse")
            } catch is RPCClient.Refused {
                XCTFail("a connection failure is not a refusal")
            } catch {}
        }
    }
}
