import Foundation
import Shared

/// Submits `count` jobs in batches of `batch`, keeping `inflight` submit RPCs
/// pipelined on one admin connection. Returns the ids batch by batch (in
/// submit order), the wall-clock µs just before the first submit, and the
/// seconds the submits took.
func submitJobs(_ admin: AdminClient, count: Int, batch: Int, inflight: Int, job: NewJob,
                label: String? = nil) async throws -> (batches: [[String]], firstMicros: Int64, seconds: Double) {
    let nBatches = (count + batch - 1) / batch
    var results = [[String]](repeating: [], count: nBatches)
    let t0 = nowMicros()
    let start = monoMs()
    var nextReport = 0.1
    try await withThrowingTaskGroup(of: (Int, [String]).self) { group in
        var next = 0
        while next < min(inflight, nBatches) {
            let i = next, n = min(batch, count - i * batch)
            group.addTask { (i, try await admin.submit(Array(repeating: job, count: n))) }
            next += 1
        }
        var done = 0
        while let (i, ids) = try await group.next() {
            results[i] = ids
            done += ids.count
            if let label, Double(done) >= nextReport * Double(count), count >= 100_000 {
                progress("\(label): \(done)/\(count) submitted (\(Int(Double(done) / ((monoMs() - start) / 1000))) jobs/s)")
                nextReport += 0.1
            }
            if next < nBatches {
                let j = next, n = min(batch, count - j * batch)
                group.addTask { (j, try await admin.submit(Array(repeating: job, count: n))) }
                next += 1
            }
        }
    }
    return (results, t0, (monoMs() - start) / 1000)
}

func isFinished(_ job: Job) -> Bool { job.state == .succeed || job.state == .failed }

/// `run-jobs`: submit N noop jobs, wait for all of them to finish, report
/// throughput (first submit → last finished_at) and submit-to-start latency
/// (created_at → started_at of each row).
func runJobs(_ o: Options) async throws {
    let master = try o.address()
    let token = try o.token("admin-token-file")
    let count = try o.int("jobs", 10_000, min: 1)
    let batch = try o.int("batch", 500, min: 1)
    let inflight = try o.int("inflight", 4, min: 1)
    let timeout = try o.double("timeout", 600)
    let input = Data(try o.string("input", "").utf8)
    let pids = (o.optionalString("master-pid").map { [$0] } ?? []) + (o.optionalString("slave-pids")?.split(separator: ",").map(String.init) ?? [])
    let watched = try pids.map { text -> Int32 in
        guard let pid = Int32(text) else { throw BenchError("\(text): expected a process id") }
        return pid
    }
    let hasMaster = o.optionalString("master-pid") != nil
    let dbPid = try o.optionalString("db-pid").map { text -> Int32 in
        guard let pid = Int32(text) else { throw BenchError("--db-pid \(text): expected a process id") }
        return pid
    }
    let stopPid = try o.optionalString("stop-pid").map { text -> Int32 in
        guard let pid = Int32(text) else { throw BenchError("--stop-pid \(text): expected a process id") }
        return pid
    }
    try o.checkAllUsed()

    let admin = try await connectAdmin(master, token: token)
    let cpuBefore = try watched.map { try ProcSample.read(pid: $0) }
    let dbBefore = try dbPid.map { try ProcSample.read(pid: $0) }
    let (batches, t0, submitSeconds) = try await submitJobs(admin, count: count, batch: batch, inflight: inflight,
                                                            job: NewJob(kind: JobKind.noop, input: input), label: "run-jobs")
    let ids = batches.flatMap { $0 }
    // Jobs are claimed oldest first, so the last batches finish last: watch
    // their last ids with a cheap point lookup, then read every row.
    let watch = batches.suffix(inflight).compactMap(\.last)
    let deadline = monoMs() + timeout * 1000
    while true {
        let rows = try await admin.show(watch)
        if rows.allSatisfy(isFinished) { break }
        if monoMs() > deadline { throw BenchError("jobs not finished within \(timeout)s (is a slave connected?)") }
        await sleepMs(10)
    }
    // The run is over: sample CPU and end a profile now, before reading the rows back.
    let cpuAfter = try watched.map { try ProcSample.read(pid: $0) }
    let dbAfter = try dbPid.map { try ProcSample.read(pid: $0) }
    if let stopPid { kill(stopPid, SIGINT) }
    var finished: [String: Job] = [:]
    var pending = ids
    while !pending.isEmpty {
        for job in try await fetchJobs(admin, ids: pending) where isFinished(job) { finished[job.id] = job }
        pending = pending.filter { finished[$0] == nil }
        if pending.isEmpty { break }
        if monoMs() > deadline { throw BenchError("\(pending.count) job(s) not finished within \(timeout)s") }
        await sleepMs(50)
    }
    await admin.close()

    let rows = ids.compactMap { finished[$0] }
    let end = rows.map(\.finishedAt).max() ?? t0
    let elapsed = Double(end - t0) / 1e6
    var latency = Samples()
    for job in rows { latency.add(Double(job.startedAt - job.createdAt) / 1000) }
    let failed = rows.filter { $0.state == .failed }.count
    emit([("jobs", "\(count)"), ("elapsed_s", fmt(elapsed)), ("jobs_per_s", fmt(Double(count) / elapsed, 1)),
          ("p50_ms", fmt(latency.percentile(50))), ("p99_ms", fmt(latency.percentile(99))), ("max_ms", fmt(latency.max)),
          ("submit_s", fmt(submitSeconds)), ("submit_jobs_per_s", fmt(Double(count) / submitSeconds, 1)),
          ("failed", "\(failed)")] + cpuFigures(before: cpuBefore, after: cpuAfter, hasMaster: hasMaster, jobs: count)
         + dbCPUFigures(before: dbBefore, after: dbAfter, jobs: count))
}

/// CPU used over the run by the master (first pid, if given) and by all slaves
/// together, in percent of one core, and CPU-µs per job.
func cpuFigures(before: [ProcSample], after: [ProcSample], hasMaster: Bool, jobs: Int) -> [(String, String)] {
    guard !before.isEmpty else { return [] }
    let hz = Double(sysconf(Int32(_SC_CLK_TCK)))
    func seconds(_ range: Range<Int>) -> Double { range.reduce(0) { $0 + Double(after[$1].ticks - before[$1].ticks) / hz } }
    let wall = Double(after[0].wallMicros - before[0].wallMicros) / 1e6
    var out: [(String, String)] = []
    let slaves = (hasMaster ? 1 : 0)..<before.count
    if hasMaster {
        let m = seconds(0..<1)
        out += [("master_cpu_pct", fmt(m / wall * 100, 1)), ("master_cpu_us_per_job", fmt(m * 1e6 / Double(jobs), 1))]
    }
    if !slaves.isEmpty {
        let s = seconds(slaves)
        out += [("slaves_cpu_pct", fmt(s / wall * 100, 1)), ("slaves_cpu_us_per_job", fmt(s * 1e6 / Double(jobs), 1))]
    }
    return out
}

/// CPU used over the run by the database server (mariadbd), when its pid is
/// given: on a shared box it competes with the master for the same cores.
func dbCPUFigures(before: ProcSample?, after: ProcSample?, jobs: Int) -> [(String, String)] {
    guard let before, let after else { return [] }
    let seconds = Double(after.ticks - before.ticks) / Double(sysconf(Int32(_SC_CLK_TCK)))
    let wall = Double(after.wallMicros - before.wallMicros) / 1e6
    return [("db_cpu_pct", fmt(seconds / wall * 100, 1)), ("db_cpu_us_per_job", fmt(seconds * 1e6 / Double(jobs), 1))]
}

/// `fill`: submit N jobs as fast as the admin RPC takes them (backlog set-up).
func fill(_ o: Options) async throws {
    let master = try o.address()
    let token = try o.token("admin-token-file")
    let count = try o.int("jobs", 1_000_000, min: 1)
    let batch = try o.int("batch", 10_000, min: 1)
    let inflight = try o.int("inflight", 2, min: 1)
    let input = Data(try o.string("input", "").utf8)
    let kind = try o.string("kind", JobKind.noop)
    try o.checkAllUsed()
    let admin = try await connectAdmin(master, token: token)
    let (batches, _, seconds) = try await submitJobs(admin, count: count, batch: batch, inflight: inflight,
                                                     job: NewJob(kind: kind, input: input), label: "fill")
    await admin.close()
    let n = batches.reduce(0) { $0 + $1.count }
    emit([("submitted", "\(n)"), ("fill_s", fmt(seconds)), ("fill_jobs_per_s", fmt(Double(n) / seconds, 1))])
}

/// `list`: the admin list RPC alone, as the table asks for it (brief pages;
/// no process start, no table rendering).
func listTime(_ o: Options) async throws {
    let master = try o.address()
    let token = try o.token("admin-token-file")
    let all = o.flag("all")
    try o.checkAllUsed()
    let admin = try await connectAdmin(master, token: token)
    let t = monoMs()
    let rows = try await admin.list(all: all, brief: true)
    let seconds = (monoMs() - t) / 1000
    await admin.close()
    emit([("list_rpc_s", fmt(seconds)), ("list_rows", "\(rows.count)")])
}

/// `wait-slaves`: returns once the master lists at least `count` slaves.
func waitSlaves(_ o: Options) async throws {
    let master = try o.address()
    let token = try o.token("admin-token-file")
    let count = try o.int("count", 1, min: 0)
    let timeout = try o.double("timeout", 60)
    try o.checkAllUsed()
    let admin = try await connectAdmin(master, token: token)
    let deadline = monoMs() + timeout * 1000
    while true {
        let n = try await admin.slaves().count
        if n >= count { break }
        if monoMs() > deadline { throw BenchError("only \(n) of \(count) slaves connected within \(timeout)s") }
        await sleepMs(50)
    }
    await admin.close()
}

/// `failover`: submits one long noop job, SIGKILLs the slave process that
/// runs it, and reports how long until the job has started again elsewhere
/// (started_at of the next try minus the kill time).
func failover(_ o: Options) async throws {
    let master = try o.address()
    let token = try o.token("admin-token-file")
    let pidsText = try o.string("slave-pids")
    let sleepMsInput = try o.int("sleep-ms", 600_000, min: 1)
    let killAfter = try o.double("kill-after-ms", 500)
    let timeout = try o.double("timeout", 120)
    try o.checkAllUsed()
    var pids: [String: Int32] = [:]
    for entry in pidsText.split(separator: ",") {
        let parts = entry.split(separator: "=")
        guard parts.count == 2, let pid = Int32(parts[1]) else { throw BenchError("--slave-pids: expected NAME=PID,NAME=PID") }
        pids[String(parts[0])] = pid
    }
    let admin = try await connectAdmin(master, token: token)
    let deadline = monoMs() + timeout * 1000
    while Set(try await admin.slaves().map(\.name)).isSuperset(of: pids.keys) == false {
        if monoMs() > deadline { throw BenchError("slaves \(pids.keys.sorted()) not all connected") }
        await sleepMs(50)
    }
    let id = try await admin.submit([NewJob(kind: JobKind.noop, input: Data("{\"sleep_ms\": \(sleepMsInput)}".utf8))])[0]
    var job = try await admin.show([id])[0]
    while job.state != .running {
        if monoMs() > deadline { throw BenchError("job \(id) never started") }
        await sleepMs(10)
        job = try await admin.show([id])[0]
    }
    let victimName = job.worker
    guard let victim = pids[victimName] else { throw BenchError("job \(id) runs on \(job.worker), not one of \(pids.keys.sorted())") }
    // The kill lands at some point between two heartbeats, as a real crash would.
    await sleepMs(killAfter)
    let killedAt = nowMicros()
    kill(victim, SIGKILL)
    while true {
        job = try await admin.show([id])[0]
        if job.tryNum >= 2 && job.startedAt > killedAt && job.state != .readyToRun { break }
        if monoMs() > deadline { throw BenchError("job \(id) did not run again within \(timeout)s of the kill (state \(job.state), try \(job.tryNum))") }
        await sleepMs(20)
    }
    _ = try? await admin.remove([id])
    await admin.close()
    emit([("failover_s", fmt(Double(job.startedAt - killedAt) / 1e6)), ("killed", victimName),
          ("rerun_on", job.worker), ("try", "\(job.tryNum)")])
}
