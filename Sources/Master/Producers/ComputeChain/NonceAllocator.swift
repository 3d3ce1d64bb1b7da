import Foundation

/// Nonces for one account's transactions. The node mines an account's
/// transactions in nonce order from its next nonce on, and one that leaves a
/// gap waits until the gap is filled, so each new transaction takes the
/// lowest nonce at or above the account's next one that no transaction in
/// flight holds: a nonce freed by a refusal is filled before any new one.
struct NonceAllocator {
    private(set) var next: Int64
    private var held: Set<Int64>

    /// `accountNonce`: the node's next nonce for the account; `inFlight`:
    /// nonces of this account's transactions sent and not yet in a block.
    init(accountNonce: Int64, inFlight: [Int64]) {
        next = accountNonce
        held = Set(inFlight.filter { $0 >= accountNonce })
    }

    mutating func take() -> Int64 {
        while held.contains(next) { next += 1 }
        let n = next
        held.insert(n)
        next += 1
        return n
    }
}
