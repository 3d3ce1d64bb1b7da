import Foundation

/// Wakes parked long-poll pulls when a job may have become claimable. A
/// generation counter closes the gap between "claim found nothing" and "park":
/// a pull parks only if nothing was signalled since it read the generation.
final class WakeSignal: @unchecked Sendable {
    private let lock = NSLock()
    private var generation: UInt64 = 0
    private var waiters: [UInt64: CheckedContinuation<Bool, Never>] = [:]
    private var nextWaiter: UInt64 = 0

    var current: UInt64 {
        lock.lock(); defer { lock.unlock() }
        return generation
    }

    var parked: Int {
        lock.lock(); defer { lock.unlock() }
        return waiters.count
    }

    func signal() {
        lock.lock()
        generation &+= 1
        let woken = waiters
        waiters.removeAll()
        lock.unlock()
        woken.values.forEach { $0.resume(returning: true) }
    }

    /// Returns true when signalled after `since`, false after `timeoutMicros`.
    @discardableResult
    func wait(since: UInt64, timeoutMicros: Int64) async -> Bool {
        guard timeoutMicros > 0 else { return false }
        return await withCheckedContinuation { (cont: CheckedContinuation<Bool, Never>) in
            lock.lock()
            if generation != since {
                lock.unlock()
                cont.resume(returning: true)
                return
            }
            let id = nextWaiter
            nextWaiter &+= 1
            waiters[id] = cont
            lock.unlock()
            DispatchQueue.global().asyncAfter(deadline: .now() + .microseconds(Int(timeoutMicros))) { [self] in
                lock.lock()
                let cont = waiters.removeValue(forKey: id)
                lock.unlock()
                cont?.resume(returning: false)
            }
        }
    }
}
