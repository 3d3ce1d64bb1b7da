import Logging

/// One group commit: the bodies of every operation queued together, in one
/// transaction on one connection, and an answer for each once COMMIT has
/// returned — never before.
///
/// A group runs optimistically first, without a savepoint per operation:
/// almost no group has a failing operation, and on MariaDB each savepoint
/// costs two more round trips per operation. When one does fail, the whole
/// transaction is undone and the group runs again with every operation in its
/// own savepoint, so only the failing one fails (bodies already run again when
/// a group is retried after a lost connection).
struct GroupCommit {
    let logger: Logger

    enum Outcome {
        /// Committed: every operation gets its own result.
        case committed([Result<Any, Error>])
        /// Nothing was applied and the connection is gone: run the group again on a new one.
        case connectionLost(Error)
        /// The server rolled the transaction back (deadlock): run it again.
        case rolledBack(Error)
        /// The connection died while COMMIT was in flight.
        case unknownOutcome(Error)
        /// The group cannot be applied (BEGIN or COMMIT refused).
        case failed(Error)
    }

    func run(_ bodies: [(JobStore) throws -> Any], on store: JobStore) -> Outcome {
        let outcome = run(bodies, store, isolated: false)
        guard case .committed(let results) = outcome, results.contains(where: { if case .failure = $0 { return true } else { return false } }) else {
            return outcome
        }
        return run(bodies, store, isolated: true)
    }

    private static func classify(_ error: Error) -> (lost: Bool, rolledBack: Bool) {
        guard let e = error as? StoreTransactionError else { return (false, false) }
        return (e.isConnectionLost, e.isTransactionRolledBack)
    }

    private func run(_ bodies: [(JobStore) throws -> Any], _ store: JobStore, isolated: Bool) -> Outcome {
        var results: [Result<Any, Error>] = []
        results.reserveCapacity(bodies.count)
        do {
            try store.begin()
        } catch {
            if Self.classify(error).lost { return .connectionLost(error) }
            logger.error("store: cannot begin a transaction: \(error)")
            return .failed(error)
        }
        // Ends a group the server has already undone (or whose connection is gone).
        func abandon(_ error: Error) -> Outcome? {
            let kind = Self.classify(error)
            if kind.lost { return .connectionLost(error) }
            if kind.rolledBack {
                try? store.rollback()
                return .rolledBack(error)
            }
            return nil
        }
        for body in bodies where !isolated {
            do {
                results.append(.success(try body(store)))
            } catch {
                if let outcome = abandon(error) { return outcome }
                // Undo the whole optimistic pass; the caller runs it again isolated.
                do { try store.rollback() } catch { if Self.classify(error).lost { return .connectionLost(error) } }
                return .committed([.failure(error)])
            }
        }
        for body in bodies where isolated {
            do {
                try store.savepoint()
                do {
                    let value = try body(store)
                    try store.releaseSavepoint()
                    results.append(.success(value))
                } catch {
                    if let outcome = abandon(error) { return outcome }
                    try store.rollbackToSavepoint()
                    results.append(.failure(error))
                }
            } catch {
                if let outcome = abandon(error) { return outcome }
                // The savepoint machinery itself failed: the transaction is unusable.
                results.append(.failure(error))
            }
        }
        do {
            try store.commit()
        } catch {
            if Self.classify(error).lost { return .unknownOutcome(error) }
            logger.error("store: commit failed, \(bodies.count) operations not applied: \(error)")
            try? store.rollback()
            return .failed(error)
        }
        return .committed(results)
    }
}
