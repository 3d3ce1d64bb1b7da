import Foundation
import Logging
import Shared

/// What the master does for each request, independent of the transport.
/// All store access goes through the executor (group commit).
public final class MasterService: @unchecked Sendable {
    let config: MasterConfig
    let executor: StoreExecutor
    let logger: Logger
    let wake: WakeSignal
    let slaves = SlaveRegistry()
    /// DeepBrainChain verification orders.
    public let dbc: DBCCoordinator

    public init(config: MasterConfig, executor: StoreExecutor, logger: Logger) {
        self.config = config
        self.executor = executor
        self.logger = logger
        let wake = WakeSignal()
        self.wake = wake
        dbc = DBCCoordinator(config: config, executor: executor, logger: logger, wake: wake)
    }

    var retryPolicy: RetryPolicy { RetryPolicy(notBefore: nowMicros() + config.task.retryJobInterval) }

    // MARK: slave requests

    /// Claims jobs for a slave, parking the request (long poll) until a job
    /// is signalled or the wait runs out. `isConnected` is checked before each
    /// claim so no job is handed to a connection that has gone.
    func pull(worker: String, capabilities: Capabilities, request: PullRequest,
              isConnected: @escaping () -> Bool) async throws -> PullResponse {
        let kinds = request.kinds.filter { capabilities.kinds.contains($0) }
        let limit = max(0, min(request.max, capabilities.concurrent))
        let deadline = nowMicros() + Int64(max(0, request.waitMs)) * 1000
        while isConnected() {
            let generation = wake.current
            let jobs = try await executor.run { store in
                try store.claim(worker: worker, kinds: kinds, miners: capabilities.allowedMiners, limit: limit, now: nowMicros())
            }
            if !jobs.isEmpty {
                for job in jobs {
                    logger.info("job claimed", metadata: ["job": "\(job.id)", "worker": "\(worker)", "try": "\(job.tryNum)", "lease": "\(job.lease)"])
                }
                return PullResponse(jobs: jobs.map { Assignment(id: $0.id, kind: $0.kind, lease: $0.lease, tryNum: $0.tryNum, input: $0.input) })
            }
            let left = deadline - nowMicros()
            if left <= 0 || kinds.isEmpty || limit == 0 { break }
            await wake.wait(since: generation, timeoutMicros: left)
        }
        return PullResponse(jobs: [])
    }

    /// Gives jobs back when the slave they were claimed for vanished before the answer reached it.
    func giveBack(_ assignments: [Assignment], worker: String) async {
        guard !assignments.isEmpty else { return }
        let leases = assignments.map { JobLease(id: $0.id, lease: $0.lease) }
        _ = try? await release(worker: worker, request: ReleaseRequest(jobs: leases, reason: "connection to \(worker) lost before the job was delivered"))
    }

    func heartbeat(worker: String, request: HeartbeatRequest) async throws -> HeartbeatResponse {
        let abort = try await executor.run { try $0.heartbeat(request.jobs, now: nowMicros()) }
        for id in abort {
            logger.warning("heartbeat for a job not held: told to abort", metadata: ["job": "\(id)", "worker": "\(worker)"])
        }
        return HeartbeatResponse(abort: abort)
    }

    func finish(worker: String, request: FinishRequest) async throws -> FinishResponse {
        let retry = retryPolicy
        let outcomes = try await executor.run { store in
            try request.results.map { try store.finish($0, now: nowMicros(), retry: retry) }
        }
        var requeued = false
        for (result, outcome) in zip(request.results, outcomes) {
            let meta: Logger.Metadata = ["job": "\(result.id)", "worker": "\(worker)", "lease": "\(result.lease)"]
            switch (outcome, result.ok) {
            case (.recorded, true): logger.info("finish accepted", metadata: meta)
            case (.recorded, false):
                requeued = true
                logger.warning("attempt failed: \(result.error)", metadata: meta)
            case (.repeated, _): logger.info("finish repeated (already recorded with this lease)", metadata: meta)
            case (.stale, _): logger.warning("stale finish refused", metadata: meta)
            }
        }
        if requeued { scheduleWake(after: config.task.retryJobInterval) }
        return FinishResponse(statuses: outcomes.map(\.status))
    }

    func release(worker: String, request: ReleaseRequest) async throws -> Empty {
        let released = try await executor.run { store in
            try request.jobs.filter { try store.release($0, reason: request.reason, now: nowMicros(), retry: RetryPolicy(notBefore: 0)) }
        }
        for lease in released {
            logger.info("job released: \(request.reason)", metadata: ["job": "\(lease.id)", "worker": "\(worker)"])
        }
        if !released.isEmpty { wake.signal() }
        return Empty()
    }

    /// Retried jobs become claimable later; wake parked pulls then.
    func scheduleWake(after micros: Int64) {
        if micros <= 0 { wake.signal(); return }
        DispatchQueue.global().asyncAfter(deadline: .now() + .microseconds(Int(micros))) { [wake] in wake.signal() }
    }

    // MARK: admin requests

    func submit(_ request: SubmitRequest) async throws -> IDList {
        for job in request.jobs where job.kind.isEmpty {
            throw ErrorMessage("submit: every job needs a kind")
        }
        let maxTry = config.task.maxRetry
        let ids = try await executor.run { try $0.insert(request.jobs, maxTry: maxTry, now: nowMicros()) }
        logger.info("submitted \(ids.count) job(s)")
        wake.signal()
        return IDList(ids: ids)
    }

    func list(_ request: ListRequest) async throws -> JobList {
        JobList(jobs: try await executor.run { try $0.list(all: request.all) })
    }

    func show(_ request: IDList) async throws -> JobList {
        let jobs = try await executor.run { store in try request.ids.map { id -> Job in
            guard let job = try store.get(id) else { throw StoreError.unknownJobs([id]) }
            return job
        } }
        return JobList(jobs: jobs)
    }

    func reset(_ request: IDList) async throws -> CountResponse {
        let n = try await executor.run { try $0.reset(request.ids, now: nowMicros()) }
        logger.info("reset \(request.ids.joined(separator: ", "))")
        wake.signal()
        return CountResponse(count: n)
    }

    func remove(_ request: IDList) async throws -> CountResponse {
        let n = try await executor.run { try $0.remove(request.ids) }
        logger.info("removed \(request.ids.joined(separator: ", "))")
        return CountResponse(count: n)
    }

    func removeAll(_ request: RemoveAllRequest) async throws -> CountResponse {
        guard request.really else { throw ErrorMessage("remove-all refused: confirmation missing") }
        let n = try await executor.run { try $0.removeAll() }
        logger.warning("removed all \(n) job(s)")
        return CountResponse(count: n)
    }

    func slaveList() async throws -> SlaveList {
        let running = try await executor.run { try $0.runningByWorker() }
        return SlaveList(slaves: slaves.snapshot().map {
            SlaveInfo(name: $0.name, address: $0.address, runningJobs: running[$0.name] ?? 0, lastSeen: $0.lastSeen,
                      kinds: $0.capabilities.kinds, concurrent: $0.capabilities.concurrent)
        })
    }
}
