import Dispatch
import Foundation

/// Turns SIGTERM/SIGINT into an awaitable event (the default action would kill
/// the process before it can release its jobs or finish its commits).
public final class ShutdownSignal: @unchecked Sendable {
    private var sources: [DispatchSourceSignal] = []
    private let lock = NSLock()
    private var received: Int32?
    private var waiters: [CheckedContinuation<Int32, Never>] = []

    public init(_ signals: [Int32] = [SIGTERM, SIGINT]) {
        for sig in signals {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { [weak self] in self?.fire(sig) }
            source.resume()
            sources.append(source)
        }
    }

    private func fire(_ sig: Int32) {
        lock.lock()
        if received == nil { received = sig }
        let w = waiters
        waiters.removeAll()
        lock.unlock()
        w.forEach { $0.resume(returning: sig) }
    }

    /// Acts as if `sig` had arrived (stdin closed in ext-prover mode ends the master as SIGTERM does).
    public func trigger(_ sig: Int32) { fire(sig) }

    /// Returns the first signal received.
    public func wait() async -> Int32 {
        await withCheckedContinuation { cont in
            lock.lock()
            if let sig = received {
                lock.unlock()
                cont.resume(returning: sig)
            } else {
                waiters.append(cont)
                lock.unlock()
            }
        }
    }
}
