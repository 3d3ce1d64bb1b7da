import Foundation
import Logging
@testable import Master
import Shared
import XCTest

/// The maintenance scheduler against a fake task and a hand-driven clock:
/// each task waits its own interval before each run, the next wait begins
/// only when the run has ended (a failed run included), and stop ends the
/// waits. No real time passes: every wait is released by the test.
final class MaintenanceSchedulerTests: XCTestCase {
    /// Waits that end only when the test releases them (or they are cancelled).
    final class ManualClock: @unchecked Sendable {
        struct Wait { let micros: Int64; let id: Int }
        private let lock = NSLock()
        private var pending: [Int: CheckedContinuation<Void, Error>] = [:]
        private var nextID = 0
        let waits: AsyncStream<Wait>
        private let waitsIn: AsyncStream<Wait>.Continuation

        init() { (waits, waitsIn) = AsyncStream.makeStream(of: Wait.self) }

        func sleep(_ micros: Int64) async throws {
            let id = lock.withLock { nextID += 1; return nextID }
            try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, Error>) in
                    lock.withLock { pending[id] = c }
                    waitsIn.yield(Wait(micros: micros, id: id))
                }
            } onCancel: {
                // Cancelled before or after the continuation was stored: resume it once, whichever.
                let c = lock.withLock { pending.removeValue(forKey: id) }
                c?.resume(throwing: CancellationError())
            }
        }

        func release(_ wait: Wait) { lock.withLock { pending.removeValue(forKey: wait.id) }?.resume() }
    }

    final class FakeTask: MaintenanceTask, @unchecked Sendable {
        let name: String
        let interval: Int64
        let failOnRun: Int
        private let lock = NSLock()
        private var active = 0
        private(set) var runs = 0
        private(set) var overlapped = false
        let done: AsyncStream<Int>
        private let doneIn: AsyncStream<Int>.Continuation

        init(name: String, interval: Int64, failOnRun: Int = 0) {
            self.name = name
            self.interval = interval
            self.failOnRun = failOnRun
            (done, doneIn) = AsyncStream.makeStream(of: Int.self)
        }

        func runOnce() async throws -> Int {
            let run = lock.withLock { active += 1; overlapped = overlapped || active > 1; runs += 1; return runs }
            await Task.yield()
            lock.withLock { active -= 1 }
            doneIn.yield(run)
            if run == failOnRun { throw ErrorMessage("run \(run) failed") }
            return run
        }
    }

    func testEachTaskWaitsItsIntervalBeforeEachRunAndStopEndsTheWaits() async throws {
        let clock = ManualClock()
        let a = FakeTask(name: "a", interval: 5_000_000, failOnRun: 2)
        let b = FakeTask(name: "b", interval: 7_000_000)
        let scheduler = MaintenanceScheduler(tasks: [a, b], logger: Logger(label: "test")) { try await clock.sleep($0) }
        var waits = clock.waits.makeAsyncIterator()
        var aDone = a.done.makeAsyncIterator()
        scheduler.start()

        // Both start by waiting, neither has run.
        var first: [Int64: ManualClock.Wait] = [:]
        for _ in 0..<2 {
            let got = await waits.next()
            let w = try XCTUnwrap(got)
            first[w.micros] = w
        }
        XCTAssertEqual(Set(first.keys), [5_000_000, 7_000_000])
        XCTAssertEqual(a.runs + b.runs, 0, "no run before its first interval")

        // Releasing a's wait runs a once; then a waits its interval again. b still waits.
        var next = try XCTUnwrap(first[5_000_000])
        for run in 1...3 {
            clock.release(next)
            let finished = await aDone.next()
            XCTAssertEqual(finished, run)
            let wait = await waits.next()
            next = try XCTUnwrap(wait)
            XCTAssertEqual(next.micros, 5_000_000, "after run \(run) (run 2 failed), a waits its interval again")
            XCTAssertEqual(a.runs, run)
        }
        XCTAssertEqual(b.runs, 0, "b's interval has not passed")
        XCTAssertFalse(a.overlapped, "never two runs of one task at once")

        scheduler.stop()
        await scheduler.stopped()
        XCTAssertEqual(a.runs, 3)
        XCTAssertEqual(b.runs, 0, "a stopped scheduler runs nothing more")
    }

    func testBatchesRunUntilOneComesBackShort() async throws {
        var calls: [Int] = []
        var answers = [3, 3, 1, 3]
        let total = try await MaintenanceBatches(rows: 3).run { limit in
            calls.append(limit)
            return answers.removeFirst()
        }
        XCTAssertEqual(total, 7)
        XCTAssertEqual(calls, [3, 3, 3], "the short third batch ends the sweep")
    }

    /// The sweep's batches share the cut-off its first one took.
    func testACutOffIsTakenOnce() {
        let calls = Locked(0)
        let cutOff = SweepCutOff {
            calls.update { $0 += 1 }
            return Int64(1_000 * calls.value)
        }
        XCTAssertEqual([cutOff.get(), cutOff.get(), cutOff.get()], [1_000, 1_000, 1_000])
        XCTAssertEqual(calls.value, 1)
    }

    func testTheBenchKnobTakesRowsOrUnboundedAndRefusesAnythingElse() throws {
        XCTAssertEqual(try MaintenanceBatches.fromEnvironment([:]).rows, 1_000)
        XCTAssertEqual(try MaintenanceBatches.fromEnvironment(["WDPOST_BENCH_SWEEP_BATCH": "unbounded"]).rows, .max)
        XCTAssertEqual(try MaintenanceBatches.fromEnvironment(["WDPOST_BENCH_SWEEP_BATCH": "250"]).rows, 250)
        for bad in ["0", "-4", "lots", ""] {
            XCTAssertThrowsError(try MaintenanceBatches.fromEnvironment(["WDPOST_BENCH_SWEEP_BATCH": bad])) { error in
                XCTAssertTrue("\(error)".contains("WDPOST_BENCH_SWEEP_BATCH=\(bad)"), "\(error)")
            }
        }
    }
}

/// The sweeps on a real master service and SQLite store: a backlog larger
/// than a batch goes in one executor operation (one transaction) per batch,
/// so what queues meanwhile commits between two of them.
final class MaintenanceSweepTests: XCTestCase {
    func testEachBatchIsItsOwnExecutorOperation() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wdpost-sweep-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = try MasterConfigFixture.load(in: dir)
        let store = try SQLiteStore(path: dir.appendingPathComponent("t.db").path)
        try store.migrate()
        // 2,500 jobs that finished long ago (µs after the epoch), due for archive and lifetime.
        let conformance = StoreConformance(store: store)
        _ = try conformance.insert(Array(repeating: NewJob(kind: "noop"), count: 2_500))
        try conformance.finishAll(try conformance.claim(limit: 2_500), now: 3_000)
        let logger = Logger(label: "test")
        let executor = StoreExecutor(store: store, logger: logger)
        defer { executor.shutdown() }
        let service = MasterService(config: config, executor: executor, logger: logger)
        func operations() -> Int {
            let text = service.metrics.dbLatency.render()
            return Int(text.split(separator: "\n").first { $0.hasPrefix("wdpost_db_operation_seconds_count ") }?
                .split(separator: " ").last ?? "") ?? -1
        }
        let batches = MaintenanceBatches(rows: 1_000)
        let before = operations()
        let archived = try await ArchiveSweep(service: service, batches: batches).runOnce()
        XCTAssertEqual(archived, 2_500)
        XCTAssertEqual(operations() - before, 3, "1,000 + 1,000 + 500: three operations")
        let again = try await ArchiveSweep(service: service, batches: batches).runOnce()
        XCTAssertEqual(again, 0)
        let purged = operations()
        let deleted = try await LifetimeSweep(service: service, batches: batches).runOnce()
        XCTAssertEqual(deleted, 2_500)
        XCTAssertEqual(operations() - purged, 3)
        let left = try await executor.run { try $0.list(all: true).count }
        XCTAssertEqual(left, 0)
    }
}
