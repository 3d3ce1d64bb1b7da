import Foundation
import Shared

/// Jobs of one page of the list, and where the next page starts (nil: this
/// was the last).
public struct ListPage: Sendable {
    public var jobs: [Job]
    public var next: ListCursor?
}

/// One row of a page, and where the list goes on after it.
private struct ListedJob {
    var job: Job
    var cursor: ListCursor
}

/// `wdpost list`, a page at a time: the archive (with `all`) and then the
/// live table, each in creation order (insertion order among equal
/// created_at). A page starts after the cursor of the one before, so it costs
/// about its own rows, not every row before it; rows that change table or
/// state between pages may show twice or not at all, as in any paged listing.
extension JobSQL {
    /// The default list: every job that has not succeeded.
    static var unfinished: String { "state IN ('ReadyToRun', 'Running', 'Failed')" }

    /// A job's fields other than error, input and output, as an answer
    /// carries them (a generous bound).
    static var fieldBytes: Int { 400 }

    /// How many `columns` there are: a column read after them has this index.
    static var columnCount: Int { JobColumn.allCases.count }

    static var briefColumns: String { JobColumn.briefList }

    /// Up to `limit` jobs (nil: all) after `after` that come to at most about
    /// `maxBytes` (at least one job, however large). `brief`: without input
    /// and output.
    func list(all: Bool, after: ListCursor?, limit: Int?, brief: Bool, maxBytes: Int = .max) throws -> ListPage {
        var rows: [(listed: ListedJob, bytes: Int)] = []
        if all, after?.archive ?? true {
            rows = try page(archive: true, filter: nil, after: after, limit: limit)
        }
        let left = limit.map { $0 - rows.count }
        if left.map({ $0 > 0 }) ?? true {
            let from = after?.archive == false ? after : nil
            rows += try page(archive: false, filter: all ? nil : Self.unfinished, after: from, limit: left)
        }
        var kept: [ListedJob] = []
        var bytes = 0
        for row in rows {
            // About what the job adds to the answer: its error and other
            // fields, and its input and output unless left out.
            bytes += Self.fieldBytes + row.listed.job.error.utf8.count + (brief ? 0 : row.bytes)
            if !kept.isEmpty && bytes > maxBytes { break }
            kept.append(row.listed)
        }
        // More may follow a page cut by size or filled to its limit.
        let more = kept.count < rows.count || limit.map { rows.count == $0 } ?? false
        return ListPage(jobs: (brief ? kept : try withData(kept)).map(\.job), next: more ? kept.last?.cursor : nil)
    }

    /// One table's rows after `after`, brief, with the size of each one's input and output.
    private func page(archive: Bool, filter: String?, after: ListCursor?, limit: Int?) throws -> [(listed: ListedJob, bytes: Int)] {
        let seq = dialect.insertionOrder
        var conditions = filter.map { [$0] } ?? []
        var params: [SQLValue] = []
        if let after {
            // The first term is what an index on (created_at, seq) seeks with.
            conditions.append("created_at >= ? AND (created_at > ? OR \(seq) > ?)")
            params += [.int(after.createdAt), .int(after.createdAt), .int(after.seq)]
        }
        var sql = "SELECT \(Self.briefColumns), \(seq), LENGTH(input), LENGTH(output) FROM \(archive ? "jobs_archive" : "jobs")"
        if !conditions.isEmpty { sql += " WHERE " + conditions.joined(separator: " AND ") }
        sql += " ORDER BY created_at, \(seq)"
        if let limit {
            sql += " LIMIT ?"
            params.append(.int(Int64(limit)))
        }
        let extra = Self.columnCount
        return try db.query(sql, params) { r in
            let job = try Self.job(r)
            let bytes = Int(r.int(extra + 1)) + (r.isNull(extra + 2) ? 0 : Int(r.int(extra + 2)))
            return (ListedJob(job: job, cursor: ListCursor(archive: archive, createdAt: job.createdAt, seq: r.int(extra))), bytes)
        }
    }

    /// `listed` with their inputs and outputs, read by id. A job removed
    /// since its page was read is left out; one archived since is read
    /// from the archive.
    private func withData(_ listed: [ListedJob]) throws -> [ListedJob] {
        var data: [String: (input: Data, output: Data?)] = [:]
        for archive in [true, false] {
            let ids = listed.filter { $0.cursor.archive == archive }.map(\.job.id)
            for chunk in Self.chunked(ids) {
                let padded = Self.padded(chunk)
                let rows = try db.query("""
                    SELECT id, input, output FROM \(archive ? "jobs_archive" : "jobs")\(dialect.byID) WHERE id IN (\(Self.placeholders(padded.count)))
                    """, padded.map { .text($0) }) { r in (r.text(0), (r.blob(1), r.isNull(2) ? nil : r.blob(2))) }
                for (id, value) in rows { data[id] = value }
            }
        }
        return try listed.compactMap { item in
            var item = item
            if let (input, output) = data[item.job.id] {
                item.job.input = input
                item.job.output = output
            } else {
                guard let moved = try get(item.job.id) else { return nil }
                item.job = moved
            }
            return item
        }
    }

    /// Every job of the list at once (tests and in-process callers).
    func list(all: Bool) throws -> [Job] {
        try list(all: all, after: nil, limit: nil, brief: false).jobs
    }
}
