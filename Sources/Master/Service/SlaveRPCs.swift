import Foundation
import Logging
import Shared

/// What the master does for a slave's requests (pull, heartbeat, finish,
/// release, rent): every claim a slave gets starts here. `MasterConnection`
/// dispatches to it; the state it works on is the `MasterService`'s.
public struct SlaveRPCs: Sendable {
    let service: MasterService
    var config: MasterConfig { service.config }
    var logger: Logger { service.logger }
    var wake: WakeSignal { service.wake }
    var metrics: MasterMetrics { service.metrics }
    var completions: CompletionWaiters { service.completions }
    var slaves: SlaveRegistry { service.slaves }
    var clock: StoreClock { service.clock }
    func db<T>(_ body: @escaping (JobStore) throws -> T) async throws -> T { try await service.db(body) }
    var claims: ClaimCache { service.claims }
    var batcher: FinishClaimBatcher { service.batcher }

    /// Claims jobs for a slave, parking the request (long poll) until a job
    /// is signalled or the wait runs out. `mayClaim` is checked before each
    /// claim so no job is handed to a connection that has gone or is leaving.
    func pull(worker: String, capabilities: Capabilities, request: PullRequest,
              mayClaim: @escaping () -> Bool) async throws -> PullResponse {
        let kinds = request.kinds.filter { capabilities.kinds.contains($0) }
        let limit = max(0, min(request.max, capabilities.concurrent))
        // waitMs comes off the wire: bounded, and the sum cannot overflow.
        let waitMs = Int64(max(0, min(request.waitMs, InputLimits.pullWaitMsMax)))
        let deadline = nowMicros().addingSaturating(waitMs.multipliedSaturating(by: 1000))
        var woken = true
        while woken && mayClaim() {
            let generation = wake.current
            let claim = FinishClaimBatcher.Claim(kinds: kinds, miners: capabilities.allowedMiners, sizes: capabilities.allowedSizes, limit: limit)
            let jobs = try await batcher.submit(.init(worker: worker, results: [], claim: claim, mayClaim: mayClaim),
                                                store: { try await self.db($0) }).jobs
            if !jobs.isEmpty { return PullResponse(jobs: handedOut(jobs, to: worker)) }
            let left = deadline - nowMicros()
            if left <= 0 || kinds.isEmpty || limit == 0 { break }
            // Claim again only when woken: a wait that simply ran out answers
            // empty at once (the slave pulls again anyway), one store call fewer.
            woken = await wake.wait(since: generation, timeoutMicros: left)
        }
        return PullResponse(jobs: [])
    }

    /// Records jobs just claimed for `worker` and turns them into assignments.
    func handedOut(_ jobs: [Job], to worker: String) -> [Assignment] {
        claims.add(jobs)
        metrics.add(.claims, jobs.count)
        LineLogHandler.coalescing {
            for job in jobs {
                logger.info("job claimed", metadata: ["job": "\(job.id)", "worker": "\(worker)", "try": "\(job.tryNum)", "lease": "\(job.lease)"])
            }
        }
        return jobs.map { Assignment(id: $0.id, kind: $0.kind, lease: $0.lease, tryNum: $0.tryNum, input: $0.input) }
    }

    /// Gives jobs back when the slave they were claimed for vanished before the answer reached it.
    func giveBack(_ assignments: [Assignment], worker: String) async {
        guard !assignments.isEmpty else { return }
        let leases = assignments.map { JobLease(id: $0.id, lease: $0.lease) }
        _ = try? await release(worker: worker, request: ReleaseRequest(jobs: leases, reason: "connection to \(worker) lost before the job was delivered"))
    }

    func heartbeat(worker: String, request: HeartbeatRequest) async throws -> HeartbeatResponse {
        let abort = try await db { try $0.heartbeat(request.jobs, now: self.clock.now()) }
        for id in abort {
            logger.warning("heartbeat for a job not held: told to abort", metadata: ["job": "\(id)", "worker": "\(worker)"])
        }
        return HeartbeatResponse(abort: abort)
    }

    /// Records results and, when the slave asks (`request.pull`), claims its
    /// next jobs in the same transaction. `mayClaim` as for `pull`.
    func finish(worker: String, capabilities: Capabilities, request: FinishRequest,
                mayClaim: @escaping () -> Bool = { true }) async throws -> FinishResponse {
        let results = try await verified(request.results.map(Self.bounded), worker: worker)
        let claim = request.pull.map { p in
            FinishClaimBatcher.Claim(kinds: p.kinds.filter { capabilities.kinds.contains($0) }, miners: capabilities.allowedMiners,
                                     sizes: capabilities.allowedSizes,
                                     limit: max(0, min(p.max, capabilities.concurrent)))
        }
        let answer = try await batcher.submit(.init(worker: worker, results: results, claim: claim, mayClaim: mayClaim),
                                              store: { try await self.db($0) })
        let (outcomes, claimed) = (answer.outcomes, answer.jobs)
        var requeued = false
        LineLogHandler.coalescing {
            for (result, outcome) in zip(results, outcomes) {
                let meta: Logger.Metadata = ["job": "\(result.id)", "worker": "\(worker)", "lease": "\(result.lease)"]
                switch (outcome, result.ok) {
                case (.recorded, true):
                    metrics.add(.finishesAccepted)
                    logger.info("finish accepted", metadata: meta)
                case (.recorded, false), (.requeued, _):
                    metrics.add(.finishesFailed)
                    if outcome == .requeued {
                        requeued = true
                        metrics.add(.retries)
                    }
                    logger.warning("attempt failed\(outcome == .requeued ? ", will retry" : ", out of tries"): \(result.error)", metadata: meta)
                case (.repeated, _):
                    metrics.add(.finishesRepeated)
                    logger.info("finish repeated (already recorded with this lease)", metadata: meta)
                case (.stale, _):
                    metrics.add(.finishesStale)
                    logger.warning("stale finish refused", metadata: meta)
                }
            }
        }
        if requeued { service.retryWake.after(config.task.retryJobInterval) }
        completions.notify(zip(results, outcomes).filter { $0.1 == .recorded }.map(\.0.id))
        return FinishResponse(statuses: outcomes.map(\.status), jobs: request.pull == nil ? nil : handedOut(claimed, to: worker))
    }

    /// A result's error text as the store keeps it: cut to `InputLimits.errorBytes`.
    static func bounded(_ result: JobResult) -> JobResult {
        var result = result
        if result.error.utf8.count > InputLimits.errorBytes { result.error = InputLimits.truncated(result.error) }
        return result
    }

    /// Successful results of verified kinds are checked here, off the store
    /// thread; one that does not verify is turned into a failed attempt.
    func verified(_ results: [JobResult], worker: String) async throws -> [JobResult] {
        var out = results
        var misses: [Int] = []
        var kinds: [Int: (String, Data?)] = [:]
        for (i, r) in results.enumerated() where r.ok {
            if let entry = claims.take(r.id, lease: r.lease) { kinds[i] = (entry.kind, entry.input) } else { misses.append(i) }
        }
        if !misses.isEmpty {
            let ids = misses.map { results[$0].id }
            let jobs = try await db { store in try ids.map { try store.get($0) } }
            for (i, job) in zip(misses, jobs) {
                if let job, job.lease == results[i].lease { kinds[i] = (job.kind, job.input) }
            }
        }
        for (i, (kind, input)) in kinds where ResultVerifier.verifiedKinds.contains(kind) {
            guard let input else { continue }
            // Recomputing rows is O(k·n²): on a thread of its own, never on an event loop.
            let output = results[i].output
            if let reason = try await onThread("wdpost-verify", { ResultVerifier.check(kind: kind, input: input, output: output) }) {
                metrics.add(.verificationFailures)
                logger.warning("\(reason)", metadata: ["job": "\(results[i].id)", "worker": "\(worker)"])
                out[i] = JobResult(id: results[i].id, lease: results[i].lease, ok: false, error: reason)
            }
        }
        return out
    }

    func release(worker: String, request: ReleaseRequest) async throws -> Empty {
        var request = request
        request.reason = InputLimits.truncated(request.reason)
        let released = try await db { store in
            try request.jobs.filter { try store.release($0, reason: request.reason, now: self.clock.now(), retry: RetryPolicy(notBefore: 0)) }
        }
        for lease in released {
            logger.info("job released: \(request.reason)", metadata: ["job": "\(lease.id)", "worker": "\(worker)"])
        }
        if !released.isEmpty { wake.signal() }
        return Empty()
    }

    /// A slave's DBC machine was rented (it releases its jobs next) or is free
    /// again. Parked pulls are woken so that this slave's returns empty at
    /// once rather than taking back the jobs it is about to release.
    func rent(_ connection: ObjectIdentifier, worker: String, request: RentNotice) async throws -> Empty {
        guard slaves.setRented(connection, request.rented) else { return Empty() }
        let meta: Logger.Metadata = ["worker": "\(worker)", "node": "\(request.nodeID.prefix(64))"]
        if request.rented {
            logger.warning("slave's DBC machine is rented: it takes no jobs until it is free", metadata: meta)
            wake.signal()
        } else {
            logger.info("slave's DBC machine is free again: it takes jobs", metadata: meta)
        }
        return Empty()
    }
}
