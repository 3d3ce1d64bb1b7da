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
    let claims = ClaimCache()
    let batcher: FinishClaimBatcher
    public let metrics = MasterMetrics()
    /// Requests waiting for jobs to end (the damocles front-end).
    public let completions = CompletionWaiters()
    /// DeepBrainChain verification orders.
    public let dbc: DBCCoordinator
    /// The ComputeChain driver, when `[computechain]` lists workers (set by the daemon at start).
    public internal(set) var computechain: ComputeChainDriver?

    public init(config: MasterConfig, executor: StoreExecutor, logger: Logger) {
        self.config = config
        self.executor = executor
        self.logger = logger
        let wake = WakeSignal()
        self.wake = wake
        batcher = FinishClaimBatcher(retryInterval: config.task.retryJobInterval, clock: executor.clock)
        dbc = DBCCoordinator(config: config, executor: executor, logger: logger, wake: wake)
    }

    /// Every store operation, timed from queueing to commit for the latency histogram.
    func db<T>(_ body: @escaping (JobStore) throws -> T) async throws -> T {
        let start = DispatchTime.now().uptimeNanoseconds
        defer { metrics.dbLatency.observe(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9) }
        return try await executor.run(body)
    }

    /// The store's time: what every `now` given to the store comes from.
    var clock: StoreClock { executor.clock }

    /// Failed attempts wait `retry_job_interval` after `now` (the store's clock).
    func retryPolicy(now: Int64) -> RetryPolicy { .after(config.task.retryJobInterval, from: now) }

    // MARK: slave requests

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
        if requeued { scheduleWake(after: config.task.retryJobInterval) }
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

    /// Retried jobs become claimable later; wake parked pulls then.
    func scheduleWake(after micros: Int64) {
        if micros <= 0 { wake.signal(); return }
        DispatchQueue.global().asyncAfter(deadline: .now() + .microseconds(Int(micros))) { [wake] in wake.signal() }
    }

    // MARK: admin requests

    func submit(_ request: SubmitRequest) async throws -> IDList {
        let jobs = try SubmitCheck.checked(request.jobs)
        let maxTry = config.task.maxRetry
        let ids = try await db { try $0.insert(jobs, maxTry: maxTry, now: self.clock.now()) }
        metrics.add(.submits, ids.count)
        logger.info("submitted \(ids.count) job(s)")
        wake.signal()
        return IDList(ids: ids)
    }

    /// A page of at most `maxListPage` jobs and about a quarter of a frame
    /// (at least one job), so that the answer fits the client's frame limit
    /// even with inputs in base64; without a limit (a client from before
    /// paging) the whole list if it fits one answer, else an error.
    func list(_ request: ListRequest) async throws -> JobList {
        guard let asked = request.limit else {
            // A client from before paging gets the whole list in one answer,
            // as long as it fits one frame; past that it is told to page.
            let page = try await db { try $0.list(all: request.all, after: nil, limit: Self.maxListPage, brief: false, maxBytes: InputLimits.answerBytes / 2) }
            guard page.next == nil else {
                throw ErrorMessage("list: more jobs than fit one answer (\(Self.maxListPage) jobs or \(InputLimits.answerBytes / 2) bytes); use a client that pages")
            }
            return JobList(jobs: page.jobs)
        }
        guard asked > 0 else { throw ErrorMessage("list: limit must be at least 1, got \(asked)") }
        let limit = min(asked, Self.maxListPage)
        let maxBytes = Frame.defaultMaxBytes / 4
        let page = try await db { try $0.list(all: request.all, after: request.after, limit: limit, brief: request.brief ?? false, maxBytes: maxBytes) }
        return JobList(jobs: page.jobs, next: page.next)
    }

    /// Most jobs in one page of `list`.
    static let maxListPage = 10_000

    /// The ids of a show, reset or remove: each once, in the order first
    /// named, and at most `InputLimits.idsPerRequest` of them.
    static func distinctIDs(_ request: IDList, _ what: String) throws -> [String] {
        var seen = Set<String>()
        let ids = request.ids.filter { seen.insert($0).inserted }
        guard ids.count <= InputLimits.idsPerRequest else {
            throw ErrorMessage("\(what): \(ids.count) job ids, over the limit of \(InputLimits.idsPerRequest) per request")
        }
        return ids
    }

    /// The jobs named, each once; refused (before it is built) when the
    /// answer would not fit the client's frame.
    func show(_ request: IDList) async throws -> JobList {
        let ids = try Self.distinctIDs(request, "show")
        let limit = InputLimits.answerBytes
        let jobs = try await db { store in
            var bytes = 0
            return try ids.enumerated().map { i, id -> Job in
                guard let job = try store.get(id) else { throw StoreError.unknownJobs([id]) }
                bytes += InputLimits.answerBytes(of: job)
                guard bytes <= limit else {
                    throw ErrorMessage("show: the answer would exceed \(limit) bytes (the frame limit less headroom) at job \(id), number \(i + 1) of \(ids.count); ask for fewer jobs at once")
                }
                return job
            }
        }
        return JobList(jobs: jobs)
    }

    func reset(_ request: IDList) async throws -> CountResponse {
        let ids = try Self.distinctIDs(request, "reset")
        let n = try await db { try $0.reset(ids, now: self.clock.now()) }
        logger.info("reset \(ids.joined(separator: ", "))")
        wake.signal()
        completions.notify(ids)
        return CountResponse(count: n)
    }

    func remove(_ request: IDList) async throws -> CountResponse {
        let ids = try Self.distinctIDs(request, "remove")
        let n = try await db { try $0.remove(ids) }
        logger.info("removed \(ids.joined(separator: ", "))")
        completions.notify(ids)
        return CountResponse(count: n)
    }

    func removeAll(_ request: RemoveAllRequest) async throws -> CountResponse {
        guard request.really else { throw ErrorMessage("remove-all refused: confirmation missing") }
        let n = try await db { try $0.removeAll() }
        logger.warning("removed all \(n) job(s)")
        completions.notify(completions.waitedIDs)
        return CountResponse(count: n)
    }

    func computechainStatus() async throws -> ComputeChainStatus {
        guard let computechain else {
            return ComputeChainStatus(enabled: false, node: config.computechain.node, nodeReachable: false, height: -1, workers: [])
        }
        return try await computechain.status()
    }

    func slaveList() async throws -> SlaveList {
        let running = try await db { try $0.runningByWorker() }
        return SlaveList(slaves: slaves.snapshot().map {
            SlaveInfo(name: $0.name, address: $0.address, runningJobs: running[$0.name] ?? 0, lastSeen: $0.lastSeen,
                      kinds: $0.capabilities.kinds, concurrent: $0.capabilities.concurrent, rented: $0.rented)
        })
    }
}
