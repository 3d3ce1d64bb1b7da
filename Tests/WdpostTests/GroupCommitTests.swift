import Foundation
import Logging
@testable import Master
import Shared
import XCTest

/// Group commit on the embedded store: operations queued together share one
/// transaction, and one that fails fails alone.
final class GroupCommitTests: XCTestCase {
    func testAFailingOperationFailsAloneAndTheRestOfItsGroupCommits() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("wdpost-group-\(UUID().uuidString).db").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let store = try SQLiteStore(path: path)
        try store.migrate()
        let executor = StoreExecutor(pool: .single, target: "test", logger: Logger(label: "test"), initial: store, open: { store })
        defer { executor.shutdown() }

        // Hold the store thread so the next operations queue up into one group.
        let gate = DispatchSemaphore(value: 0)
        let entered = DispatchSemaphore(value: 0)
        let blocker = Task { try await executor.run { _ in entered.signal(); gate.wait() } }
        entered.wait()
        let first = Task { try await executor.run { try $0.insert([NewJob(kind: "noop")], maxTry: 1, now: 1) } }
        let bad = Task { try await executor.run { try $0.reset(["NoSuchJob01"], now: 1) } }
        let second = Task { try await executor.run { try $0.insert([NewJob(kind: "noop")], maxTry: 1, now: 2) } }
        // Every operation is queued before the gate opens (the queue is what we wait on).
        while executor.queuedOperations < 3 { try await Task.sleep(nanoseconds: 1_000_000) }
        gate.signal()
        try await blocker.value

        let a = try await first.value
        let b = try await second.value
        do {
            _ = try await bad.value
            XCTFail("resetting an unknown job must fail")
        } catch {
            XCTAssertTrue("\(error)".contains("NoSuchJob01"))
        }
        let ids = try await executor.run { try $0.list(all: true).map(\.id) }
        XCTAssertEqual(Set(ids), Set(a + b), "the failing operation undid nothing of its group")
    }
}
