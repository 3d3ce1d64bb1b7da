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

    func expire() async {
        let now = nowMicros()
        do {
            let retry = service.retryPolicy
            let expired = try await service.db { store in
                try store.expire(heartbeatBefore: now - self.task.heartbeatTimeout, startedBefore: now - self.task.timeout,
                                 now: now, retry: retry)
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
        let cutoff = nowMicros() - task.shouldArchive
        do {
            let n = try await service.db { try $0.archive(finishedBefore: cutoff) }
            if n > 0 { logger.info("archived \(n) finished job(s)") }
        } catch {
            logger.error("sweep (archive) failed: \(error)")
        }
    }

    func purge() async {
        let cutoff = nowMicros() - task.jobLifetime
        do {
            let n = try await service.db { try $0.purge(createdBefore: cutoff) }
            if n > 0 { logger.info("deleted \(n) job(s) older than job_lifetime") }
        } catch {
            logger.error("sweep (lifetime) failed: \(error)")
        }
    }
}
