import CKernels
import Foundation
import Shared
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

    /// Starts `argv[0]` (looked up in PATH when it has no '/') in a new process
    /// group, its stdin, stdout and stderr pipes to the slave. Every end is
    /// close-on-exec from birth: no processor another thread starts meanwhile
    /// (wd_spawn closes the rest, but not every fork in the slave is ours) can
    /// inherit an end and keep this child's stdin or stdout open.
    func spawn(argv: [String], environment: [String: String]) async throws -> PipedChild {
        try await run { try PipedChild(argv: argv, environment: environment) }
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

/// A program just started by `Spawner.spawn`: its pid (also its process
/// group's id) and the slave's ends of its three pipes, which the owner closes.
struct PipedChild {
    let pid: pid_t
    let stdin: Int32, stdout: Int32, stderr: Int32

    /// Only on the spawner thread (see `Spawner`).
    fileprivate init(argv: [String], environment: [String: String]) throws {
        var opened: [Int32] = []
        func makePipe() throws -> (read: Int32, write: Int32) {
            var fds: [Int32] = [0, 0]
            let rc = wd_pipe_cloexec(&fds)
            guard rc == 0 else {
                let text = String(cString: strerror(rc))
                opened.forEach { close($0) }
                throw JobFailure("cannot create a pipe for \(argv[0]): \(text)")
            }
            opened += fds
            return (fds[0], fds[1])
        }
        let input = try makePipe(), output = try makePipe(), errors = try makePipe()
        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (cArgs + cEnv).forEach { free($0) } }
        var child: Int32 = 0
        let rc = wd_spawn(argv[0], cArgs, cEnv, input.read, output.write, errors.write, &child)
        close(input.read); close(output.write); close(errors.write)
        guard rc == 0 else {
            [input.write, output.read, errors.read].forEach { close($0) }
            throw JobFailure("cannot start \(argv[0]): \(String(cString: strerror(rc)))")
        }
        pid = child
        stdin = input.write; stdout = output.read; stderr = errors.read
    }

    /// Calls `exited` on a thread of its own once the program has exited. With
    /// WNOWAIT the program stays a zombie, so its pid (its group's id) is not
    /// reused until the owner has killed what is left of the group and reaped it.
    static func watchExit(pid: pid_t, _ exited: @escaping () -> Void) {
        detachThread("wdpost-proc-wait") {
            var info = siginfo_t()
            while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) < 0 && errno == EINTR {}
            exited()
        }
    }
}
