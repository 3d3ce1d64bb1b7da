import Foundation
import Shared

/// The `wdpost list` table, with the columns operators know from the Go tool.
enum JobTable {
    static let jsonEncoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return e
    }()

    static let timeFormat: DateFormatter = {
        let f = DateFormatter()
        f.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return f
    }()

    /// A job as JSON for people: input and output inline when they are JSON
    /// (base64 otherwise), partitions on one line.
    static func json(_ jobs: [Job]) throws -> String {
        try pretty(jobs.map(object))
    }

    static func json(_ job: Job) throws -> String {
        try pretty(object(job))
    }

    private static func object(_ job: Job) throws -> Any {
        var object = try JSONSerialization.jsonObject(with: JSONEncoder().encode(job)) as! [String: Any]
        for (key, data) in [("input", job.input), ("output", job.output)] {
            guard let data else { continue }
            object[key] = (try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])) ?? data.base64EncodedString()
        }
        return object
    }

    private static func pretty(_ value: Any) throws -> String {
        let data = try JSONSerialization.data(withJSONObject: value, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }

    static func time(_ micros: Int64) -> String {
        micros == 0 ? "-" : timeFormat.string(from: Date(timeIntervalSince1970: Double(micros) / 1e6))
    }

    static func elapsed(_ job: Job, now: Int64) -> String {
        guard job.startedAt > 0 else { return "-" }
        switch job.state {
        case .running: return DurationText.format(micros: now.subtractingSaturating(job.startedAt))
        case .succeed, .failed: return job.finishedAt > 0 ? DurationText.format(micros: job.finishedAt.subtractingSaturating(job.startedAt)) : "-"
        case .readyToRun: return "-"
        }
    }

    static func render(_ jobs: [Job], detail: Bool, now: Int64) -> String {
        var header = ["JobID", "MinerID", "DDL", "Partitions", "Worker", "State", "Try", "CreateAt", "Elapsed", "Heartbeat", "Error"]
        if detail { header.insert(contentsOf: ["Kind", "Priority"], at: 1) }
        var rows = [header]
        for job in jobs {
            var error = job.error.replacingOccurrences(of: "\n", with: " ")
            if !detail && error.count > 60 { error = String(error.prefix(57)) + "..." }
            var row = [job.id, job.minerID.isEmpty ? "-" : job.minerID, job.deadlineIdx < 0 ? "-" : "\(job.deadlineIdx)",
                       job.partitions.isEmpty ? "-" : PartitionList.format(job.partitions), job.worker.isEmpty ? "-" : job.worker,
                       job.state.rawValue, "\(job.tryNum)", time(job.createdAt), elapsed(job, now: now),
                       job.state == .running ? DurationText.format(micros: now.subtractingSaturating(job.heartbeatAt)) + " ago" : "-",
                       error.isEmpty ? "-" : error]
            if detail { row.insert(contentsOf: [job.kind, "\(job.priority)"], at: 1) }
            rows.append(row)
        }
        return TextTable.render(rows)
    }
}

enum TextTable {
    /// Left-aligned columns separated by two spaces. Built in one string,
    /// each cell's width counted once: a list can have 100,000 rows.
    static func render(_ rows: [[String]]) -> String {
        guard let first = rows.first else { return "" }
        let counts = rows.map { $0.map(\.count) }
        var widths = first.map { _ in 0 }
        for row in counts { for (i, n) in row.enumerated() { widths[i] = max(widths[i], n) } }
        var out = ""
        for (row, rowCounts) in zip(rows, counts) {
            for (i, cell) in row.enumerated() {
                out += cell
                if i < row.count - 1 { out += String(repeating: " ", count: widths[i] - rowCounts[i] + 2) }
            }
            out += "\n"
        }
        return out
    }
}
