import Foundation
import Shared

/// Jobs finished more than `should_archive` ago move to the archive table,
/// every `archive_job_interval`.
struct ArchiveSweep: MaintenanceTask {
    let service: MasterService
    let batches: MaintenanceBatches

    var name: String { "archive" }
    var interval: Int64 { service.config.task.archiveJobInterval }

    func runOnce() async throws -> Int {
        let age = service.config.task.shouldArchive
        let cutOff = SweepCutOff { service.clock.now() - age }
        let moved = try await batches.run { limit in
            let started = DispatchTime.now().uptimeNanoseconds
            defer { service.metrics.observeMaintenanceBatch(name, since: started) }
            return try await service.db { try $0.archive(finishedBefore: cutOff.get(), limit: limit) }
        }
        if moved > 0 { service.logger.info("archived \(moved) finished job(s)") }
        return moved
    }
}
