import CKernels
import Foundation
import Shared
#if canImport(Glibc)
import Glibc
#endif

/// One running processor: its pid (also its process group's id) and the
/// slave's ends of its stdin, stdout and stderr.
///
/// The job is done when the program has exited *and* its stdout is at EOF: a
/// background child that still holds stdout may still write the output, so it
/// is waited for. Then whatever is left in the process group is killed (a
/// leftover holding only stderr would otherwise keep the job, and itself,
/// alive for ever).
final class SpawnedProcess: @unchecked Sendable {
    struct Result {
        /// The exit code; -1 when a signal ended the program.
        var status: Int32
        var statusText: String
        var stdout: Data
        /// Set when stdout went past the output limit: bytes read when reading stopped.
        var overflowBytes: Int?
        var stderrTail: String
    }

    let pid: pid_t
    private let stdinFD: Int32, stdoutFD: Int32, stderrFD: Int32
    /// Wakes the I/O loop: the program exited, or the slave killed it.
    private let wakeRead: Int32, wakeWrite: Int32
    private let lock = NSLock()
    private var exited = false
    /// Killed by the slave (timeout, abort, too much output): the job ends when
    /// the program has exited, without waiting for stdout to close.
    private var abandoned = false
    /// Reaped: the pid may belong to someone else now, so it is never signalled again.
    private var reaped = false

    /// Starts `argv[0]` (looked up in PATH when it has no '/') in a new process group.
    static func start(argv: [String], environment: [String: String]) async throws -> SpawnedProcess {
        let child = try await Spawner.shared.spawn(argv: argv, environment: environment)
        do { return try SpawnedProcess(child) } catch {
            kill(-child.pid, SIGKILL)
            var status: Int32 = 0
            while waitpid(child.pid, &status, 0) < 0 && errno == EINTR {}
            [child.stdin, child.stdout, child.stderr].forEach { close($0) }
            throw error
        }
    }

    private init(_ child: PipedChild) throws {
        var fds: [Int32] = [0, 0]
        let rc = wd_pipe_cloexec(&fds)
        guard rc == 0 else { throw JobFailure("cannot create a pipe: \(String(cString: strerror(rc)))") }
        pid = child.pid
        stdinFD = child.stdin; stdoutFD = child.stdout; stderrFD = child.stderr
        wakeRead = fds[0]; wakeWrite = fds[1]
        for fd in [stdinFD, stdoutFD, stderrFD, wakeRead, wakeWrite] { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
    }

    /// SIGKILL to the whole process group; `finish` then returns once the program has exited.
    func killGroup() {
        lock.withLock {
            abandoned = true
            guard !reaped else { return }
            kill(-pid, SIGKILL)
            poke()
        }
    }

    /// Called with `lock` held: the wake pipe is closed, under the lock, once reaped.
    private func poke() {
        guard !reaped else { return }
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
    }

    /// Feeds `input` to stdin and reads stdout (at most `outputLimit` bytes; past
    /// that the group is killed) and stderr's tail, until the job is done; then reaps.
    func finish(input: Data, outputLimit: Int) async -> Result {
        PipedChild.watchExit(pid: pid) { [self] in
            lock.withLock {
                exited = true
                poke()
            }
        }
        return await withCheckedContinuation { cont in
            detachThread("wdpost-proc-io") { [self] in cont.resume(returning: pump(input: input, outputLimit: outputLimit)) }
        }
    }

    private func pump(input: Data, outputLimit: Int) -> Result {
        // A processor that exits without reading its input makes the write fail
        // with EPIPE; the SIGPIPE that comes with it stays pending on this
        // thread, which ends soon, instead of killing the slave.
        var sigpipe = sigset_t()
        sigemptyset(&sigpipe)
        sigaddset(&sigpipe, SIGPIPE)
        pthread_sigmask(SIG_BLOCK, &sigpipe, nil)

        var stdinOpen = !input.isEmpty, stdoutOpen = true, stderrOpen = true
        if !stdinOpen { close(stdinFD) }
        var written = 0
        var out = Data(), err = Data()
        var overflow: Int?
        var buffer = [UInt8](repeating: 0, count: 1 << 16)

        func readOnce(_ fd: Int32, _ open: inout Bool, into data: inout Data) {
            let n = read(fd, &buffer, buffer.count)
            if n > 0 {
                data.append(contentsOf: buffer[0..<n])
            } else if n == 0 || (errno != EAGAIN && errno != EINTR) {
                close(fd)
                open = false
            }
        }

        while true {
            let (isExited, isAbandoned) = lock.withLock { (exited, abandoned) }
            if isExited && (!stdoutOpen || isAbandoned) { break }
            var fds = [pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
            if stdinOpen { fds.append(pollfd(fd: stdinFD, events: Int16(POLLOUT), revents: 0)) }
            if stdoutOpen { fds.append(pollfd(fd: stdoutFD, events: Int16(POLLIN), revents: 0)) }
            if stderrOpen { fds.append(pollfd(fd: stderrFD, events: Int16(POLLIN), revents: 0)) }
            if poll(&fds, nfds_t(fds.count), -1) < 0 { continue }
            for p in fds where p.revents != 0 {
                switch p.fd {
                case wakeRead:
                    while read(wakeRead, &buffer, buffer.count) > 0 {}
                case stdinFD:
                    let n = input.withUnsafeBytes { raw in write(stdinFD, raw.baseAddress! + written, min(raw.count - written, 1 << 16)) }
                    if n > 0 { written += n }
                    if written == input.count || (n < 0 && errno != EAGAIN && errno != EINTR) {
                        close(stdinFD)
                        stdinOpen = false
                    }
                case stdoutFD:
                    readOnce(stdoutFD, &stdoutOpen, into: &out)
                    if out.count > outputLimit {
                        // Stop here rather than hold an output that can never be delivered.
                        overflow = out.count
                        out = Data()
                        close(stdoutFD)
                        stdoutOpen = false
                        killGroup()
                    }
                case stderrFD:
                    readOnce(stderrFD, &stderrOpen, into: &err)
                    if err.count > 4 * ProcessRunner.stderrTailBytes { err = err.suffix(ProcessRunner.stderrTailBytes) }
                default:
                    break
                }
            }
        }
        if stdinOpen { close(stdinFD) }
        if stdoutOpen { close(stdoutFD) }
        lock.withLock { _ = kill(-pid, SIGKILL) }   // the leftovers; the zombie leader still holds the group id
        // What is already in stderr's pipe, without waiting for the leftovers to die.
        while stderrOpen {
            let n = read(stderrFD, &buffer, buffer.count)
            if n > 0 {
                err.append(contentsOf: buffer[0..<n])
                if err.count > 4 * ProcessRunner.stderrTailBytes { err = err.suffix(ProcessRunner.stderrTailBytes) }
                continue
            }
            if n < 0 && errno == EINTR { continue }
            close(stderrFD)
            stderrOpen = false
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        lock.withLock {
            reaped = true
            close(wakeRead); close(wakeWrite)
        }

        let signalled = status & 0x7f != 0
        let code = signalled ? -1 : (status >> 8) & 0xff
        let text = signalled ? "killed by signal \(status & 0x7f)" : "exit status \(code)"
        let tail = String(decoding: err.suffix(ProcessRunner.stderrTailBytes), as: UTF8.self)
        return Result(status: code, statusText: text, stdout: out, overflowBytes: overflow,
                      stderrTail: tail.trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
