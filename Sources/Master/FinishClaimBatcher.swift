import Foundation
import Shared

/// Merges the slaves' finish and claim requests into few store operations.
///
/// Every slave sends its results and asks for its next jobs in one request;
/// on a busy master, dozens of them arrive while the store is working on the
/// previous ones. Each run separately cost four statements (a write of the
/// results, then candidates, lock and update for the claim), each a round trip
/// to the database. Here the requests that wait while a batch runs its
/// statements (or while two are at the store, one executing while the other
/// commits) go to the store together: one write for all their results, one claim (three statements) for all the
/// slaves that ask for the same kinds and miners. Each request still gets
/// exactly its own outcomes and jobs, after the shared commit.
final class FinishClaimBatcher: @unchecked Sendable {
    struct Request {
        let worker: String
        let results: [JobResult]
        /// Jobs wanted after the results are recorded (nil: none).
        let claim: Claim?
        /// Checked in the transaction: no job for a connection that has gone or is leaving.
        let mayClaim: () -> Bool
    }

    struct Claim {
        let kinds: [String]
        let miners: [String]
        let limit: Int
    }

    struct Answer {
        let outcomes: [FinishOutcome]
        let jobs: [Job]
    }

    typealias Store = (@escaping (JobStore) throws -> [Answer]) async throws -> [Answer]

    private let lock = NSLock()
    private typealias Entry = (request: Request, continuation: CheckedContinuation<Answer, Error>)
    private var pending: [Entry] = []
    /// Batches at the store (at most `maxInFlight`) and whether one of them is
    /// still running its statements. A batch starts only when none is: the
    /// requests that arrive meanwhile wait and go together, so batches grow
    /// with the load instead of each request becoming a transaction of its
    /// own; the second slot lets the next batch execute while the previous one
    /// commits (waits for the disk).
    private var inFlight = 0
    private var executing = false
    private let maxInFlight = 2
    /// µs a failed attempt waits before it may run again (`task.retry_job_interval`).
    private let retryInterval: Int64

    init(retryInterval: Int64) {
        self.retryInterval = retryInterval
    }

    /// Requests waiting for a batch (for tests and diagnostics).
    var waiting: Int { lock.withLock { pending.count } }

    /// Records `request.results` and claims its jobs, in a batch with whatever
    /// else is waiting; `store` runs one operation in the next group commit.
    func submit(_ request: Request, store: @escaping Store) async throws -> Answer {
        try await withCheckedThrowingContinuation { continuation in
            lock.withLock { pending.append((request, continuation)) }
            startNext(store: store)
        }
    }

    /// Starts a batch of everything waiting, if the store may take one now.
    private func startNext(store: @escaping Store) {
        let batch = lock.withLock { () -> [Entry]? in
            guard !pending.isEmpty, !executing, inFlight < maxInFlight else { return nil }
            inFlight += 1
            executing = true
            defer { pending.removeAll() }
            return pending
        }
        guard let batch else { return }
        // Once per batch, though the executor may run the operation again.
        let done = OnceFlag()
        Task {
            await self.run(batch, store: store, executed: { if done.set() { self.executed(store: store) } })
            self.lock.withLock { self.inFlight -= 1 }
            self.startNext(store: store)
        }
    }

    /// The running batch's statements are done (it commits now, or failed): the next may execute.
    private func executed(store: @escaping Store) {
        lock.withLock { executing = false }
        startNext(store: store)
    }

    private func run(_ batch: [Entry], store: @escaping Store, executed: @escaping @Sendable () -> Void) async {
        let requests = batch.map(\.request)
        let retry = RetryPolicy.after(retryInterval)
        do {
            let answers = try await store {
                defer { executed() }
                return try Self.apply(requests, to: $0, retry: retry)
            }
            executed()
            for (entry, answer) in zip(batch, answers) { entry.continuation.resume(returning: answer) }
        } catch where batch.count > 1 {
            executed()
            // One request's failure must not fail the others: each runs again
            // as an operation of its own (the executor gives a failing one its
            // own savepoint), all at once, so a database outage is waited out
            // once, not once per request.
            await withTaskGroup(of: Void.self) { group in
                for entry in batch {
                    group.addTask {
                        do {
                            let answer = try await store { try Self.apply([entry.request], to: $0, retry: retry) }[0]
                            entry.continuation.resume(returning: answer)
                        } catch {
                            entry.continuation.resume(throwing: error)
                        }
                    }
                }
            }
        } catch {
            executed()
            batch.forEach { $0.continuation.resume(throwing: error) }
        }
    }

    /// The store work of a batch, in one transaction: all results in one
    /// finish, then one claim per distinct (kinds, miners).
    static func apply(_ requests: [Request], to store: JobStore, retry: RetryPolicy) throws -> [Answer] {
        let outcomes = try store.finish(requests.flatMap(\.results), now: nowMicros(), retry: retry)
        var jobs = [[Job]](repeating: [], count: requests.count)
        var groups: [[String]: [Int]] = [:]
        var order: [[String]] = []
        for (i, r) in requests.enumerated() {
            guard let claim = r.claim, claim.limit > 0, !claim.kinds.isEmpty, r.mayClaim() else { continue }
            let key = claim.kinds + ["\u{0}"] + claim.miners
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(i)
        }
        let now = nowMicros()
        for key in order {
            let members = groups[key]!
            let claim = requests[members[0]].claim!
            let wanted = members.map { ClaimWanted(worker: requests[$0].worker, limit: requests[$0].claim!.limit) }
            let got = try store.claim(wanted, kinds: claim.kinds, miners: claim.miners, now: now)
            for (i, share) in zip(members, got) { jobs[i] = share }
        }
        var answers: [Answer] = []
        var offset = 0
        for (i, r) in requests.enumerated() {
            answers.append(Answer(outcomes: Array(outcomes[offset..<offset + r.results.count]), jobs: jobs[i]))
            offset += r.results.count
        }
        return answers
    }
}

/// A flag that is set once: `set()` is true only for the first caller.
private final class OnceFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var isSet = false

    func set() -> Bool {
        lock.withLock {
            defer { isSet = true }
            return !isSet
        }
    }
}
