import Foundation
import Shared
#if canImport(Glibc)
import Glibc
#endif

/// An external processor (`[[processors.<kind>]]`): the job input on stdin, the
/// output from stdout. A non-zero exit, a timeout or an abort fails the attempt;
/// the program runs in its own process group so that everything it started is
/// killed with it.
public struct ProcessRunner: Runner {
    let config: ProcessorConfig
    static let stderrTailBytes = 2048

    public init(_ config: ProcessorConfig) { self.config = config }

    public func run(_ job: Assignment) async throws -> Data {
        let child = try SpawnedProcess(config: config, job: job)
        let timedOut = Once()
        var timer: DispatchWorkItem?
        if config.timeout > 0 {
            let work = DispatchWorkItem { if timedOut.claim() { child.killGroup() } }
            timer = work
            DispatchQueue.global().asyncAfter(deadline: .now() + .microseconds(Int(config.timeout)), execute: work)
        }
        let result = await withTaskCancellationHandler {
            await child.finish(input: job.input)
        } onCancel: {
            child.killGroup()
        }
        timer?.cancel()
        try Task.checkCancellation()
        if !timedOut.claim() {
            throw JobFailure("\(config.bin): timed out after \(DurationText.format(micros: config.timeout)); stderr: \(result.stderrTail)")
        }
        guard result.status == 0 else {
            throw JobFailure("\(config.bin): \(result.statusText); stderr: \(result.stderrTail)")
        }
        return result.stdout
    }
}

/// One child process with its three pipes, started with posix_spawn in a new process group.
final class SpawnedProcess: @unchecked Sendable {
    struct Result {
        var status: Int32
        var statusText: String
        var stdout: Data
        var stderrTail: String
    }

    static let spawnLock = NSLock()
    let pid: pid_t
    let stdinFD: Int32, stdoutFD: Int32, stderrFD: Int32

    init(config: ProcessorConfig, job: Assignment) throws {
        var argv = [config.bin] + config.args
        // cgroup.cpuset is honoured as CPU affinity, which needs no root and no cgroup delegation.
        if !config.cpuset.isEmpty { argv = ["taskset", "-c", config.cpuset] + argv }
        var env = ProcessInfo.processInfo.environment
        env.merge(config.envs) { $1 }
        env["WDPOST_JOB_ID"] = job.id
        env["WDPOST_JOB_KIND"] = job.kind
        env["WDPOST_JOB_TRY"] = "\(job.tryNum)"

        // Pipes are close-on-exec and made under one lock with the spawn, so a
        // processor started at the same moment by another job cannot inherit
        // these ends and hold this child's stdin open.
        Self.spawnLock.lock()
        defer { Self.spawnLock.unlock() }
        var inPipe: [Int32] = [0, 0], outPipe: [Int32] = [0, 0], errPipe: [Int32] = [0, 0]
        guard pipe(&inPipe) == 0, pipe(&outPipe) == 0, pipe(&errPipe) == 0 else {
            throw JobFailure("cannot create pipes: \(String(cString: strerror(errno)))")
        }
        for fd in inPipe + outPipe + errPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        for fd in inPipe + outPipe + errPipe { posix_spawn_file_actions_addclose(&actions, fd) }
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETPGROUP))
        posix_spawnattr_setpgroup(&attr, 0)

        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (cArgs + cEnv).forEach { free($0) } }
        var child: pid_t = 0
        let rc = posix_spawnp(&child, argv[0], &actions, &attr, cArgs, cEnv)
        close(inPipe[0]); close(outPipe[1]); close(errPipe[1])
        guard rc == 0 else {
            close(inPipe[1]); close(outPipe[0]); close(errPipe[0])
            throw JobFailure("cannot start \(argv[0]): \(String(cString: strerror(rc)))")
        }
        pid = child
        stdinFD = inPipe[1]; stdoutFD = outPipe[0]; stderrFD = errPipe[0]
    }

    func killGroup() { kill(-pid, SIGKILL) }

    /// Feeds stdin and drains stdout and stderr, each on its own thread, then reaps the child.
    func finish(input: Data) async -> Result {
        await withCheckedContinuation { (cont: CheckedContinuation<Result, Never>) in
            let group = DispatchGroup()
            let out = DataBox(), err = DataBox()
            group.enter()
            detachThread("wdpost-stdin") { [self] in
                defer { group.leave() }
                input.withUnsafeBytes { raw in
                    var offset = 0
                    while offset < raw.count {
                        let n = write(stdinFD, raw.baseAddress! + offset, raw.count - offset)
                        if n <= 0 { break }
                        offset += n
                    }
                }
                close(stdinFD)
            }
            group.enter()
            detachThread("wdpost-stdout") { [self] in out.data = Self.drain(stdoutFD, keepTail: nil); group.leave() }
            group.enter()
            detachThread("wdpost-stderr") { [self] in err.data = Self.drain(stderrFD, keepTail: ProcessRunner.stderrTailBytes); group.leave() }
            group.notify(queue: .global()) { [self] in
                var status: Int32 = 0
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                let exited = status & 0x7f == 0
                let code = exited ? (status >> 8) & 0xff : 0
                let text = exited ? "exit status \(code)" : "killed by signal \(status & 0x7f)"
                cont.resume(returning: Result(status: exited ? code : -1, statusText: text, stdout: out.data,
                                              stderrTail: String(decoding: err.data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)))
            }
        }
    }

    static func drain(_ fd: Int32, keepTail: Int?) -> Data {
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(fd, &buffer, buffer.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            data.append(contentsOf: buffer[0..<n])
            if let keep = keepTail, data.count > 4 * keep { data = data.suffix(keep) }
        }
        close(fd)
        if let keep = keepTail, data.count > keep { return data.suffix(keep) }
        return data
    }
}

/// A pipe's bytes, filled by its reader thread; read only after the group has finished.
final class DataBox: @unchecked Sendable {
    var data = Data()
}
