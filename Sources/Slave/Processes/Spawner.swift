import CKernels
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The one thread that forks every processor. A child's parent-death signal
/// (`wd_spawn`: SIGKILL when the slave dies) fires when the *thread* that forked
/// it exits, not only the process; threads of Swift's executor and GCD come and
/// go, so the fork happens here, on a thread that lives as long as the slave.
///
/// Not swift-subprocess (1.0.2, read for this): on Linux its `PlatformOptions`
/// offer user, groups, process group, session and a teardown sequence, but no
/// parent-death signal and no hook in the child, and it forks on whichever
/// thread calls it; a processor must die with its slave (SIGKILLed or not), so
/// the fork and the child's set-up are ours (`Sources/CKernels/spawn.c`).
final class Spawner: @unchecked Sendable {
    static let shared = Spawner()

    private let condition = NSCondition()
    private var work: [() -> Void] = []

    private init() {
        let thread = Thread { [unowned self] in self.loop() }
        thread.name = "wdpost-spawner"
        thread.start()
    }

    private func loop() {
        while true {
            condition.lock()
            while work.isEmpty { condition.wait() }
            let next = work.removeFirst()
            condition.unlock()
            next()
        }
    }

    /// Runs `body` on the spawner thread and returns its result.
    func run<T>(_ body: @escaping () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { cont in
            condition.lock()
            work.append { cont.resume(with: Result(catching: body)) }
            condition.signal()
            condition.unlock()
        }
    }
}
