import Foundation
import Logging
import NIOCore
import Shared

/// The periodic sweeps. Each is a conditional update in the store, so several
/// masters sweeping one database at once do no harm.
final class Sweeper: @unchecked Sendable {
    let service: MasterService
    var tasks: [RepeatedTask] = []

    init(service: MasterService) { self.service = service }

    var task: MasterConfig.Task { service.config.task }
    var logger: Logger { service.logger }

    func start(on loop: EventLoop) {
        // Check often enough that a dead slave's job is free again soon after
        // heartbeat_timeout, and not so often that an idle master spins.
        let expireEvery = max(50_000, min(1_000_000, task.heartbeatTimeout / 4))
        tasks.append(every(expireEvery, on: loop) { await self.expire() })
        tasks.append(every(task.archiveJobInterval, on: loop) { await self.archive() })
        tasks.append(every(min(task.archiveJobInterval, 3_600_000_000), on: loop) { await self.purge() })
    }

    func stop() { tasks.forEach { $0.cancel() } }

    /// Runs `body` every `micros`, never two at once.
    private func every(_ micros: Int64, on loop: EventLoop, _ body: @escaping @Sendable () async -> Void) -> RepeatedTask {
        loop.scheduleRepeatedAsyncTask(initialDelay: .microseconds(micros), delay: .microseconds(micros)) { _ in
            let promise = loop.makePromise(of: Void.self)
            promise.completeWithTask { await body() }
            return promise.futureResult
        }
    }

    // Cut-offs are taken on the store's clock when the sweep runs, as the
    // heartbeats they are compared with were (see `StoreClock`).
    func expire() async {
        do {
            let expired = try await service.db { store in
                let now = self.service.clock.now()
                return try store.expire(heartbeatBefore: now - self.task.heartbeatTimeout, startedBefore: now - self.task.timeout,
                                        now: now, retry: self.service.retryPolicy(now: now))
            }
            for e in expired {
                service.metrics.add(e.reason.hasPrefix("heartbeat") ? .heartbeatTimeouts : .taskTimeouts)
                if e.requeued { service.metrics.add(.retries) }
                logger.warning("\(e.reason): \(e.requeued ? "job will run again" : "out of tries, job failed")",
                               metadata: ["job": "\(e.id)", "worker": "\(e.worker)"])
            }
            if expired.contains(where: \.requeued) { service.scheduleWake(after: task.retryJobInterval) }
        } catch {
            logger.error("sweep (timeouts) failed: \(error)")
        }
    }

    func archive() async {
        do {
            let n = try await service.db { try $0.archive(finishedBefore: self.service.clock.now() - self.task.shouldArchive) }
            if n > 0 { logger.info("archived \(n) finished job(s)") }
        } catch {
            logger.error("sweep (archive) failed: \(error)")
        }
    }

    func purge() async {
        do {
            let n = try await service.db { try $0.purge(createdBefore: self.service.clock.now() - self.task.jobLifetime) }
            if n > 0 { logger.info("deleted \(n) finished job(s) older than job_lifetime") }
        } catch {
            logger.error("sweep (lifetime) failed: \(error)")
        }
    }
}
