import Foundation
import Shared

/// What `submit` checks and normalises before anything reaches the store,
/// so both stores get only values both can hold (`InputLimits`) and a bad
/// job in a batch stops the whole batch with nothing inserted.
enum SubmitCheck {
    /// `jobs` as the store should keep them, or an error naming the first bad
    /// job (1-based, "job 2 of 3"), its kind and what is wrong with it.
    static func checked(_ jobs: [NewJob]) throws -> [NewJob] {
        try jobs.enumerated().map { i, job in
            do { return try checked(job) } catch {
                let kind = job.kind.isEmpty ? "" : " (kind \(PeerName.quoted(job.kind)))"
                throw ErrorMessage("submit refused, nothing inserted: job \(i + 1) of \(jobs.count)\(kind): \(error)")
            }
        }
    }

    static func checked(_ job: NewJob) throws -> NewJob {
        var job = job
        try text(job.kind, "kind", maxBytes: InputLimits.kindBytes, required: true)
        try text(job.minerID, "miner id", maxBytes: InputLimits.minerIDBytes)
        // An empty key is no key (the CLI's `--unique-key ""`): it would
        // otherwise make every later keyless-looking submit return one job.
        if job.uniqueKey == "" { job.uniqueKey = nil }
        if let key = job.uniqueKey { try text(key, "unique key", maxBytes: InputLimits.uniqueKeyBytes) }
        if let pin = job.worker, !pin.isEmpty {
            // Normalised as slave names are at the handshake, so the pin matches its slave.
            do { job.worker = try PeerName.validated(pin, what: "worker (pin)") } catch { throw ErrorMessage("\(error)") }
        } else {
            job.worker = nil
        }
        guard (-InputLimits.priorityMax...InputLimits.priorityMax).contains(job.priority) else {
            throw ErrorMessage("priority \(job.priority) is outside ±\(InputLimits.priorityMax)")
        }
        if let at = job.deadlineAt, !(0...InputLimits.deadlineAtMax).contains(at) {
            throw ErrorMessage("deadline_at \(at) µs is outside 0…\(InputLimits.deadlineAtMax) (1970 to the end of 9999)")
        }
        guard (-1...InputLimits.partitionMax).contains(job.deadlineIdx) else {
            throw ErrorMessage("deadline index \(job.deadlineIdx) is outside -1…\(InputLimits.partitionMax)")
        }
        guard job.partitions.count <= InputLimits.partitions else {
            throw ErrorMessage("\(job.partitions.count) partitions, over the limit of \(InputLimits.partitions)")
        }
        if let bad = job.partitions.first(where: { !(0...InputLimits.partitionMax).contains($0) }) {
            throw ErrorMessage("partition \(bad) is outside 0…\(InputLimits.partitionMax)")
        }
        guard job.input.count <= InputLimits.inputBytes else {
            throw ErrorMessage("input of \(job.input.count) bytes is over the limit of \(InputLimits.inputBytes) bytes (the most one answer to a slave can carry)")
        }
        job.sectorSize = nil
        job.sectors = nil
        try builtinInput(job)
        if job.kind == JobKind.windowPoSt || job.kind == JobKind.winningPoSt { try proofTask(&job) }
        return job
    }

    /// A damocles task is checked as a prover would need it; its miner, sector
    /// size and sector count come from it (claims and `list` use them).
    static func proofTask(_ job: inout NewJob) throws {
        let task = try DamoclesTask(json: job.input)
        guard task.kind == job.kind else {
            throw ErrorMessage("proof_type \(task.proofType.name) is a \(task.kind) task, not \(job.kind)")
        }
        job.minerID = String(task.minerID)
        job.sectorSize = task.sectorSize
        job.sectors = task.replicas.count
    }

    /// A built-in kind's input is checked as its runner will check it: one
    /// that can only fail would burn every try on the slaves.
    static func builtinInput(_ job: NewJob) throws {
        switch job.kind {
        case JobKind.synthetic: try decode(SyntheticInput.self, job).validate()
        case JobKind.wdpost: try decode(PoStInput.self, job).validate()
        default: break
        }
    }

    static func decode<T: Decodable>(_ type: T.Type, _ job: NewJob) throws -> T {
        do { return try JSONDecoder().decode(type, from: job.input) } catch {
            throw ErrorMessage("\(job.kind): malformed input: \(error)")
        }
    }

    /// Text both stores hold alike: at most `maxBytes` of UTF-8, no control
    /// or invisible format characters (they forge lines in logs and tables).
    static func text(_ value: String, _ what: String, maxBytes: Int, required: Bool = false) throws {
        if required && value.isEmpty { throw ErrorMessage("\(what) must not be empty") }
        let bytes = value.utf8.count
        guard bytes <= maxBytes else { throw ErrorMessage("\(what) of \(bytes) bytes is over the limit of \(maxBytes) bytes") }
        if let bad = value.unicodeScalars.first(where: PeerName.isRefused) {
            throw ErrorMessage("\(what) \(PeerName.quoted(value)) contains \(PeerName.describe(bad)) (control and invisible format characters are refused)")
        }
    }
}
