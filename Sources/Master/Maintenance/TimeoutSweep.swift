import Foundation
import Shared

/// Running jobs whose slave stopped heartbeating (`heartbeat_timeout`) or that
/// ran past `task.timeout` go back to ReadyToRun, or fail when out of tries.
struct TimeoutSweep: MaintenanceTask {
    let service: MasterService
    let batches: MaintenanceBatches

    var name: String { "timeouts" }

    /// Often enough that a dead slave's job is free again soon after
    /// heartbeat_timeout, and not so often that an idle master spins.
    var interval: Int64 { max(50_000, min(1_000_000, service.config.task.heartbeatTimeout / 4)) }

    func runOnce() async throws -> Int {
        let task = service.config.task
        return try await batches.run { limit in
            let started = DispatchTime.now().uptimeNanoseconds
            // Cut-offs are taken on the store's clock when the batch runs, as
            // the heartbeats they are compared with were (see `StoreClock`).
            let expired = try await service.db { store in
                let now = service.clock.now()
                return try store.expire(heartbeatBefore: now - task.heartbeatTimeout, startedBefore: now - task.timeout,
                                        now: now, retry: service.retryPolicy(now: now), limit: limit)
            }
            service.metrics.observeMaintenanceBatch(name, since: started)
            for e in expired {
                service.metrics.add(e.reason.hasPrefix("heartbeat") ? .heartbeatTimeouts : .taskTimeouts)
                if e.requeued { service.metrics.add(.retries) }
                service.logger.warning("\(e.reason): \(e.requeued ? "job will run again" : "out of tries, job failed")",
                                       metadata: ["job": "\(e.id)", "worker": "\(e.worker)"])
            }
            if expired.contains(where: \.requeued) { service.scheduleWake(after: task.retryJobInterval) }
            return expired.count
        }
    }
}
