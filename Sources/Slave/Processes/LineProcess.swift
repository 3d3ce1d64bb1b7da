import CKernels
import Foundation
import Shared
#if canImport(Glibc)
import Glibc
#endif

/// A long-lived program spoken to in lines: stdin stays open for as many
/// lines as the slave sends, stdout and stderr come back line by line. Started
/// by `Spawner` like every processor (own process group, parent-death signal,
/// clean signals), so a SIGKILLed slave takes it along.
///
/// One I/O thread owns the three pipe ends and polls them; a second waits for
/// the program's exit. When the program has exited, what it had already
/// written is read, the rest of its process group is killed, it is reaped,
/// and `exited` is called once. Callbacks run on the I/O thread, one at a time.
final class LineProcess: @unchecked Sendable {
    struct Handlers {
        /// A whole stdout line, without its '\n'.
        var stdoutLine: (Data) -> Void
        /// A stdout line grew past `maxLineBytes` without a '\n': it is dropped.
        var stdoutOverlong: () -> Void
        /// A stderr line (long ones come in pieces), without its '\n'.
        var stderrLine: (String) -> Void
        /// Once, after the program was reaped: "exit status N" or "killed by signal N".
        var exited: (String) -> Void
    }

    let pid: pid_t
    private let stdinFD: Int32, stdoutFD: Int32, stderrFD: Int32
    private let wakeRead: Int32, wakeWrite: Int32
    private let maxLineBytes: Int
    private let handlers: Handlers
    private let lock = NSLock()
    private var outbox = Data()
    private var exited = false
    private var reaped = false
    static let stderrLineBytes = 4096

    static func start(argv: [String], environment: [String: String], maxLineBytes: Int, handlers: Handlers) async throws -> LineProcess {
        let child = try await Spawner.shared.spawn(argv: argv, environment: environment)
        var fds: [Int32] = [0, 0]
        let rc = wd_pipe_cloexec(&fds)
        guard rc == 0 else {
            kill(-child.pid, SIGKILL)
            var status: Int32 = 0
            while waitpid(child.pid, &status, 0) < 0 && errno == EINTR {}
            [child.stdin, child.stdout, child.stderr].forEach { close($0) }
            throw JobFailure("cannot create a pipe: \(String(cString: strerror(rc)))")
        }
        let process = LineProcess(child, wake: (fds[0], fds[1]), maxLineBytes: maxLineBytes, handlers: handlers)
        process.begin()
        return process
    }

    private init(_ child: PipedChild, wake: (Int32, Int32), maxLineBytes: Int, handlers: Handlers) {
        pid = child.pid
        stdinFD = child.stdin; stdoutFD = child.stdout; stderrFD = child.stderr
        wakeRead = wake.0; wakeWrite = wake.1
        self.maxLineBytes = maxLineBytes
        self.handlers = handlers
        for fd in [stdinFD, stdoutFD, stderrFD, wakeRead, wakeWrite] { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
    }

    private func begin() {
        PipedChild.watchExit(pid: pid) { [self] in
            lock.withLock {
                exited = true
                poke()
            }
        }
        detachThread("wdpost-proc-lines") { [self] in loop() }
    }

    /// Queues `line` (a '\n' is added) for the program's stdin.
    func send(_ line: Data) {
        lock.withLock {
            guard !exited else { return }
            outbox.append(line)
            outbox.append(UInt8(ascii: "\n"))
            poke()
        }
    }

    /// SIGKILL to the whole process group; `exited` follows.
    func killGroup() {
        lock.withLock {
            guard !reaped else { return }
            kill(-pid, SIGKILL)
        }
    }

    /// With `lock` held: the wake pipe is closed, under the lock, once reaped.
    private func poke() {
        guard !reaped else { return }
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
    }

    private func loop() {
        // A program that has closed its stdin makes the write fail with EPIPE;
        // the SIGPIPE that comes with it stays pending on this thread instead
        // of killing the slave.
        var sigpipe = sigset_t()
        sigemptyset(&sigpipe)
        sigaddset(&sigpipe, SIGPIPE)
        pthread_sigmask(SIG_BLOCK, &sigpipe, nil)

        var stdinOpen = true, stdoutOpen = true, stderrOpen = true
        var out = Data(), err = Data()
        var dropping = false   // inside an over-long stdout line, until its '\n'
        var buffer = [UInt8](repeating: 0, count: 1 << 16)

        func stdoutLines() {
            while let nl = out.firstIndex(of: UInt8(ascii: "\n")) {
                let line = out[out.startIndex..<nl]
                out.removeSubrange(out.startIndex...nl)
                if dropping { dropping = false } else { handlers.stdoutLine(Data(line)) }
            }
            if out.count > maxLineBytes {
                if !dropping { handlers.stdoutOverlong() }
                dropping = true
                out.removeAll()
            }
        }
        func stderrLines(final: Bool) {
            while let nl = err.firstIndex(of: UInt8(ascii: "\n")) {
                handlers.stderrLine(String(decoding: err[err.startIndex..<nl], as: UTF8.self))
                err.removeSubrange(err.startIndex...nl)
            }
            while err.count >= Self.stderrLineBytes || (final && !err.isEmpty) {
                handlers.stderrLine(String(decoding: err.prefix(Self.stderrLineBytes), as: UTF8.self))
                err.removeFirst(min(err.count, Self.stderrLineBytes))
            }
        }
        /// Reads what is there; false at EOF or on an error (the end is closed).
        func readSome(_ fd: Int32, into data: inout Data) -> Bool {
            let n = read(fd, &buffer, buffer.count)
            if n > 0 { data.append(contentsOf: buffer[0..<n]); return true }
            if n < 0 && (errno == EAGAIN || errno == EINTR) { return true }
            close(fd)
            return false
        }

        while !lock.withLock({ exited }) {
            let pending = lock.withLock { !outbox.isEmpty }
            var fds = [pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
            if stdinOpen && pending { fds.append(pollfd(fd: stdinFD, events: Int16(POLLOUT), revents: 0)) }
            if stdoutOpen { fds.append(pollfd(fd: stdoutFD, events: Int16(POLLIN), revents: 0)) }
            if stderrOpen { fds.append(pollfd(fd: stderrFD, events: Int16(POLLIN), revents: 0)) }
            if poll(&fds, nfds_t(fds.count), -1) < 0 { continue }
            for p in fds where p.revents != 0 {
                switch p.fd {
                case wakeRead:
                    while read(wakeRead, &buffer, buffer.count) > 0 {}
                case stdinFD:
                    let failed: Bool = lock.withLock {
                        let n = outbox.withUnsafeBytes { raw in write(stdinFD, raw.baseAddress!, min(raw.count, 1 << 16)) }
                        if n > 0 { outbox.removeFirst(n) }
                        return n < 0 && errno != EAGAIN && errno != EINTR
                    }
                    if failed {
                        // It closed stdin: nothing more can reach it; its exit follows or a line lost.
                        close(stdinFD)
                        stdinOpen = false
                    }
                case stdoutFD:
                    stdoutOpen = readSome(stdoutFD, into: &out)
                    stdoutLines()
                case stderrFD:
                    stderrOpen = readSome(stderrFD, into: &err)
                    stderrLines(final: false)
                default:
                    break
                }
            }
        }
        // What it wrote before it exited counts; then its leftovers go (the
        // zombie leader still holds the group id), and nothing of theirs is waited for.
        lock.withLock { _ = kill(-pid, SIGKILL) }
        while stdoutOpen {
            let before = out.count
            stdoutOpen = readSome(stdoutFD, into: &out)
            stdoutLines()
            if stdoutOpen && out.count == before { break }
        }
        while stderrOpen {
            let before = err.count
            stderrOpen = readSome(stderrFD, into: &err)
            if stderrOpen && err.count == before { break }
        }
        stderrLines(final: true)
        for (open, fd) in [(stdinOpen, stdinFD), (stdoutOpen, stdoutFD), (stderrOpen, stderrFD)] where open { close(fd) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        lock.withLock {
            reaped = true
            close(wakeRead); close(wakeWrite)
        }
        let signalled = status & 0x7f != 0
        handlers.exited(signalled ? "killed by signal \(status & 0x7f)" : "exit status \((status >> 8) & 0xff)")
    }
}
