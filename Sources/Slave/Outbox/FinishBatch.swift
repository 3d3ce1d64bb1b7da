import Foundation
import Shared

/// Cuts the results a slave holds into finish requests whose frames fit under
/// the master's frame limit: one frame over it makes the master drop the
/// connection, and the slave would resend the same frame on every reconnect.
enum FinishBatch {
    /// Bytes a transport may add to a frame beyond its header (a MAC).
    static let transportReserve = 1024

    /// Bytes `result` adds to a request's payload, computed without encoding its output.
    static func encodedSize(_ result: JobResult) -> Int {
        var shell = result
        shell.output = Data()
        return JSONWriter.encode(shell).count + (result.output.count + 2) / 3 * 4 + 1   // + the comma
    }

    /// Room for results in one request carrying `pull`.
    static func budget(pull: PullRequest?, frameLimit: Int) -> Int {
        frameLimit - Frame.headerBytes - transportReserve - JSONWriter.encode(FinishRequest(results: [], pull: pull)).count
    }

    /// The results for the next request: as many as fit, first come first, and
    /// at least one (`OutputLimit.enforce` keeps every single result under the limit).
    static func next(_ results: [JobResult], pull: PullRequest?, frameLimit: Int) -> [JobResult] {
        var left = budget(pull: pull, frameLimit: frameLimit)
        var batch: [JobResult] = []
        for result in results {
            let size = encodedSize(result)
            if !batch.isEmpty && size > left { continue }
            batch.append(result)
            left -= size
        }
        return batch
    }
}
