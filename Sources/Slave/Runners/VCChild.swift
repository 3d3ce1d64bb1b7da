import Foundation
import Logging
import Shared

/// One vc-processors `[[processors.KIND]]` entry: its long-lived child, the
/// requests in flight on it, and its restarts.
///
/// Requests go only to a child that printed its ready line, at most
/// `concurrent` at a time. When the child exits every request in flight on it
/// fails (`child process exited: KIND`) and, with `auto_restart`, it starts
/// again after `restartDelay`. Aborting a request kills the child, the only
/// way to stop its work (the protocol has no cancel), and starts it again at once.
final class VCChild: @unchecked Sendable {
    let config: ProcessorConfig
    let index: Int
    let logger: Logger
    /// Called when a slot may have freed or the child's state changed.
    let changed: @Sendable () -> Void
    static let restartDelay: Double = 3
    /// A longer stdout line cannot be a response this slave could deliver.
    static let maxLineBytes = 64 << 20

    fileprivate final class Pending {
        var cont: CheckedContinuation<Data, Error>?
        var result: Result<Data, Error>?
    }

    private let lock = NSLock()
    private var process: LineProcess?
    /// Which start this is: a ready timer or a kill meant for an earlier start does nothing.
    private var generation = 0
    private var killRequested = false
    private var ready = false
    private var stopped = false
    /// The slave is shutting down: a child that exits or is killed now stays down.
    private var windingDown = false
    private var restartAtOnce = false
    private var brokenWhy: String?
    private var nextID: UInt64 = 1
    private var inFlight: [UInt64: Pending] = [:]
    private var exitWaiters: [CheckedContinuation<Void, Never>] = []

    init(config: ProcessorConfig, index: Int, logger: Logger, changed: @escaping @Sendable () -> Void) {
        self.config = config
        self.index = index
        self.logger = logger
        self.changed = changed
    }

    var stage: String { config.kind }
    private var meta: Logger.Metadata { ["processor": "\(config.kind)/\(index)"] }

    /// Why this child takes no requests, when its latest start did not reach the
    /// ready line (or it exited with `auto_restart` off); nil otherwise.
    var broken: String? { lock.withLock { brokenWhy } }

    /// Ready for requests (its ready line printed, not being killed).
    var isUp: Bool { lock.withLock { ready && !killRequested && !stopped } }

    /// The environment damocles-worker gives its processors.
    var environment: [String: String] {
        var env = config.inheritEnvs ? ProcessInfo.processInfo.environment : [:]
        env.merge(config.envs) { $1 }
        if !config.cpuset.isEmpty {
            // The child joins this cgroup itself (vc-processors does); the slave moves nothing.
            env["VC_CG_NAME"] = "vc-worker/sub-\(config.kind)-\(getpid())-\(index)"
            env["VC_CG_CPUSET"] = config.cpuset
        }
        return env
    }

    func launch() {
        Task { await self.launchNow() }
    }

    private func launchNow() async {
        let gen: Int? = lock.withLock {
            guard !stopped else { return nil }
            generation += 1
            killRequested = false
            return generation
        }
        guard let gen else { return }
        let handlers = LineProcess.Handlers(
            stdoutLine: { [self] in line($0, gen: gen) },
            stdoutOverlong: { [self] in
                fail(gen: gen, "wrote a stdout line of more than \(Self.maxLineBytes) bytes")
            },
            stderrLine: { [self] text in logger.info("\(stage) processor stderr: \(text)", metadata: meta) },
            exited: { [self] in exited(status: $0, gen: gen) })
        do {
            let started = try await LineProcess.start(argv: [config.bin] + config.args, environment: environment,
                                                      maxLineBytes: Self.maxLineBytes, handlers: handlers)
            let kill: Bool = lock.withLock {
                process = started
                return stopped || killRequested
            }
            logger.info("\(stage) processor started (pid \(started.pid)), waiting \(DurationText.format(micros: config.stableWait)) for its ready line",
                        metadata: meta)
            if kill { started.killGroup() }
            DispatchQueue.global().asyncAfter(deadline: .now() + .microseconds(Int(config.stableWait))) { [self] in
                let late = lock.withLock { generation == gen && !ready && process != nil }
                if late { fail(gen: gen, "no ready line \"\(VCProtocol.readyLine(stage: stage))\" within \(DurationText.format(micros: config.stableWait)) (stable_wait)") }
            }
        } catch {
            let restart: Bool = lock.withLock {
                brokenWhy = "\(error)"
                return !stopped && config.autoRestart
            }
            logger.error("\(stage) processor cannot start: \(error)\(restart ? "; trying again in 3s" : "")", metadata: meta)
            changed()
            if restart { DispatchQueue.global().asyncAfter(deadline: .now() + Self.restartDelay) { self.launch() } }
        }
    }

    /// The child will take no requests: say why, kill it (its exit restarts it).
    private func fail(gen: Int, _ why: String) {
        let target: LineProcess? = lock.withLock {
            guard generation == gen else { return nil }
            if !ready { brokenWhy = why }
            killRequested = true
            return process
        }
        logger.error("\(stage) processor \(why); killing it", metadata: meta)
        target?.killGroup()
        changed()
    }

    private func line(_ line: Data, gen: Int) {
        let (wasReady, dying) = lock.withLock { (ready, killRequested) }
        if !wasReady {
            // Refused already: what it writes until the kill lands says nothing more.
            if dying { return }
            guard VCProtocol.isReady(line, stage: stage) else {
                let text = String(decoding: line.prefix(200), as: UTF8.self)
                return fail(gen: gen, "printed \(text.debugDescription) where its ready line \"\(VCProtocol.readyLine(stage: stage))\" was due")
            }
            lock.withLock {
                ready = true
                brokenWhy = nil
            }
            logger.info("\(stage) processor ready", metadata: meta)
            changed()
            return
        }
        let response: VCProtocol.Response
        do { response = try VCProtocol.response(line) } catch VCProtocol.ParseError.malformed(let id, let why) {
            finish(id, .failure(JobFailure("\(config.bin): a malformed answer to request \(id): \(why)")))
            return
        } catch {
            logger.warning("\(stage) processor wrote a line that is not a response (\(error)); skipped: \(String(decoding: line.prefix(500), as: UTF8.self))",
                           metadata: meta)
            return
        }
        if let message = response.errMsg {
            finish(response.id, .failure(JobFailure("\(config.bin): \(message.isEmpty ? "failed (an empty err_msg)" : message)")))
        } else if let output = response.output {
            finish(response.id, .success(output))
        } else {
            finish(response.id, .failure(JobFailure("\(config.bin): answered request \(response.id) with neither err_msg nor output")))
        }
    }

    private func finish(_ id: UInt64, _ result: Result<Data, Error>) {
        let pending = lock.withLock { inFlight.removeValue(forKey: id) }
        guard let pending else {
            return logger.warning("\(stage) processor answered request \(id), which is not in flight; dropped", metadata: meta)
        }
        resume(pending, result)
        changed()
    }

    private func resume(_ pending: Pending, _ result: Result<Data, Error>) {
        let cont: CheckedContinuation<Data, Error>? = lock.withLock {
            guard pending.result == nil else { return nil }
            pending.result = result
            let cont = pending.cont
            pending.cont = nil
            return cont
        }
        cont?.resume(with: result)
    }

    private func exited(status: String, gen: Int) {
        let (lost, delay, waiters): ([Pending], Double?, [CheckedContinuation<Void, Never>]) = lock.withLock {
            let lost = Array(inFlight.values)
            inFlight.removeAll()
            if !ready && brokenWhy == nil { brokenWhy = "exited (\(status)) before its ready line" }
            ready = false
            process = nil
            let waiters = exitWaiters
            exitWaiters.removeAll()
            var delay: Double?
            if stopped || windingDown {
                delay = nil
            } else if restartAtOnce {
                delay = 0
            } else if config.autoRestart {
                delay = Self.restartDelay
            } else if brokenWhy == nil {
                brokenWhy = "exited (\(status)); auto_restart is off"
            }
            restartAtOnce = false
            return (lost, delay, waiters)
        }
        let why = lost.isEmpty ? "" : "; \(lost.count) request(s) in flight fail"
        if let delay {
            logger.warning("\(stage) processor exited (\(status))\(why); restarting\(delay > 0 ? " in 3s" : "")", metadata: meta)
        } else if !lock.withLock({ stopped || windingDown }) {
            logger.error("\(stage) processor exited (\(status))\(why); auto_restart is off", metadata: meta)
        }
        for pending in lost { resume(pending, .failure(JobFailure("child process exited: \(stage)"))) }
        waiters.forEach { $0.resume() }
        changed()
        if let delay { DispatchQueue.global().asyncAfter(deadline: .now() + delay) { self.launch() } }
    }

    /// A request sent: its id and where its answer lands.
    struct Ticket {
        let id: UInt64
        fileprivate let pending: Pending
    }

    /// Sends `task` when the child is ready and has a free slot; nil otherwise.
    func begin(task: Data) -> Ticket? {
        lock.withLock { () -> Ticket? in
            guard ready, !stopped, !killRequested, let process, inFlight.count < config.concurrent else { return nil }
            let id = nextID
            nextID += 1
            let pending = Pending()
            inFlight[id] = pending
            process.send(VCProtocol.request(id: id, task: task))
            return Ticket(id: id, pending: pending)
        }
    }

    /// The answer to the request. Cancelled (the job aborted), the child is
    /// killed and started again at once.
    func answer(_ ticket: Ticket) async throws -> Data {
        let pending = ticket.pending
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (cont: CheckedContinuation<Data, Error>) in
                // The answer (or the child's exit) may have come already.
                let done: Result<Data, Error>? = lock.withLock {
                    if let result = pending.result { return result }
                    pending.cont = cont
                    return nil
                }
                if let done { cont.resume(with: done) }
            }
        } onCancel: {
            abort(ticket.id)
        }
    }

    private func abort(_ id: UInt64) {
        let (pending, target): (Pending?, LineProcess?) = lock.withLock {
            guard let pending = inFlight.removeValue(forKey: id) else { return (nil, nil) }
            restartAtOnce = !stopped
            killRequested = true
            return (pending, process)
        }
        guard let pending else { return }
        logger.warning("a job on the \(stage) processor was aborted: killing it (its other requests fail) and starting it again",
                       metadata: meta)
        resume(pending, .failure(CancellationError()))
        target?.killGroup()
    }

    /// The slave began shutting down: requests in flight still finish, but a
    /// child that exits (or is killed by an abort) is not started again.
    func windDown() {
        lock.withLock { windingDown = true }
    }

    /// The slave is stopping: the child's process group is killed and not started again.
    func stop() async {
        let target: LineProcess? = lock.withLock {
            stopped = true
            return process
        }
        guard let target else { return }
        await withCheckedContinuation { (cont: CheckedContinuation<Void, Never>) in
            let gone: Bool = lock.withLock {
                guard process != nil else { return true }
                exitWaiters.append(cont)
                return false
            }
            if gone { cont.resume() }
            target.killGroup()
        }
    }
}
