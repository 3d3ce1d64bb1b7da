import Foundation
import Shared

/// Persistence of DeepBrainChain verification orders: bookings, hashes,
/// reveals and results, with every order kept as history. A backend
/// implements it beside `JobStore` on the same connection, so a tick that
/// submits a probe job and records it on the order commits both or neither.
///
/// Called from the store executor's thread inside its transaction, like `JobStore`.
public protocol CommitteeStore: AnyObject {
    /// Books an order: the order row and one row per booked member.
    func insertOrder(_ order: VerifyOrder, now: Int64) throws
    /// Writes the order's state if the stored version is still `order.version`
    /// (then the stored version becomes `order.version + 1`). Returns false,
    /// changing nothing, when another writer saved it first.
    func updateOrder(_ order: VerifyOrder) throws -> Bool
    /// Orders not yet summarised, oldest first.
    func openOrders() throws -> [VerifyOrder]
    /// Every order (of one machine, or of all), oldest first.
    func orders(machine: String?) throws -> [VerifyOrder]
}

/// A save lost the race against another writer (another master); the caller's
/// work is rolled back and redone from the stored state on the next tick.
public struct CommitteeConflict: Error, CustomStringConvertible {
    public let order: String
    public var description: String { "DBC order \(order) was changed by another writer; try again" }
}

extension StoreExecutor {
    /// Runs `body` in the next group commit with both faces of the store.
    public func runCommittee<T>(_ body: @escaping (JobStore, CommitteeStore) throws -> T) async throws -> T {
        try await run { store in
            guard let committee = store as? CommitteeStore else {
                // Both backends conform; a new one that does not is told here, not silently skipped.
                throw ErrorMessage("store backend \(type(of: store)) keeps no DBC verification orders (it does not conform to CommitteeStore)")
            }
            return try body(store, committee)
        }
    }
}
