import Foundation
import Logging
import NIOCore

/// Runs each maintenance task every `interval`, never two runs of one task at
/// once (the next wait starts when a run ends). A failed run is logged and
/// the task runs again at its next turn. Several masters may run the same
/// tasks on one database: each sweep's changes are conditional.
final class MaintenanceScheduler: @unchecked Sendable {
    typealias Sleep = MaintenanceSleep

    let tasks: [MaintenanceTask]
    private let logger: Logger
    private let sleep: Sleep
    private let lock = NSLock()
    private var loops: [Task<Void, Never>] = []

    init(tasks: [MaintenanceTask], logger: Logger, sleep: @escaping Sleep = taskSleep) {
        self.tasks = tasks
        self.logger = logger
        self.sleep = sleep
    }

    /// The master's sweeps: timeouts, archive and lifetime.
    static func forMaster(_ service: MasterService, on loop: EventLoop) throws -> MaintenanceScheduler {
        var batches = try MaintenanceBatches.fromEnvironment()
        batches.sleep = eventLoopSleep(loop)
        return MaintenanceScheduler(tasks: [TimeoutSweep(service: service, batches: batches),
                                            ArchiveSweep(service: service, batches: batches),
                                            LifetimeSweep(service: service, batches: batches)],
                                    logger: service.logger, sleep: batches.sleep)
    }

    func start() {
        lock.withLock {
            guard loops.isEmpty else { return }
            loops = tasks.map { task in Task { await self.loop(task) } }
        }
    }

    /// Stops waiting; a sweep under way stops after its current batch.
    func stop() { lock.withLock { loops }.forEach { $0.cancel() } }

    /// Returns once every task's loop has ended (after `stop`).
    func stopped() async {
        for loop in lock.withLock({ loops }) { await loop.value }
    }

    private func loop(_ task: MaintenanceTask) async {
        while !Task.isCancelled {
            do { try await sleep(task.interval) } catch { return }
            if Task.isCancelled { return }
            do {
                _ = try await task.runOnce()
            } catch {
                logger.error("sweep (\(task.name)) failed: \(error)")
            }
        }
    }
}
