import Foundation
import Shared

/// One `[[computechain.workers]]` account as the driver sees it: its key,
/// and what the node last said about it (shown by `computechain status`).
final class ComputeChainWorker: @unchecked Sendable {
    let key: ComputeChainKey
    let slave: String?
    private let lock = NSLock()
    private var _balance = ""
    private var _nonce: Int64 = -1
    private var _lastError = ""
    private var _sends = 0, _resends = 0, _rejections = 0

    init(key: ComputeChainKey, slave: String?) { self.key = key; self.slave = slave }

    var address: String { key.address }

    func locked<T>(_ body: () -> T) -> T { lock.lock(); defer { lock.unlock() }; return body() }

    func account(balance: String, nonce: Int64) { locked { _balance = balance; _nonce = nonce } }
    var balance: String { locked { _balance } }
    /// Sets the last error; returns true when it is new (so it is logged once, not every tick).
    @discardableResult
    func fail(_ message: String) -> Bool { locked { defer { _lastError = message }; return _lastError != message } }
    func clearError(_ message: String) { locked { if _lastError == message { _lastError = "" } } }
    func counted(sends: Int = 0, resends: Int = 0, rejections: Int = 0) {
        locked { _sends += sends; _resends += resends; _rejections += rejections }
    }

    func snapshot() -> (balance: String, nonce: Int64, lastError: String, sends: Int, resends: Int, rejections: Int) {
        locked { (_balance, _nonce, _lastError, _sends, _resends, _rejections) }
    }
}
