import Foundation
import Shared

/// How large a job's output may be: the largest that, base64-encoded in a
/// finish frame with its id, error text and the rest of the request, still
/// fits under the master's frame limit. A larger one could never be reported:
/// the master drops a connection that sends an oversized frame.
public enum OutputLimit {
    /// Room in a finish frame for everything but the output's base64: the frame
    /// header, bytes a transport adds (a MAC), the JSON around one result, its
    /// id, its error text (at most `maxErrorBytes`) and a pull request. 64 KiB,
    /// less under a very small frame limit.
    static func reserve(frameLimit: Int) -> Int { min(64 << 10, frameLimit / 4) }

    /// Longest error text a result carries; a longer one is cut (its start kept).
    static func maxErrorBytes(frameLimit: Int) -> Int { min(16 << 10, frameLimit / 16) }

    public static func maxOutputBytes(frameLimit: Int) -> Int {
        max(0, (frameLimit - reserve(frameLimit: frameLimit)) / 4 * 3)
    }

    /// "output of N bytes exceeds the limit of M bytes (…)"; `atLeast` when
    /// reading stopped at N and the whole output was never seen.
    static func describe(bytes: Int, limit: Int, atLeast: Bool = false) -> String {
        "output of \(atLeast ? "at least " : "")\(bytes) bytes exceeds the limit of \(limit) bytes (the master's server.max_frame_bytes less framing)"
    }

    /// `result` as it can travel: an output over the limit turns it into a
    /// failure saying so, and a long error text is cut.
    static func enforce(_ result: JobResult, frameLimit: Int) -> JobResult {
        var result = result
        let limit = maxOutputBytes(frameLimit: frameLimit)
        if result.output.count > limit {
            result = JobResult(id: result.id, lease: result.lease, ok: false, error: describe(bytes: result.output.count, limit: limit))
        }
        let maxError = maxErrorBytes(frameLimit: frameLimit)
        if result.error.utf8.count > maxError {
            result.error = String(decoding: result.error.utf8.prefix(maxError), as: UTF8.self) + " […]"
        }
        return result
    }
}
