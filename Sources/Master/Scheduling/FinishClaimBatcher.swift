import Foundation
import Shared

/// Merges the slaves' finish and claim requests into few store operations.
///
/// Every slave sends its results and asks for its next jobs in one request;
/// on a busy master, dozens of them arrive while the store is working on the
/// previous ones. Each run separately cost four statements (a write of the
/// results, then candidates, lock and update for the claim), each a round trip
/// to the database. Here the requests that wait while two batches are in
/// flight (one executing while the other commits) go to the store together:
/// one write for all their results, one claim (three statements) for all the
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
        /// Sector sizes the slave takes (`allowed_sizes`; empty: any).
        var sizes: [String] = []
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
    private var inFlight = 0
    /// Batches at the store at once: one executing while the other commits.
    private let maxInFlight = 2
    /// µs a failed attempt waits before it may run again (`task.retry_job_interval`).
    private let retryInterval: Int64
    /// The store's time (see `StoreClock`).
    private let clock: StoreClock

    init(retryInterval: Int64, clock: StoreClock) {
        self.retryInterval = retryInterval
        self.clock = clock
    }

    /// Requests waiting for a batch (for tests and diagnostics).
    var waiting: Int { lock.withLock { pending.count } }

    /// Records `request.results` and claims its jobs, in a batch with whatever
    /// else is waiting; `store` runs one operation in the next group commit.
    func submit(_ request: Request, store: @escaping Store) async throws -> Answer {
        try await withCheckedThrowingContinuation { continuation in
            let start = lock.withLock { () -> Bool in
                pending.append((request, continuation))
                guard inFlight < maxInFlight else { return false }
                inFlight += 1
                return true
            }
            // The batch is taken when the task runs, not now: requests that
            // arrive before then (the other slaves' answers to the same
            // commit) join it.
            if start { Task { await self.drain(store: store) } }
        }
    }

    /// Runs what waits, then whatever queued meanwhile, until nothing waits.
    private func drain(store: @escaping Store) async {
        while true {
            let batch = lock.withLock { () -> [Entry] in
                let batch = pending
                pending.removeAll()
                if batch.isEmpty { inFlight -= 1 }
                return batch
            }
            if batch.isEmpty { return }
            await run(batch, store: store)
        }
    }

    private func run(_ batch: [Entry], store: @escaping Store) async {
        let requests = batch.map(\.request)
        let (clock, retryInterval) = (self.clock, self.retryInterval)
        do {
            let answers = try await store { try Self.apply(requests, to: $0, now: clock.now(), retryInterval: retryInterval) }
            for (entry, answer) in zip(batch, answers) { entry.continuation.resume(returning: answer) }
        } catch where batch.count > 1 {
            // One request's failure must not fail the others: each runs again
            // as an operation of its own (the executor gives a failing one its
            // own savepoint), all at once, so a database outage is waited out
            // once, not once per request.
            await withTaskGroup(of: Void.self) { group in
                for entry in batch {
                    group.addTask {
                        do {
                            let answer = try await store {
                                try Self.apply([entry.request], to: $0, now: clock.now(), retryInterval: retryInterval)
                            }[0]
                            entry.continuation.resume(returning: answer)
                        } catch {
                            entry.continuation.resume(throwing: error)
                        }
                    }
                }
            }
        } catch {
            batch.forEach { $0.continuation.resume(throwing: error) }
        }
    }

    /// The store work of a batch, in one transaction: all results in one
    /// finish, then one claim per distinct (kinds, miners, sizes), all at `now`.
    static func apply(_ requests: [Request], to store: JobStore, now: Int64, retryInterval: Int64) throws -> [Answer] {
        let retry = RetryPolicy.after(retryInterval, from: now)
        let outcomes = try store.finish(requests.flatMap(\.results), now: now, retry: retry)
        var jobs = [[Job]](repeating: [], count: requests.count)
        var groups: [[String]: [Int]] = [:]
        var order: [[String]] = []
        for (i, r) in requests.enumerated() {
            guard let claim = r.claim, claim.limit > 0, !claim.kinds.isEmpty, r.mayClaim() else { continue }
            let key = claim.kinds + ["\u{0}"] + claim.miners + ["\u{0}"] + claim.sizes
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(i)
        }
        for key in order {
            let members = groups[key]!
            let claim = requests[members[0]].claim!
            let wanted = members.map { ClaimWanted(worker: requests[$0].worker, limit: requests[$0].claim!.limit) }
            let got = try store.claim(wanted, kinds: claim.kinds, miners: claim.miners, sizes: claim.sizes, now: now)
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
