import Foundation
import Shared

/// Kind and input of the jobs this master handed out, keyed by id and lease, so
/// a finish can be verified without reading the job back from the store. A miss
/// (after a master restart, or a job claimed through another master) falls back
/// to the store.
final class ClaimCache: @unchecked Sendable {
    struct Entry {
        let lease: Int64
        let kind: String
        /// Kept only for kinds whose results are verified.
        let input: Data?
    }

    private let lock = NSLock()
    private var entries: [String: Entry] = [:]
    /// Jobs removed or expired while running never finish here; this bound
    /// keeps such leftovers from growing without limit.
    private let limit = 1_000_000

    func add(_ jobs: [Job]) {
        lock.lock(); defer { lock.unlock() }
        if entries.count + jobs.count > limit { entries.removeAll() }
        for job in jobs {
            let input = ResultVerifier.verifiedKinds.contains(job.kind) ? job.input : nil
            entries[job.id] = Entry(lease: job.lease, kind: job.kind, input: input)
        }
    }

    func take(_ id: String, lease: Int64) -> Entry? {
        lock.lock(); defer { lock.unlock() }
        guard let entry = entries[id], entry.lease == lease else { return nil }
        entries[id] = nil
        return entry
    }
}
