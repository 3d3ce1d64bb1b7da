import Foundation
import NIOCore
import Shared

/// One periodic maintenance service of the master: what it is called in log
/// lines, how long to wait between runs, and one run.
protocol MaintenanceTask: Sendable {
    /// As in "sweep (NAME) failed: …".
    var name: String { get }
    /// µs from the end of one run to the start of the next.
    var interval: Int64 { get }
    /// One sweep, to its end; returns the rows it changed.
    func runOnce() async throws -> Int
}

/// Waits the given µs; throws when cancelled.
typealias MaintenanceSleep = @Sendable (Int64) async throws -> Void

/// Swift's own timer (tests).
let taskSleep: MaintenanceSleep = { try await Task.sleep(nanoseconds: UInt64(max(0, $0)) * 1_000) }

/// The master's waits: timers of a NIO event loop, on the same monotonic
/// clock as the rest of the master. Swift's timer does not agree with it in a
/// process whose clock is shifted (libfaketime, in the clock-skew test): it
/// waits the shift on top.
func eventLoopSleep(_ loop: EventLoop) -> MaintenanceSleep {
    { micros in
        let scheduled = loop.scheduleTask(in: .microseconds(max(0, micros))) {}
        try await withTaskCancellationHandler {
            try await scheduled.futureResult.get()
        } onCancel: {
            scheduled.cancel()
        }
    }
}

/// How a sweep splits its work: at most `rows` rows per store operation (one
/// transaction, short however large the backlog), each its own executor
/// operation, with a rest between two, so the claims and finishes that
/// arrive meanwhile get their turn.
struct MaintenanceBatches: Sendable {
    var rows: Int
    /// How the rest between two batches is waited (see `MaintenanceSleep`).
    var sleep: MaintenanceSleep = taskSleep

    static let standard = MaintenanceBatches(rows: 1_000)

    /// For scripts/bench.sh only: the batch size, or "unbounded" (the whole
    /// sweep in one transaction), to measure what batching buys.
    static let benchVariable = "WDPOST_BENCH_SWEEP_BATCH"

    static func fromEnvironment(_ env: [String: String] = ProcessInfo.processInfo.environment) throws -> MaintenanceBatches {
        guard let text = env[benchVariable] else { return .standard }
        if text == "unbounded" { return MaintenanceBatches(rows: .max) }
        guard let rows = Int(text), rows > 0 else {
            throw ConfigError("\(benchVariable)=\(text): expected a positive number of rows or \"unbounded\"")
        }
        return MaintenanceBatches(rows: rows)
    }

    /// Calls `batch` with the row limit until a call changes fewer rows than
    /// that (nothing left, or the rest held by another master's sweep), and
    /// returns the rows changed in all. After each full batch it rests as
    /// long as the batch took: the executor merges whatever is queued into
    /// one transaction, so a claim queued beside the next batch would wait
    /// for all of it; resting, the sweep leaves the store at least half the
    /// time (on SQLite's single connection, all of it) to the requests that
    /// arrive. Stops between batches when the task is cancelled (the master
    /// is stopping).
    func run(_ batch: (Int) async throws -> Int) async throws -> Int {
        var total = 0
        while !Task.isCancelled {
            let started = DispatchTime.now().uptimeNanoseconds
            let done = try await batch(rows)
            total += done
            if done < rows { break }
            let took = DispatchTime.now().uptimeNanoseconds - started
            do { try await sleep(Int64(min(took, Self.longestRest) / 1_000)) } catch { break }
        }
        return total
    }

    /// However long a batch took, the rest after it stays under a second.
    static let longestRest: UInt64 = 1_000_000_000
}

/// A sweep's cut-off, taken on the store's clock (see `StoreClock`) inside its
/// first batch and kept for the others: a sweep ends with what was due when
/// it began, instead of chasing the jobs that come due while it runs.
final class SweepCutOff: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Int64?
    private let make: @Sendable () -> Int64

    init(_ make: @escaping @Sendable () -> Int64) { self.make = make }

    func get() -> Int64 {
        lock.withLock {
            if let value { return value }
            let now = make()
            value = now
            return now
        }
    }
}
