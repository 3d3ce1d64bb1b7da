import Foundation
import Logging
import Shared

/// The master as damocles-manager's ext-prover child: the vc-processors
/// protocol on stdin/stdout (see `../shared/DAMOCLES.md`, README "Running
/// under damocles"). Each request becomes a job whose unique key is derived
/// from the task, so a task asked again is the same job: answered from the
/// store when it has succeeded, waited on while it runs, run again when it
/// had failed. Answers go out as jobs end, in any order.
public final class ExtProverFrontEnd: @unchecked Sendable {
    let service: MasterService
    let stage: String
    let logger: Logger
    let output = ProtocolOutput()
    /// How often jobs waited on are read from the store, for ends this
    /// process does not see commit (sweeps, another master on the database).
    let checkEvery: UInt64
    private var checker: Task<Void, Never>?

    /// A task's line may carry thousands of sectors; the job input limit bounds it.
    static var maxLine: Int { InputLimits.inputBytes + 4096 }

    public init(service: MasterService, stage: String, logger: Logger, checkEveryNanos: UInt64 = 1_000_000_000) {
        self.service = service
        self.stage = stage
        self.logger = logger
        checkEvery = checkEveryNanos
    }

    /// Announces readiness (the first stdout bytes) and starts serving;
    /// `onEOF` runs once damocles-manager has closed our stdin.
    public func start(onEOF: @escaping @Sendable () -> Void) {
        // A write to a parent that has gone must fail, not kill the master
        // before it has shut down cleanly.
        signal(SIGPIPE, SIG_IGN)
        output.send(Array("\(stage) processor ready\n".utf8))
        logger.info("serving damocles-manager as its \(stage) ext-prover on stdin/stdout")
        checker = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(nanoseconds: self?.checkEvery ?? 1_000_000_000)
                await self?.checkWaited()
            }
        }
        ProtocolInput(maxLine: Self.maxLine).start(onLine: { [weak self] line in
            guard let self else { return }
            guard let line else {
                self.logger.error("ext-prover: a request line over \(Self.maxLine) bytes was dropped")
                return
            }
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0d }) { return }
            Task { await self.serve(line) }
        }, onEOF: { [weak self] in
            self?.logger.info("ext-prover: stdin closed (damocles-manager is gone)")
            onEOF()
        })
    }

    public func stop() {
        checker?.cancel()
    }

    // MARK: one request

    func serve(_ line: [UInt8]) async {
        let request: ExtProverRequest
        do { request = try ExtProverRequest(line: line) } catch let error as ExtProverRequest.ParseError {
            if case let .noTask(id) = error {
                logger.warning("ext-prover: request \(id): \(error)")
                output.send(ExtProverAnswer.error(id: id, "wdpost: \(error)"))
            } else {
                logger.warning("ext-prover: request line skipped: \(error)")
            }
            return
        } catch { return }
        let answer = await answer(request)
        output.send(answer)
    }

    func answer(_ request: ExtProverRequest) async -> [UInt8] {
        let id = request.id
        let task: DamoclesTask
        do { task = try DamoclesTask(json: request.task) } catch {
            logger.warning("ext-prover: request \(id) refused: \(error)")
            return ExtProverAnswer.error(id: id, "wdpost: \(error)")
        }
        do {
            let job = NewJob(kind: task.kind, input: request.taskJSON, minerID: String(task.minerID),
                             priority: task.kind == JobKind.winningPoSt ? Self.winningPriority : 0, uniqueKey: task.uniqueKey)
            guard let jobID = try await service.adminRPCs.submit(SubmitRequest(jobs: [job])).ids.first else {
                return ExtProverAnswer.error(id: id, "wdpost: the store returned no job id")
            }
            logger.info("ext-prover: request \(id) is job \(jobID)",
                        metadata: ["job": "\(jobID)", "miner": "\(task.minerID)", "sectors": "\(task.replicas.count)"])
            return try await outcome(of: jobID, request: id)
        } catch {
            logger.warning("ext-prover: request \(id) failed: \(error)")
            return ExtProverAnswer.error(id: id, "wdpost: \(error)")
        }
    }

    /// WinningPoSt is latency-critical (a block is lost if late): ahead of WindowPoSt in claim order.
    static let winningPriority = 1000

    /// Waits for job `jobID` to end and makes its answer line.
    func outcome(of jobID: String, request id: UInt64) async throws -> [UInt8] {
        // A job that had already failed when this request came is run again;
        // one that fails while this request waits is its answer.
        var mayRerun = true
        while true {
            let ticket = service.completions.register(jobID)
            let job = try await service.db { try $0.get(jobID) }
            guard let job else {
                service.completions.cancel(ticket)
                return ExtProverAnswer.error(id: id, "wdpost: job \(jobID) was removed before it finished")
            }
            switch job.state {
            case .succeed:
                service.completions.cancel(ticket)
                guard let output = job.output, let line = ExtProverAnswer.oneLine(output) else {
                    return ExtProverAnswer.error(id: id, "wdpost: job \(jobID) succeeded but the prover's output is not JSON")
                }
                logger.info("ext-prover: request \(id) answered", metadata: ["job": "\(jobID)"])
                return ExtProverAnswer.output(id: id, line)
            case .failed where mayRerun:
                service.completions.cancel(ticket)
                mayRerun = false
                if try await service.db({ try $0.rerunFailed(jobID) }) {
                    logger.info("ext-prover: request \(id) asks again for a job that had failed: running it again",
                                metadata: ["job": "\(jobID)", "error": "\(job.error)"])
                    service.wake.signal()
                }
            case .failed:
                service.completions.cancel(ticket)
                logger.warning("ext-prover: request \(id) failed: \(job.error)", metadata: ["job": "\(jobID)"])
                return ExtProverAnswer.error(id: id, "wdpost: job \(jobID) failed after \(job.tryNum) of \(job.maxTry) tries: \(job.error)")
            case .readyToRun, .running:
                mayRerun = false
                await service.completions.wait(ticket)
            }
        }
    }

    /// Notifies the waiters of jobs that have ended (or gone) by now.
    func checkWaited() async {
        let ids = service.completions.waitedIDs
        guard !ids.isEmpty else { return }
        let ended = (try? await service.db { store in
            try ids.filter { id in
                guard let job = try store.get(id) else { return true }
                return job.state == .succeed || job.state == .failed
            }
        }) ?? []
        if !ended.isEmpty { service.completions.notify(ended) }
    }
}
