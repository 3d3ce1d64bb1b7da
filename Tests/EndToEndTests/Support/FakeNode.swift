import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The fake ComputeChain L1 node (Tests/computechain/fake_node.py) as a
/// process on loopback, with its test controls.
final class FakeNode: @unchecked Sendable {
    let proc: Proc
    let port: Int

    struct Result: Decodable, Hashable {
        var height: Int64
        var from: String
        var task_id: String
        var result_hash: String
        var nonce: Int64
    }

    static var script: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("computechain/fake_node.py")
    }

    init(dir: URL, blockMs: Int = 300, funds: [String: Int64]) async throws {
        let args = [Self.script.path, "--port", "0", "--block-ms", "\(blockMs)"] + funds.flatMap { ["--fund", "\($0.key)=\($0.value)"] }
        proc = try Proc(binary: URL(fileURLWithPath: "/usr/bin/env"), arguments: ["python3", "-u"] + args,
                        logURL: dir.appendingPathComponent("fake-node-\(UUID().uuidString.prefix(4)).log"))
        let line = try await proc.waitForLine(containing: "fake node listening on")
        guard let p = line.split(separator: " ").last.flatMap({ Int($0) }) else { throw TestFailure("no port in \(line)") }
        port = p
    }

    var url: String { "http://127.0.0.1:\(port)" }

    func get(_ path: String) async throws -> Data {
        let (data, _) = try await URLSession.shared.data(from: URL(string: url + path)!)
        return data
    }

    func control(_ json: String) async throws {
        var request = URLRequest(url: URL(string: url + "/_control")!)
        request.httpMethod = "POST"
        request.httpBody = Data(json.utf8)
        _ = try await URLSession.shared.data(for: request)
    }

    func results() async throws -> [Result] { try JSONDecoder().decode([Result].self, from: try await get("/_results")) }

    func stats() async throws -> [String: Any] {
        (try JSONSerialization.jsonObject(with: try await get("/_stats")) as? [String: Any]) ?? [:]
    }

    func blockHash(_ height: Int64) async throws -> String {
        let o = try JSONSerialization.jsonObject(with: try await get("/block/\(height)")) as? [String: Any]
        return (o?["header"] as? [String: Any])?["hash"] as? String ?? ""
    }

    func height() async throws -> Int64 {
        let o = try JSONSerialization.jsonObject(with: try await get("/status")) as? [String: Any]
        return (o?["height"] as? NSNumber)?.int64Value ?? -1
    }

    func stop() async { _ = await proc.stop(SIGKILL) }
}
