import Foundation
import Logging
import Shared

/// Runs store operations on one dedicated thread (blocking C calls never run on
/// a NIO event loop) and commits whatever has queued up meanwhile in one
/// transaction: group commit. Each operation runs in its own savepoint, so one
/// failing request does not undo the others, and no caller hears of success
/// before the shared COMMIT has returned.
public final class StoreExecutor: @unchecked Sendable {
    private struct Pending {
        let body: (JobStore) throws -> Any
        let complete: (Result<Any, Error>) -> Void
    }

    private let store: JobStore
    private let logger: Logger
    private let condition = NSCondition()
    private var queue: [Pending] = []
    private var stopping = false
    private var thread: Thread?
    private let finished = NSCondition()
    private var done = false
    /// Upper bound on one group, so a flood of requests still sees steady commits.
    private let maxBatch = 1024

    public init(store: JobStore, logger: Logger) {
        self.store = store
        self.logger = logger
    }

    public func start() {
        let thread = Thread { [self] in loop() }
        thread.name = "wdpost-store"
        thread.start()
        self.thread = thread
    }

    /// Runs `body` in the next group commit and returns its result once committed.
    public func run<T>(_ body: @escaping (JobStore) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (cont: CheckedContinuation<T, Error>) in
            enqueue(Pending(body: { try body($0) }, complete: { result in
                cont.resume(with: result.map { $0 as! T })
            }))
        }
    }

    private func enqueue(_ op: Pending) {
        condition.lock()
        if stopping {
            condition.unlock()
            op.complete(.failure(ErrorMessage("master is shutting down")))
            return
        }
        queue.append(op)
        condition.signal()
        condition.unlock()
    }

    /// Finishes what is queued, then stops the thread.
    public func shutdown() {
        condition.lock()
        stopping = true
        condition.signal()
        condition.unlock()
        finished.lock()
        while !done && thread != nil { finished.wait() }
        finished.unlock()
    }

    private func loop() {
        while true {
            condition.lock()
            while queue.isEmpty && !stopping { condition.wait() }
            if queue.isEmpty && stopping {
                condition.unlock()
                break
            }
            let take = min(queue.count, maxBatch)
            let batch = Array(queue.prefix(take))
            queue.removeFirst(take)
            condition.unlock()
            runGroup(batch)
        }
        finished.lock()
        done = true
        finished.broadcast()
        finished.unlock()
    }

    private func runGroup(_ batch: [Pending]) {
        var results: [Result<Any, Error>] = []
        results.reserveCapacity(batch.count)
        do {
            try store.begin()
        } catch {
            logger.error("store: cannot begin a transaction: \(error)")
            batch.forEach { $0.complete(.failure(error)) }
            return
        }
        for op in batch {
            do {
                try store.savepoint()
                do {
                    results.append(.success(try op.body(store)))
                    try store.releaseSavepoint()
                } catch {
                    try store.rollbackToSavepoint()
                    results.append(.failure(error))
                }
            } catch {
                // The savepoint machinery itself failed: the transaction is unusable.
                results.append(.failure(error))
            }
        }
        do {
            try store.commit()
        } catch {
            logger.error("store: commit failed, \(batch.count) operations not applied: \(error)")
            try? store.rollback()
            batch.forEach { $0.complete(.failure(error)) }
            return
        }
        for (op, result) in zip(batch, results) { op.complete(result) }
    }
}
