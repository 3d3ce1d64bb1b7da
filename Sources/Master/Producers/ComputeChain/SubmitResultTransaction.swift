import Foundation
import Shared

/// A `SUBMIT_RESULT` transaction: what the node's `POST /tx/send` takes
/// (see ../shared/COMPUTECHAIN.md). Only the base gas is charged, so the fee
/// is exactly gas_limit × gas_price.
public struct SubmitResultTransaction: Sendable, Equatable {
    public static let txType = "SUBMIT_RESULT"
    /// A SUBMIT_RESULT's base gas.
    public static let gasLimit: Int64 = 80_000
    /// Devnet's minimum gas price.
    public static let gasPrice: Int64 = 1_000
    public static var fee: Int64 { gasLimit * gasPrice }

    public var fromAddress: String
    public var nonce: Int64
    public var publicKey: String
    public var taskID: String
    public var resultHash: String
    public var amount: Int64 = 0
    public var gasPrice: Int64 = Self.gasPrice
    public var gasLimit: Int64 = Self.gasLimit
    public var fee: Int64 { gasLimit * gasPrice }

    public init(fromAddress: String, nonce: Int64, publicKey: String, taskID: String, resultHash: String) {
        self.fromAddress = fromAddress; self.nonce = nonce; self.publicKey = publicKey; self.taskID = taskID; self.resultHash = resultHash
    }

    /// ComputeChain's `ComputeResult`: the worker is the sender; proof, the
    /// inner nonce and the inner signature are unused by the node and sent empty.
    public var payload: PythonJSON {
        .object(["task_id": .string(taskID), "worker_address": .string(fromAddress), "result_hash": .string(resultHash),
                 "proof": .string(""), "nonce": .int(0), "signature": .string("")])
    }

    /// The text the hash covers: the fields in the node's order, `to_address`
    /// None as "", the payload as sorted compact JSON, then the public key.
    public var hashText: String {
        Self.txType + fromAddress + "" + String(amount) + String(fee) + String(nonce) + String(gasPrice) + String(gasLimit)
            + payload.text + publicKey
    }

    public var hash: [UInt8] { Digest.sha256(Array(hashText.utf8)) }
    public var hashHex: String { hash.hex }

    /// The request body, signed with `key` (whose address and public key are this transaction's).
    public func body(signature: [UInt8]) -> Data {
        let fields: [(String, String)] = [
            ("tx_type", PythonJSON.quoted(Self.txType)), ("from_address", PythonJSON.quoted(fromAddress)), ("to_address", "null"),
            ("amount", String(amount)), ("fee", String(fee)), ("nonce", String(nonce)), ("gas_price", String(gasPrice)),
            ("gas_limit", String(gasLimit)), ("pub_key", PythonJSON.quoted(publicKey)),
            ("signature", PythonJSON.quoted(signature.hex)), ("payload", payload.text),
        ]
        return Data(("{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}").utf8)
    }

    public func signedBody(with key: ComputeChainKey) throws -> Data { body(signature: try key.sign(digest: hash)) }
}
