import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Shared

/// The L1 node's HTTP API (../shared/COMPUTECHAIN.md), over Foundation's
/// URLSession (libcurl on Linux): a handful of small JSON calls a second
/// needs no connection pool or streaming of its own, and URLSession adds no
/// package to build.
public final class ComputeChainNode: @unchecked Sendable {
    public let base: URL
    let session: URLSession

    public struct Status: Sendable { public var height: Int64; public var lastHash: String }
    public struct Account: Sendable { public var balance: String; public var nonce: Int64 }
    /// What `/tx/send` said: received, or rejected with the node's reason.
    public struct SendAnswer: Sendable { public var received: Bool; public var error: String; public var txHash: String }
    /// The SUBMIT_RESULT transactions of a block: sender, task id, result hash and tx nonce.
    public struct IncludedResult: Sendable { public var from: String; public var taskID: String; public var resultHash: String; public var nonce: Int64 }
    public struct Block: Sendable { public var height: Int64; public var prevHash: String; public var results: [IncludedResult] }

    public init(url: String, timeout: TimeInterval = 5) throws {
        guard let base = URL(string: url), let scheme = base.scheme, ["http", "https"].contains(scheme), base.host != nil else {
            throw ErrorMessage("expected an http:// or https:// URL, got \"\(url)\"")
        }
        self.base = base
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.timeoutIntervalForResource = timeout * 2
        session = URLSession(configuration: configuration)
    }

    /// A request the node answered with something else than HTTP 200 and JSON.
    public struct NodeError: Error, CustomStringConvertible {
        public let description: String
    }

    func json(_ path: String, body: Data? = nil) async throws -> [String: Any] {
        var request = URLRequest(url: base.appendingPathComponent(path))
        if let body {
            request.httpMethod = "POST"
            request.httpBody = body
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let (data, response): (Data, URLResponse)
        do {
            (data, response) = try await session.data(for: request)
        } catch {
            throw NodeError(description: "\(request.httpMethod ?? "GET") \(request.url?.absoluteString ?? path): \(error.localizedDescription)")
        }
        let code = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard code == 200 else {
            throw NodeError(description: "\(request.url?.absoluteString ?? path): HTTP \(code) \(String(decoding: data.prefix(200), as: UTF8.self))")
        }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw NodeError(description: "\(request.url?.absoluteString ?? path): the answer is not a JSON object")
        }
        return object
    }

    static func int(_ v: Any?) -> Int64? {
        if let n = v as? NSNumber { return n.int64Value }
        if let s = v as? String { return Int64(s) }
        return nil
    }

    public func status() async throws -> Status {
        let o = try await json("status")
        guard let height = Self.int(o["height"]), let hash = o["last_hash"] as? String else {
            throw NodeError(description: "/status: no height or last_hash in the answer")
        }
        return Status(height: height, lastHash: hash)
    }

    public func account(_ address: String) async throws -> Account {
        let o = try await json("balance/\(address)")
        guard let nonce = Self.int(o["nonce"]) else { throw NodeError(description: "/balance/\(address): no nonce in the answer") }
        let balance = (o["balance"] as? String) ?? (o["balance"] as? NSNumber)?.stringValue ?? "?"
        return Account(balance: balance, nonce: nonce)
    }

    public func send(_ body: Data) async throws -> SendAnswer {
        let o = try await json("tx/send", body: body)
        let status = o["status"] as? String ?? ""
        return SendAnswer(received: status == "received", error: o["error"] as? String ?? (status == "received" ? "" : "status \(status)"),
                          txHash: o["tx_hash"] as? String ?? "")
    }

    public func block(_ height: Int64) async throws -> Block {
        let o = try await json("block/\(height)")
        let header = o["header"] as? [String: Any] ?? [:]
        let txs = o["txs"] as? [[String: Any]] ?? []
        let results: [IncludedResult] = txs.compactMap { tx in
            guard tx["tx_type"] as? String == SubmitResultTransaction.txType, let from = tx["from_address"] as? String,
                  let payload = tx["payload"] as? [String: Any], let task = payload["task_id"] as? String else { return nil }
            return IncludedResult(from: from, taskID: task, resultHash: payload["result_hash"] as? String ?? "", nonce: Self.int(tx["nonce"]) ?? -1)
        }
        return Block(height: Self.int(header["height"]) ?? height, prevHash: header["prev_hash"] as? String ?? "", results: results)
    }
}

/// Balances come as decimal strings of the smallest unit (18 decimals to a
/// coin), beyond Int64; Decimal holds them exactly.
enum TokenAmount {
    /// The amount, or nil when the text is not a decimal number.
    static func units(_ text: String) -> Decimal? { Decimal(string: text) }

    /// Whether `balance` (as the node wrote it) covers `fee` (smallest units).
    static func covers(_ balance: String, fee: Int64) -> Bool {
        guard let b = units(balance) else { return true }
        return b >= Decimal(fee)
    }
}
