import Foundation
import Logging
@testable import Master
import Shared
import XCTest

/// The master's merging of finish-and-claim requests, over a real MariaDB:
/// requests that wait while two batches are at the store go in one store
/// operation, and each still gets exactly its own outcomes and jobs.
final class FinishClaimBatcherTests: XCTestCase {
    var url: MariaDBURL!
    var executor: StoreExecutor!
    let logs = CapturedLogs()

    override func setUpWithError() throws {
        url = try TestMariaDB.freshDatabase("batcher")
        let store = try MariaDBStore(url: url)
        try store.migrate()
        let url = self.url!
        executor = StoreExecutor(pool: StoreExecutor.Pool(minConnections: 1, maxConnections: 2, idleTimeout: .max),
                                 target: "test-db", logger: logs.logger, initial: store, open: { try MariaDBStore(url: url) })
        executor.start()
    }

    override func tearDown() {
        executor?.shutdown()
        if let url { TestMariaDB.dropDatabase(url) }
    }

    /// Counts the store operations and holds the first two until released.
    final class Gate: @unchecked Sendable {
        let lock = NSLock()
        var calls = 0
        /// The store call (1-based) that fails instead of running.
        var failCall = 0
        let held = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
    }

    func store(_ gate: Gate) -> FinishClaimBatcher.Store {
        let executor = self.executor!
        return { body in
            let call = gate.lock.withLock { gate.calls += 1; return gate.calls }
            if call <= 2 {
                gate.held.signal()
                await withCheckedContinuation { c in DispatchQueue.global().async { gate.release.wait(); c.resume() } }
            }
            if call == gate.failCall { throw ErrorMessage("the merged operation failed") }
            return try await executor.run(body)
        }
    }

    func testRequestsThatWaitTogetherShareOneStoreOperation() async throws {
        let ids = try await executor.run { try $0.insert(Array(repeating: NewJob(kind: "noop"), count: 40), maxTry: 3, now: nowMicros()) }
        // Ten slaves, each holding one running job.
        let running = try await executor.run { store in
            try (0..<10).map { try store.claim(worker: "w\($0)", kinds: ["noop"], miners: [], limit: 1, now: nowMicros())[0] }
        }
        let batcher = FinishClaimBatcher(retryInterval: 0, clock: StoreClock())
        let gate = Gate()
        let store = self.store(gate)
        var tasks: [Task<FinishClaimBatcher.Answer, Error>] = []
        for (i, job) in running.enumerated() {
            let request = FinishClaimBatcher.Request(
                worker: "w\(i)", results: [JobResult(id: job.id, lease: job.lease, ok: true, output: Data("\(i)".utf8))],
                claim: .init(kinds: ["noop"], miners: [], limit: 2), mayClaim: { true })
            tasks.append(Task { try await batcher.submit(request, store: store) })
            // The first two requests each start a batch; hold both at the store.
            if i < 2 { XCTAssertEqual(gate.held.wait(timeout: .now() + 10), .success) }
        }
        // Let the other eight queue up behind the two held batches.
        while batcher.waiting < 8 { try await Task.sleep(nanoseconds: 1_000_000) }
        gate.release.signal()
        gate.release.signal()
        var answers: [FinishClaimBatcher.Answer] = []
        for task in tasks { answers.append(try await task.value) }
        XCTAssertEqual(gate.calls, 3, "two held batches, then one for the eight that waited")
        var handedOut: [String] = []
        for (i, answer) in answers.enumerated() {
            XCTAssertEqual(answer.outcomes, [.recorded], "request \(i) gets its own outcome")
            XCTAssertEqual(answer.jobs.count, 2, "request \(i) gets the jobs it asked for")
            XCTAssertTrue(answer.jobs.allSatisfy { $0.worker == "w\(i)" && $0.state == .running })
            handedOut += answer.jobs.map(\.id)
        }
        XCTAssertEqual(Set(handedOut).count, 20, "no job is handed out twice")
        XCTAssertTrue(Set(handedOut).isSubset(of: Set(ids[10...])))
        for (i, job) in running.enumerated() {
            let stored = try await executor.run { try $0.get(job.id) }
            XCTAssertEqual(stored?.state, .succeed)
            XCTAssertEqual(stored?.output, Data("\(i)".utf8))
        }
    }

    func testAFailedMergedOperationRunsEachRequestAlone() async throws {
        _ = try await executor.run { try $0.insert(Array(repeating: NewJob(kind: "noop"), count: 10), maxTry: 3, now: nowMicros()) }
        let batcher = FinishClaimBatcher(retryInterval: 0, clock: StoreClock())
        let gate = Gate()
        gate.failCall = 3
        let store = self.store(gate)
        var tasks: [Task<FinishClaimBatcher.Answer, Error>] = []
        for i in 0..<5 {
            let request = FinishClaimBatcher.Request(worker: "w\(i)", results: [], claim: .init(kinds: ["noop"], miners: [], limit: 2),
                                                     mayClaim: { true })
            tasks.append(Task { try await batcher.submit(request, store: store) })
            if i < 2 { XCTAssertEqual(gate.held.wait(timeout: .now() + 10), .success) }
        }
        while batcher.waiting < 3 { try await Task.sleep(nanoseconds: 1_000_000) }
        gate.release.signal()
        gate.release.signal()
        var claimed: [Job] = []
        for (i, task) in tasks.enumerated() {
            let answer = try await task.value
            XCTAssertEqual(answer.jobs.count, 2, "request \(i) is answered although its batch failed")
            claimed += answer.jobs
        }
        XCTAssertEqual(gate.calls, 6, "two held batches, the merged one that failed, then its three requests one by one")
        XCTAssertEqual(Set(claimed.map(\.id)).count, 10)
    }
}
