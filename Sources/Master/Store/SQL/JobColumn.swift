import Foundation
import Shared

/// The columns of `jobs` (and `jobs_archive`) that make a `Job`, in the order
/// every job query selects them: the one list that the SQL text, the brief
/// list's substitutes and the row reader are made from, so a column added or
/// moved cannot leave a reader on the wrong index.
enum JobColumn: String, CaseIterable {
    case id, kind, state
    case minerID = "miner_id", deadlineIdx = "deadline_idx", partitions, priority
    case deadlineAt = "deadline_at", uniqueKey = "unique_key", input, output
    case tryNum = "try_num", maxTry = "max_try", lease, worker
    case notBefore = "not_before", createdAt = "created_at", startedAt = "started_at"
    case heartbeatAt = "heartbeat_at", finishedAt = "finished_at", error, pin
    case sectorSize = "sector_size", sectors

    var index: Int { Self.allCases.firstIndex(of: self)! }

    /// `id, kind, state, …` for a SELECT or an INSERT … SELECT.
    static let list = allCases.map(\.rawValue).joined(separator: ", ")

    /// The same, with input and output read as empty and NULL: a page is
    /// chosen on sizes, and only what it keeps is read in full.
    static let briefList = allCases.map { column -> String in
        switch column {
        case .input: return "X'' AS input"
        case .output: return "NULL AS output"
        default: return column.rawValue
        }
    }.joined(separator: ", ")

    /// A job from a row selected with `list`. A value the job model does not
    /// know (a state from a newer release, a hand-edited row) is an error
    /// naming the row and the column, never a guess.
    static func job<Row: SQLRow>(_ r: Row) throws -> Job {
        func int(_ c: JobColumn) -> Int64 { r.int(c.index) }
        func text(_ c: JobColumn) -> String { r.text(c.index) }
        let id = text(.id)
        guard let state = JobState(rawValue: text(.state)) else {
            throw StoreError.corruptRow(table: "jobs", id: id, column: JobColumn.state.rawValue, value: text(.state),
                                        expected: JobState.allCases.map(\.rawValue).joined(separator: ", "))
        }
        return Job(id: id, kind: text(.kind), state: state, minerID: text(.minerID),
                   deadlineIdx: Int(int(.deadlineIdx)), partitions: PartitionList.parse(text(.partitions)), priority: Int(int(.priority)),
                   deadlineAt: int(.deadlineAt) == Int64.max ? nil : int(.deadlineAt),
                   uniqueKey: r.isNull(JobColumn.uniqueKey.index) ? nil : text(.uniqueKey),
                   input: r.blob(JobColumn.input.index), output: r.isNull(JobColumn.output.index) ? nil : r.blob(JobColumn.output.index),
                   tryNum: Int(int(.tryNum)), maxTry: Int(int(.maxTry)), lease: int(.lease), worker: text(.worker),
                   notBefore: int(.notBefore), createdAt: int(.createdAt), startedAt: int(.startedAt),
                   heartbeatAt: int(.heartbeatAt), finishedAt: int(.finishedAt), error: text(.error), pin: text(.pin),
                   sectorSize: text(.sectorSize), sectors: Int(int(.sectors)))
    }
}
