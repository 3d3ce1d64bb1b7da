import Foundation

/// The limits every value from outside has, checked where it enters the
/// master (`MasterService`), so both stores see only what both can hold and
/// compare alike (MariaDB's columns are VARCHAR(n); SQLite's are unbounded).
/// The README's "Limits" section lists them.
public enum InputLimits {
    /// A job's kind, in UTF-8 bytes (MariaDB `kind VARCHAR(64)`).
    public static let kindBytes = 64
    /// A job's miner id (MariaDB `miner_id VARCHAR(128)`).
    public static let minerIDBytes = 128
    /// A unique key (MariaDB `unique_key VARCHAR(512)` holds more; 255 leaves room).
    public static let uniqueKeyBytes = 255
    /// Partitions of one job (stored as "1,2,3" in a TEXT column of 64 KiB).
    public static let partitions = 4096
    /// Highest partition number and deadline index.
    public static let partitionMax = Int(Int32.max)
    /// |priority|: far beyond any real use, far from the ends of Int64.
    public static let priorityMax = 1_000_000_000
    /// The latest `deadline_at` (µs): 9999-12-31T23:59:59Z. Later is a typo
    /// (or seconds given as µs twice over), and keeps `deadlineAt * 10^6` in range.
    public static let deadlineAtMaxSeconds: Int64 = 253_402_300_799
    public static var deadlineAtMax: Int64 { deadlineAtMaxSeconds * 1_000_000 }
    /// Ids in one `show`, `reset` or `remove`.
    public static let idsPerRequest = 10_000
    /// An error text from a slave (failed attempt or release reason) is kept to this many bytes.
    public static let errorBytes = 64 << 10
    /// Longest a pull may park (ms): the slave pulls again anyway.
    public static let pullWaitMsMax = 3_600_000

    /// Room in an answer frame for everything but the inputs themselves
    /// (JSON keys, ids, kinds, leases, the frame header).
    public static let frameHeadroom = 64 << 10
    /// Input bytes one claim answer carries at most (at least one job,
    /// however large): inputs travel as base64 (4/3) in JSON, and the slave
    /// reads frames of at most `Frame.defaultMaxBytes`.
    public static let claimInputBytes = (Frame.defaultMaxBytes - frameHeadroom) / 4 * 3
    /// The largest input a job may have: one that fits a claim answer alone.
    public static var inputBytes: Int { claimInputBytes }
    /// The largest answer to `show` (same encoding, same client frame limit).
    public static let answerBytes = Frame.defaultMaxBytes - frameHeadroom

    /// `text` cut to at most `maxBytes` of UTF-8 on a character boundary,
    /// with a note of what was cut.
    public static func truncated(_ text: String, maxBytes: Int = errorBytes) -> String {
        let bytes = text.utf8.count
        guard bytes > maxBytes else { return text }
        let note = " … (\(bytes - maxBytes)+ more bytes cut)"
        var out = ""
        out.reserveCapacity(maxBytes)
        var used = 0
        let room = max(0, maxBytes - note.utf8.count)
        for ch in text {
            let n = String(ch).utf8.count
            if used + n > room { break }
            out.append(ch)
            used += n
        }
        return out + note
    }

    /// About how many bytes `job` adds to a JSON answer: base64 of input and
    /// output, the error and other strings escaped at worst (`\u00XX`), and
    /// the fixed fields. An upper bound, not an exact size.
    public static func answerBytes(of job: Job) -> Int {
        let data = job.input.count + (job.output?.count ?? 0)
        let text = job.error.utf8.count + job.kind.utf8.count + job.minerID.utf8.count + (job.uniqueKey?.utf8.count ?? 0)
            + job.worker.utf8.count + job.pin.utf8.count
        return (data + 2) / 3 * 4 + 6 * text + 12 * job.partitions.count + 512
    }
}
