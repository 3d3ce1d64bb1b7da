import Foundation
import Shared

/// Finished jobs, live or archived, created more than `job_lifetime` ago are
/// deleted. A job still ready or running that old is stuck: it stays, to be
/// seen in `wdpost list`.
struct LifetimeSweep: MaintenanceTask {
    let service: MasterService
    let batches: MaintenanceBatches

    var name: String { "lifetime" }
    /// As often as the archive, at least hourly.
    var interval: Int64 { min(service.config.task.archiveJobInterval, 3_600_000_000) }

    func runOnce() async throws -> Int {
        let lifetime = service.config.task.jobLifetime
        let cutOff = SweepCutOff { service.clock.now() - lifetime }
        let deleted = try await batches.run { limit in
            let started = DispatchTime.now().uptimeNanoseconds
            defer { service.metrics.observeMaintenanceBatch(name, since: started) }
            return try await service.db { try $0.purge(createdBefore: cutOff.get(), limit: limit) }
        }
        if deleted > 0 { service.logger.info("deleted \(deleted) finished job(s) older than job_lifetime") }
        return deleted
    }
}
