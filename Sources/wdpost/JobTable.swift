import Foundation
import Shared

/// The `wdpost list` table, with the columns operators know from the Go tool.
enum JobTable {
    static let jsonEncoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return e
    }()

    /// Full local time, for `--detail` and `show`.
    static let timeFormat: DateFormatter = {
        let f = DateFormatter()
        f.dateFormat = "yyyy-MM-dd HH:mm:ss"
        return f
    }()

    /// damocles' CreateAt: local time, month first, no year.
    static let shortTimeFormat: DateFormatter = {
        let f = DateFormatter()
        f.dateFormat = "MM-dd HH:mm:ss"
        return f
    }()

    /// A job as JSON for people: input and output inline when they are JSON
    /// (base64 otherwise), partitions on one line; with `readableTimes`, the
    /// timestamps as local times instead of microseconds.
    static func json(_ jobs: [Job]) throws -> String {
        try pretty(jobs.map { try object($0, readableTimes: false) })
    }

    static func json(_ job: Job, readableTimes: Bool = false) throws -> String {
        try pretty(object(job, readableTimes: readableTimes))
    }

    static let timeKeys = ["createdAt", "startedAt", "heartbeatAt", "finishedAt", "notBefore"]

    private static func object(_ job: Job, readableTimes: Bool) throws -> Any {
        var object = try JSONSerialization.jsonObject(with: JSONEncoder().encode(job)) as! [String: Any]
        for (key, data) in [("input", job.input), ("output", job.output)] {
            guard let data else { continue }
            object[key] = (try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])) ?? data.base64EncodedString()
        }
        if readableTimes {
            for key in timeKeys {
                guard let micros = (object[key] as? NSNumber)?.int64Value else { continue }
                object[key] = time(micros)
            }
            if let at = job.deadlineAt { object["deadlineAt"] = time(at) }
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

    static func shortTime(_ micros: Int64) -> String {
        micros == 0 ? "-" : shortTimeFormat.string(from: Date(timeIntervalSince1970: Double(micros) / 1e6))
    }

    /// Run time so far, or the whole run plus "(done)" once finished, in whole seconds (`6m38s(done)`).
    static func elapsed(_ job: Job, now: Int64) -> String {
        guard job.startedAt > 0 else { return "-" }
        switch job.state {
        case .running: return goDuration(micros: now.subtractingSaturating(job.startedAt), unit: 1_000_000)
        case .succeed, .failed:
            guard job.finishedAt > 0 else { return "-" }
            return goDuration(micros: job.finishedAt.subtractingSaturating(job.startedAt), unit: 1_000_000) + "(done)"
        case .readyToRun: return "-"
        }
    }

    /// Time since the last heartbeat of a running job, to the millisecond (`1.234s`).
    static func heartbeat(_ job: Job, now: Int64) -> String {
        guard job.state == .running, job.heartbeatAt > 0 else { return "-" }
        return goDuration(micros: now.subtractingSaturating(job.heartbeatAt), unit: 1_000)
    }

    /// Attempts, with "(Max)" once they are used up (`2(Max)`).
    static func tries(_ job: Job) -> String {
        job.maxTry > 0 && job.tryNum >= job.maxTry ? "\(job.tryNum)(Max)" : "\(job.tryNum)"
    }

    /// A duration as Go prints one (`1h2m3s`, `2m5s`, `1.234s`, `250ms`),
    /// cut to `unit` µs first, as damocles does before printing.
    static func goDuration(micros: Int64, unit: Int64) -> String {
        let micros = max(0, micros) / unit * unit
        if micros == 0 { return "0s" }
        if micros < 1_000_000 { return micros % 1000 == 0 ? "\(micros / 1000)ms" : "\(Double(micros) / 1000)ms" }
        let hours = micros / 3_600_000_000
        let minutes = micros % 3_600_000_000 / 60_000_000
        let secondsMicros = micros % 60_000_000
        var seconds = "\(secondsMicros / 1_000_000)"
        if secondsMicros % 1_000_000 != 0 {
            var fraction = String(format: "%06d", Int(secondsMicros % 1_000_000))
            while fraction.hasSuffix("0") { fraction.removeLast() }
            seconds += "." + fraction
        }
        if hours > 0 { return "\(hours)h\(minutes)m\(seconds)s" }
        if minutes > 0 { return "\(minutes)m\(seconds)s" }
        return seconds + "s"
    }

    /// damocles' columns and formats (`damocles-manager util worker wdpost
    /// list`), with Sectors for proof jobs; `detail` adds the kind, the
    /// priority and every timestamp, and shows errors whole.
    static func render(_ jobs: [Job], detail: Bool, now: Int64) -> String {
        var header = ["JobID", "MinerID", "DDL", "Partitions", "Sectors", "Worker", "State", "Try", "CreateAt", "Elapsed", "Heartbeat", "Error"]
        if detail {
            header.insert(contentsOf: ["Kind", "Priority"], at: 1)
            header.insert(contentsOf: ["StartedAt", "HeartbeatAt", "FinishedAt"], at: header.count - 1)
        }
        var rows = [header]
        for job in jobs {
            var error = job.error.replacingOccurrences(of: "\n", with: " ")
            if !detail && error.count > 60 { error = String(error.prefix(57)) + "..." }
            var row = [job.id, job.minerID.isEmpty ? "-" : job.minerID, job.deadlineIdx < 0 ? "-" : "\(job.deadlineIdx)",
                       job.partitions.isEmpty ? "-" : PartitionList.format(job.partitions), job.sectors > 0 ? "\(job.sectors)" : "-",
                       job.worker.isEmpty ? "-" : job.worker, job.state.rawValue, tries(job), shortTime(job.createdAt),
                       elapsed(job, now: now), heartbeat(job, now: now), error.isEmpty ? "-" : error]
            if detail {
                row.insert(contentsOf: [job.kind, "\(job.priority)"], at: 1)
                row.insert(contentsOf: [time(job.startedAt), time(job.heartbeatAt), time(job.finishedAt)], at: row.count - 1)
            }
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
