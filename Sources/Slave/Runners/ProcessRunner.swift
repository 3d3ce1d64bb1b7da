import Foundation
import Shared
#if canImport(Glibc)
import Glibc
#endif

/// An external processor (`[[processors.<kind>]]`): the job input on stdin, the
/// output from stdout. A non-zero exit, a timeout, an output over the limit or
/// an abort fails the attempt; the program runs in its own process group so
/// that everything it started is killed with it.
public struct ProcessRunner: Runner {
    let config: ProcessorConfig
    static let stderrTailBytes = 2048

    public init(_ config: ProcessorConfig) { self.config = config }

    public func run(_ job: Assignment) async throws -> Data {
        try await run(job, outputLimit: OutputLimit.maxOutputBytes(frameLimit: Frame.defaultMaxBytes))
    }

    public func run(_ job: Assignment, outputLimit: Int) async throws -> Data {
        var argv = [config.bin] + config.args
        // cgroup.cpuset is honoured as CPU affinity, which needs no root and no cgroup delegation.
        if !config.cpuset.isEmpty { argv = ["taskset", "-c", config.cpuset] + argv }
        var env = ProcessInfo.processInfo.environment
        env.merge(config.envs) { $1 }
        env["WDPOST_JOB_ID"] = job.id
        env["WDPOST_JOB_KIND"] = job.kind
        env["WDPOST_JOB_TRY"] = "\(job.tryNum)"

        let child = try await SpawnedProcess.start(argv: argv, environment: env)
        let timedOut = Once()
        var timer: DispatchWorkItem?
        if config.timeout > 0 {
            let work = DispatchWorkItem { if timedOut.claim() { child.killGroup() } }
            timer = work
            DispatchQueue.global().asyncAfter(deadline: .now() + .microseconds(Int(config.timeout)), execute: work)
        }
        let result = await withTaskCancellationHandler {
            await child.finish(input: job.input, outputLimit: outputLimit)
        } onCancel: {
            child.killGroup()
        }
        timer?.cancel()
        try Task.checkCancellation()
        if !timedOut.claim() {
            throw JobFailure("\(config.bin): timed out after \(DurationText.format(micros: config.timeout)); stderr: \(result.stderrTail)")
        }
        if let read = result.overflowBytes {
            throw JobFailure("\(config.bin): \(OutputLimit.describe(bytes: read, limit: outputLimit, atLeast: true)); the program was killed")
        }
        guard result.status == 0 else {
            throw JobFailure("\(config.bin): \(result.statusText); stderr: \(result.stderrTail)")
        }
        return result.stdout
    }
}
