import Foundation
import Shared

/// `wdpost dbc doctor --slaves`: one pinned `dbc-doctor` job per connected
/// slave, waited for, and one row per machine, so the few machines that
/// are not ready stand out among many.
enum DoctorFleet {
    struct Row: Encodable {
        var machine: String
        var ok: Bool
        /// Names of the failed checks.
        var failing: [String]
        /// Why there is no report (no answer in time, a failed job), or "".
        var note: String
        var checks: [DoctorCheck]
    }

    static func run(_ client: AdminClient, input: DBCDoctorInput, timeoutMicros: Int64) async throws -> [Row] {
        let deadline = nowMicros() + timeoutMicros
        var seen = Set<String>()
        let slaves = try await client.slaves().filter { seen.insert($0.name).inserted }.sorted { $0.name < $1.name }
        var rows: [String: Row] = [:]
        var pinned: [String] = []
        for slave in slaves {
            if slave.kinds.contains(JobKind.dbcDoctor) {
                pinned.append(slave.name)
            } else {
                rows[slave.name] = Row(machine: slave.name, ok: false, failing: [],
                                       note: "does not run \(JobKind.dbcDoctor) (its kinds: \(slave.kinds.joined(separator: ",")))", checks: [])
            }
        }
        let body = try JSONEncoder().encode(input)
        let ids = pinned.isEmpty ? [] : try await client.submit(pinned.map { NewJob(kind: JobKind.dbcDoctor, input: body, worker: $0) })
        var jobs: [String: Job] = [:]
        while !ids.isEmpty {
            for job in try await client.show(ids) { jobs[job.id] = job }
            let open = ids.filter { jobs[$0].map { $0.state == .readyToRun || $0.state == .running } ?? false }
            if open.isEmpty || nowMicros() >= deadline { break }
            try await Task.sleep(nanoseconds: 200_000_000)
        }
        var late: [String] = []
        for (name, id) in zip(pinned, ids) {
            guard let job = jobs[id] else {
                rows[name] = Row(machine: name, ok: false, failing: [], note: "job \(id) was removed", checks: [])
                continue
            }
            switch job.state {
            case .succeed:
                do {
                    let checks = try DoctorReport.decode(job.output ?? Data())
                    let failing = checks.filter { !$0.ok }.map(\.check)
                    rows[name] = Row(machine: name, ok: failing.isEmpty, failing: failing, note: "", checks: checks)
                } catch {
                    rows[name] = Row(machine: name, ok: false, failing: [], note: "job \(id): \(error)", checks: [])
                }
            case .failed:
                rows[name] = Row(machine: name, ok: false, failing: [], note: "job \(id) failed: \(job.error)", checks: [])
            case .readyToRun, .running:
                late.append(id)
                rows[name] = Row(machine: name, ok: false, failing: [],
                                 note: "no answer in time (job \(id) still \(job.state.rawValue))", checks: [])
            }
        }
        // A late report is of no use to this run; a slave busy until later should not run it then.
        if !late.isEmpty { _ = try? await client.remove(late) }
        return slaves.compactMap { rows[$0.name] }
    }

    static func text(_ rows: [Row], timeout: String) -> String {
        guard !rows.isEmpty else { return "no slave is connected\n" }
        var table = [["Machine", "Ready", "Failing"]]
        for r in rows {
            table.append([r.machine, r.ok ? "yes" : "NO", r.note.isEmpty ? (r.failing.isEmpty ? "-" : r.failing.joined(separator: ", ")) : r.note])
        }
        let ready = rows.filter(\.ok).count
        return TextTable.render(table) + "\(ready) of \(rows.count) machines ready (waited up to \(timeout))\n"
    }

    static func json(_ rows: [Row]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(rows)) ?? Data("[]".utf8), as: UTF8.self) + "\n"
    }
}
