import Foundation
@testable import Master
import XCTest

/// The status page's store aggregates: one computation per cache window,
/// shared by every viewer, and one at a time.
final class SharedComputationTests: XCTestCase {
    final class Gate: @unchecked Sendable {
        let semaphore = DispatchSemaphore(value: 0)
        func wait() async { await withCheckedContinuation { c in DispatchQueue.global().async { self.semaphore.wait(); c.resume() } } }
        func open() { semaphore.signal() }
    }

    func testViewsWithinTheWindowShareOneComputation() async throws {
        let cache = SharedComputation(ttl: 3_600_000_000) { 42 }
        for _ in 0..<50 { _ = try await cache.value() }
        let computations = await cache.computations
        XCTAssertEqual(computations, 1)
    }

    /// Even with no window at all, callers that arrive while a computation
    /// runs wait for it rather than starting their own.
    func testConcurrentViewsWaitForTheComputationInFlight() async throws {
        let gate = Gate()
        let cache = SharedComputation(ttl: 0) { () async throws -> Int in
            await gate.wait()
            return 7
        }
        let viewers = (0..<20).map { _ in Task { try await cache.value() } }
        // Every viewer has joined the one computation before it may finish.
        while await cache.joined < 19 { await Task.yield() }
        gate.open()
        for v in viewers { let value = try await v.value; XCTAssertEqual(value, 7) }
        var computations = await cache.computations
        XCTAssertEqual(computations, 1)
        // Past the window (0 here), the next view computes again.
        gate.open()
        _ = try await cache.value()
        computations = await cache.computations
        XCTAssertEqual(computations, 2)
    }

    func testAFailureIsNotKept() async throws {
        final class Flaky: @unchecked Sendable { var calls = 0 }
        let flaky = Flaky()
        let cache = SharedComputation(ttl: 3_600_000_000) { () throws -> Int in
            flaky.calls += 1
            if flaky.calls == 1 { throw TestError("store unavailable") }
            return flaky.calls
        }
        do {
            _ = try await cache.value()
            XCTFail("the first computation fails")
        } catch {}
        let value = try await cache.value()
        XCTAssertEqual(value, 2, "the next view tries again")
    }
}
