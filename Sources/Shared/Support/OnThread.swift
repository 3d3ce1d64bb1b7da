import Foundation

/// Runs blocking work (a kernel, a pipe read) on a thread of its own. Not on
/// GCD's global queues: on Linux their width is the core count and Swift
/// concurrency's executor lives on them, so a few blocked reads or a long GEMM
/// there would stall the slave's heartbeats and timers.
public func onThread<T>(_ name: String, _ body: @escaping () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { cont in
        let thread = Thread { cont.resume(with: Result(catching: body)) }
        thread.name = name
        thread.start()
    }
}

/// Starts `body` on a thread of its own and returns at once.
public func detachThread(_ name: String, _ body: @escaping () -> Void) {
    let thread = Thread(block: body)
    thread.name = name
    thread.start()
}

/// Lets exactly one of several racing parties through (a timer and a
/// completion, say), so a continuation is resumed once.
public final class Once: @unchecked Sendable {
    private let lock = NSLock()
    private var done = false

    public init() {}

    public func claim() -> Bool {
        lock.lock(); defer { lock.unlock() }
        if done { return false }
        done = true
        return true
    }
}
