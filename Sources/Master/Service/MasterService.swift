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

    /// Slave requests: pull, heartbeat, finish, release, rent.
    public var slaveRPCs: SlaveRPCs { SlaveRPCs(service: self) }
    /// Admin requests: submit, list, show, reset, remove, slaves.
    public var adminRPCs: AdminRPCs { AdminRPCs(service: self) }
    /// Wakes parked pulls when retried jobs become claimable.
    var retryWake: RetryWakeTimer { RetryWakeTimer(wake: wake) }

    /// Retried jobs become claimable later; wake parked pulls then.
    func scheduleWake(after micros: Int64) { retryWake.after(micros) }
}
