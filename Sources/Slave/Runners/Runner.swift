import Foundation
import Shared

/// Runs one job's work on the slave. Throwing fails the attempt with the
/// error's text; cancellation means the master told the slave to abort.
public protocol Runner: Sendable {
    func run(_ job: Assignment) async throws -> Data
    /// `run`, for an output of at most `outputLimit` bytes (what a finish frame
    /// can carry): a runner that can stop early (a processor) does; the others
    /// fail the attempt when their output is over it.
    func run(_ job: Assignment, outputLimit: Int) async throws -> Data
    /// Whether the slave should claim jobs for it now: false while no
    /// long-lived processor of the kind is ready.
    var available: Bool { get }
}

extension Runner {
    public var available: Bool { true }

    public func run(_ job: Assignment, outputLimit: Int) async throws -> Data {
        let output = try await run(job)
        if output.count > outputLimit { throw JobFailure("\(job.kind): \(OutputLimit.describe(bytes: output.count, limit: outputLimit))") }
        return output
    }
}

public struct JobFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The `noop` kind, for tests and benchmarks: `{"sleep_ms": N, "fail": bool}`.
/// `"fail_if_exists": PATH` fails while that file exists, so a test can make a
/// job fail until it repairs the cause, as an operator would before `reset`.
/// `"fail_tries": N` fails the first N attempts (try 1…N) and lets the next
/// one succeed, for retries without a file to share (the chaos test).
public struct NoopRunner: Runner {
    struct Input: Decodable {
        var sleep_ms: Int?
        var fail: Bool?
        var fail_if_exists: String?
        var fail_tries: Int?
    }

    public init() {}

    public func run(_ job: Assignment) async throws -> Data {
        let input: Input
        if job.input.isEmpty {
            input = Input()
        } else {
            do { input = try JSONDecoder().decode(Input.self, from: job.input) } catch {
                throw JobFailure("noop: input is not {\"sleep_ms\": N, \"fail\": bool, \"fail_if_exists\": PATH, \"fail_tries\": N}")
            }
        }
        if let ms = input.sleep_ms, ms > 0 { try await Task.sleep(nanoseconds: UInt64(ms) * 1_000_000) }
        if input.fail == true { throw JobFailure("noop: failed as asked (try \(job.tryNum))") }
        if let path = input.fail_if_exists, FileManager.default.fileExists(atPath: path) {
            throw JobFailure("noop: failed because \(path) exists (try \(job.tryNum))")
        }
        if let tries = input.fail_tries, job.tryNum <= tries {
            throw JobFailure("noop: failed as asked (fail_tries \(tries), try \(job.tryNum))")
        }
        return Data("{\"ok\":true}".utf8)
    }
}
