import Foundation
import Shared

/// What the read-only status page and `/status.json` show.
struct StatusSnapshot: Encodable {
    struct SlaveRow: Encodable {
        var name: String
        var address: String
        var runningJobs: Int
        var lastSeenAgo: String
        /// Its DBC machine is rented: it takes no jobs.
        var rented: Bool
    }
    struct FailureRow: Encodable {
        var id: String
        var kind: String
        var worker: String
        var tries: Int
        var finishedAt: String
        var error: String
    }

    var master: String
    var generatedAt: String
    var jobsByState: [String: Int]
    var jobs: [JobCount]
    var slaves: [SlaveRow]
    var latestFailures: [FailureRow]
    /// The ComputeChain driver per worker; nil when `[computechain]` is off.
    var computechain: ComputeChainStatus?

    static func iso(_ micros: Int64) -> String {
        micros == 0 ? "-" : ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: Double(micros) / 1e6))
    }

    /// What the page reads from the store: three aggregates, computed once
    /// for every viewer within `HTTPServer`'s cache window.
    struct Aggregates: Sendable {
        var counts: [JobCount]
        var running: [String: Int]
        var failures: [Job]
        var computechain: ComputeChainStatus?

        static func read(_ service: MasterService) async throws -> Aggregates {
            var aggregates = try await service.db { store in
                Aggregates(counts: try store.countByStateAndKind(), running: try store.runningByWorker(),
                           failures: try store.latestFailures(limit: 20))
            }
            aggregates.computechain = try await service.computechain?.status()
            return aggregates
        }
    }

    /// A processor's stderr may hold what a prover should never show (keys,
    /// paths, tokens), and this page has no authentication: it shows the
    /// error up to the stderr the slave appended; `wdpost show` has all of it.
    static func pageError(_ error: String, job id: String) -> String {
        guard let marker = error.range(of: "; stderr:") else { return error }
        return error[..<marker.lowerBound] + "; stderr not shown here (wdpost show \(id))"
    }

    static func collect(_ service: MasterService, from aggregates: Aggregates) -> (StatusSnapshot, [JobCount]) {
        let (counts, running, failures) = (aggregates.counts, aggregates.running, aggregates.failures)
        let now = nowMicros()
        var byState = Dictionary(JobState.allCases.map { ($0.rawValue, 0) }, uniquingKeysWith: +)
        for c in counts { byState[c.state, default: 0] += c.count }
        let snapshot = StatusSnapshot(
            master: service.config.name, generatedAt: iso(now), jobsByState: byState, jobs: counts,
            slaves: service.slaves.snapshot().map {
                SlaveRow(name: $0.name, address: $0.address, runningJobs: running[$0.name] ?? 0,
                         lastSeenAgo: DurationText.format(micros: now - $0.lastSeen), rented: $0.rented)
            },
            latestFailures: failures.map {
                FailureRow(id: $0.id, kind: $0.kind, worker: $0.worker, tries: $0.tryNum, finishedAt: iso($0.finishedAt),
                           error: pageError($0.error, job: $0.id))
            },
            computechain: aggregates.computechain)
        return (snapshot, counts)
    }

    var html: String {
        func esc(_ s: String) -> String {
            s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
                .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
        }
        func table(_ id: String, _ header: [String], _ rows: [[String]], empty: String) -> String {
            guard !rows.isEmpty else { return "<p id=\"\(id)\" class=\"empty\">\(esc(empty))</p>" }
            let head = header.map { "<th>\(esc($0))</th>" }.joined()
            let body = rows.map { "<tr>" + $0.map { "<td>\(esc($0))</td>" }.joined() + "</tr>" }.joined(separator: "\n")
            return "<table id=\"\(id)\"><thead><tr>\(head)</tr></thead><tbody>\n\(body)\n</tbody></table>"
        }
        let states = JobState.allCases.map { [$0.rawValue, "\(jobsByState[$0.rawValue] ?? 0)"] }
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="5">
            <title>wdpost master \(esc(master))</title>
            <style>body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;margin-bottom:1.5em}
            td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}th{background:#eee}</style></head>
            <body><h1>wdpost master \(esc(master))</h1><p>as of \(esc(generatedAt)) (refreshes every 5 s)</p>
            <h2>Jobs by state</h2>
            \(table("jobs", ["State", "Jobs"], states, empty: ""))
            <h2>Slaves</h2>
            \(table("slaves", ["Name", "Address", "Running jobs", "Last heartbeat", "State"], slaves.map { [$0.name, $0.address, "\($0.runningJobs)", $0.lastSeenAgo + " ago", $0.rented ? "rented" : "working"] }, empty: "No slave is connected."))
            <h2>Latest failures</h2>
            \(table("failures", ["JobID", "Kind", "Worker", "Try", "Failed at", "Error"], latestFailures.map { [$0.id, $0.kind, $0.worker, "\($0.tries)", $0.finishedAt, $0.error] }, empty: "No failed job."))
            \(computechainHTML(table))
            </body></html>
            """
    }

    /// The ComputeChain section, when the driver runs.
    func computechainHTML(_ table: (String, [String], [[String]], String) -> String) -> String {
        guard let c = computechain else { return "" }
        let node = "node \(c.node): \(c.nodeReachable ? "reachable" : "unreachable"), height \(c.height)"
        let rows = c.workers.map { w in
            [w.address, w.balance, "\(w.lastBlockTasked)", "\(w.computing)", "\(w.waiting)", "\(w.submitted)", "\(w.inBlocks)", "\(w.failed)", w.lastError]
        }
        return "<h2>ComputeChain</h2><p id=\"computechain-node\">" + node.replacingOccurrences(of: "<", with: "&lt;") + "</p>"
            + table("computechain", ["Worker", "Balance", "Last block", "Computing", "Waiting", "Submitted", "In blocks", "Failed", "Last error"], rows, "")
    }
}
