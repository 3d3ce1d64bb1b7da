import Foundation
import Logging
import Shared

/// The kinds run by damocles' vc-processors children (`[[processors.window_post]]`
/// copied from a damocles-worker config): one long-lived child per entry,
/// started with the slave. A job's input is the request's task; the output is
/// the answer's `output` as the child wrote it.
public final class VCProcessorRunner: Runner, @unchecked Sendable {
    let kind: String
    private(set) var children: [VCChild] = []
    private let lock = NSLock()
    /// Bumped at every change a waiting job may care about (a slot freed, a child ready or broken).
    private var changes = 0
    private var waiters: [(Int, CheckedContinuation<Void, Never>)] = []
    private var wasAvailable = false
    private var observer: (@Sendable () -> Void)?

    public init(kind: String, entries: [ProcessorConfig], logger: Logger) {
        self.kind = kind
        children = entries.enumerated().map { index, entry in
            VCChild(config: entry, index: index, logger: logger) { [weak self] in self?.changed() }
        }
    }

    /// Starts every child (at slave start-up).
    public func start() { children.forEach { $0.launch() } }

    /// The slave began shutting down: children that exit stay down.
    public func windDown() { children.forEach { $0.windDown() } }

    /// Kills every child for good (the slave is stopping).
    public func stop() async {
        for child in children { await child.stop() }
    }

    /// Some child has printed its ready line and is up: the slave claims jobs
    /// of the kind only then, so none is claimed by a slave whose provers
    /// cannot start (wrong or late ready line, no program) or are restarting.
    public var available: Bool { children.contains { $0.isUp } }

    /// `body` runs whenever `available` flips.
    public func observe(_ body: @escaping @Sendable () -> Void) { lock.withLock { observer = body } }

    private func changed() {
        let now = available
        let (ready, notify): ([CheckedContinuation<Void, Never>], (@Sendable () -> Void)?) = lock.withLock {
            changes += 1
            let all = waiters.map(\.1)
            waiters.removeAll()
            let flipped = now != wasAvailable
            wasAvailable = now
            return (all, flipped ? observer : nil)
        }
        ready.forEach { $0.resume() }
        notify?()
    }

    /// Returns once something changed after `seen`.
    private func waitForChange(after seen: Int) async {
        await withCheckedContinuation { (cont: CheckedContinuation<Void, Never>) in
            let now: Bool = lock.withLock {
                guard changes == seen else { return true }
                waiters.append((seen, cont))
                return false
            }
            if now { cont.resume() }
        }
    }

    public func run(_ job: Assignment) async throws -> Data {
        try await run(job, outputLimit: OutputLimit.maxOutputBytes(frameLimit: Frame.defaultMaxBytes))
    }

    public func run(_ job: Assignment, outputLimit: Int) async throws -> Data {
        let task: Data
        do { task = try VCProtocol.task(job.input) } catch { throw JobFailure("\(kind): \(error)") }
        while true {
            try Task.checkCancellation()
            let seen = lock.withLock { changes }
            for child in children {
                guard let ticket = child.begin(task: task) else { continue }
                let output = try await child.answer(ticket)
                if output.count > outputLimit { throw JobFailure("\(child.config.bin): \(OutputLimit.describe(bytes: output.count, limit: outputLimit))") }
                return output
            }
            // No child can take it now. When none will (every one failed to
            // start), say why rather than hold the job until the master's timeout.
            let broken = children.compactMap(\.broken)
            if broken.count == children.count {
                throw JobFailure("no \(kind) processor is ready: \(broken.joined(separator: "; "))")
            }
            await withTaskCancellationHandler {
                await waitForChange(after: seen)
            } onCancel: {
                changed()
            }
        }
    }
}
