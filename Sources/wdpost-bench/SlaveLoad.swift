import Foundation
import Shared

private func pull(_ client: RPCClient, max: Int, waitMs: Int) async throws -> [Assignment] {
    try await client.call(.pull, PullRequest(max: max, kinds: [JobKind.noop], waitMs: waitMs), as: PullResponse.self).jobs
}

private func finishAll(_ client: RPCClient, _ jobs: [Assignment]) async throws {
    guard !jobs.isEmpty else { return }
    let results = jobs.map { JobResult(id: $0.id, lease: $0.lease, ok: true, output: Data("{\"ok\":true}".utf8)) }
    let statuses = try await client.call(.finish, FinishRequest(results: results), as: FinishResponse.self).statuses
    if let stale = statuses.firstIndex(of: .stale) { throw BenchError("master refused the finish of \(jobs[stale].id) as stale") }
}

/// `slaves`: many slave connections in one process, each with the real
/// handshake, a heartbeat every `heartbeat-ms` and a parked pull of
/// `pull-wait-ms` (jobs that arrive are finished at once). As with real slaves,
/// each one starts heartbeating and pulling as soon as it is connected, so the
/// ramp shows what a fleet (re)connecting costs the master. After all are
/// connected and `settle` seconds have passed, the master's CPU time and memory
/// are sampled over `duration` seconds.
func slaves(_ o: Options) async throws {
    let master = try o.address()
    let token = try o.token("token-file")
    let count = try o.int("count", 1000, min: 1)
    let concurrent = try o.int("concurrent", 1, min: 1)
    let heartbeatMs = try o.double("heartbeat-ms", 10_000)
    let pullWaitMs = try o.int("pull-wait-ms", 10_000, min: 0)
    let duration = try o.double("duration", 30)
    let settle = try o.double("settle", 3)
    let parallel = try o.int("connect-parallel", 32, min: 1)
    let prefix = try o.string("name-prefix", "bench-slave")
    let masterPid = try o.optionalString("master-pid").map { text -> Int32 in
        guard let pid = Int32(text) else { throw BenchError("--master-pid \(text): expected a process id") }
        return pid
    }
    let metricsURL = o.optionalString("metrics-url")
    try o.checkAllUsed()

    let stop = StopFlag()
    let heartbeatRTT = SharedSamples()
    let heartbeats = Counter(), pulls = Counter(), jobsDone = Counter(), errors = Counter()

    @Sendable func heartbeatLoop(_ client: RPCClient) async {
        // Spread the first heartbeat over one interval, as a fleet started over time would.
        await sleepMs(Double.random(in: 0..<max(1, heartbeatMs)))
        while !stop.isSet && client.isActive {
            let t = monoMs()
            do {
                _ = try await client.call(.heartbeat, HeartbeatRequest(jobs: []), as: HeartbeatResponse.self)
                heartbeatRTT.add(monoMs() - t)
                heartbeats.add()
            } catch {
                if !stop.isSet { errors.add() }
                return
            }
            await sleepMs(heartbeatMs)
        }
    }

    @Sendable func pullLoop(_ client: RPCClient) async {
        // The first pull waits a random part of the interval, so the fleet's
        // long polls do not all run out in the same instant.
        var wait = Int.random(in: 0...pullWaitMs)
        while !stop.isSet && client.isActive {
            do {
                let jobs = try await pull(client, max: concurrent, waitMs: wait)
                wait = pullWaitMs
                pulls.add()
                try await finishAll(client, jobs)
                jobsDone.add(jobs.count)
                if pullWaitMs == 0 { await sleepMs(1000) }
            } catch {
                if !stop.isSet { errors.add() }
                return
            }
        }
    }

    let rampBefore = try masterPid.map { try ProcSample.read(pid: $0) }
    let opsBefore = await dbOperations(metricsURL)
    let connectStart = monoMs()
    var clients: [RPCClient] = []
    var tasks: [Task<Void, Never>] = []
    var next = 0
    while next < count {
        let upTo = min(count, next + parallel)
        let chunk = try await withThrowingTaskGroup(of: (Int, RPCClient).self) { group -> [(Int, RPCClient)] in
            for i in next..<upTo {
                group.addTask { (i, try await connectSlave(master, token: token, name: "\(prefix)-\(i)", concurrent: concurrent)) }
            }
            var out: [(Int, RPCClient)] = []
            for try await c in group { out.append(c) }
            return out
        }
        for (_, client) in chunk.sorted(by: { $0.0 < $1.0 }) {
            clients.append(client)
            tasks.append(Task { await heartbeatLoop(client) })
            tasks.append(Task { await pullLoop(client) })
        }
        next = upTo
    }
    let connectSeconds = (monoMs() - connectStart) / 1000
    progress("\(count) slaves connected in \(fmt(connectSeconds, 2))s")
    // The ramp: from the first connect until one second after the last.
    await sleepMs(1000)
    let rampAfter = try masterPid.map { try ProcSample.read(pid: $0) }
    let opsAfterRamp = await dbOperations(metricsURL)

    await sleepMs(max(0, settle - 1) * 1000)
    let before = try masterPid.map { try ProcSample.read(pid: $0) }
    let opsBefore2 = await dbOperations(metricsURL)
    let selfBefore = try ProcSample.read(pid: getpid())
    let hbBefore = heartbeats.value, pullsBefore = pulls.value
    await sleepMs(duration * 1000)
    let after = try masterPid.map { try ProcSample.read(pid: $0) }
    let opsAfter = await dbOperations(metricsURL)
    let selfAfter = try ProcSample.read(pid: getpid())
    let connected = clients.filter(\.isActive).count
    let hbWindow = heartbeats.value - hbBefore, pullsWindow = pulls.value - pullsBefore
    stop.set()
    for client in clients { await client.close() }
    tasks.forEach { $0.cancel() }

    let hz = Double(sysconf(Int32(_SC_CLK_TCK)))
    let rtt = heartbeatRTT.snapshot
    var out: [(String, String)] = [("slaves", "\(count)"), ("connected", "\(connected)"), ("connect_s", fmt(connectSeconds, 2))]
    if let rampBefore, let rampAfter {
        out.append(("ramp_master_cpu_s", fmt(Double(rampAfter.ticks - rampBefore.ticks) / hz, 2)))
    }
    if let opsBefore, let opsAfterRamp { out.append(("ramp_db_ops", "\(opsAfterRamp - opsBefore)")) }
    out.append(("window_s", fmt(duration, 1)))
    if let before, let after {
        out += [("master_cpu_pct", fmt(ProcSample.cpuPercent(from: before, to: after), 1)),
                ("master_peak_rss_mb", fmt(Double(after.hwmKB) / 1024, 1)),
                ("master_rss_mb", fmt(Double(after.rssKB) / 1024, 1))]
    }
    if let opsBefore2, let opsAfter { out.append(("db_ops_per_s", fmt(Double(opsAfter - opsBefore2) / duration, 1))) }
    out += [("heartbeats_per_s", fmt(Double(hbWindow) / duration, 1)), ("pulls_per_s", fmt(Double(pullsWindow) / duration, 1)),
            ("hb_p50_ms", fmt(rtt.percentile(50))), ("hb_p99_ms", fmt(rtt.percentile(99))),
            ("jobs_done", "\(jobsDone.value)"), ("errors", "\(errors.value)"),
            ("bench_cpu_pct", fmt(ProcSample.cpuPercent(from: selfBefore, to: selfAfter), 1))]
    emit(out)
}

/// `claims`: emulated slaves (`--connections`, default one) claim jobs one
/// at a time and finish each at once; reports the pull (claim) and finish
/// round trips. With `--until-file`, claims go on (up to `--count` each) until
/// that file exists; with `--start-file` too, only the claims made after it
/// appeared are reported as claim_*, those before as before_claim_* (the
/// window is the one bench.sh marks: an archive sweep under way); a claim
/// counts in the window when it ends after the start file appeared.
func claims(_ o: Options) async throws {
    let master = try o.address()
    let token = try o.token("token-file")
    let count = try o.int("count", 2000, min: 1)
    let warmup = try o.int("warmup", 20, min: 0)
    let connections = try o.int("connections", 1, min: 1)
    let startFile = o.optionalString("start-file")
    let untilFile = o.optionalString("until-file")
    try o.checkAllUsed()
    let exists: (String?) -> Bool = { path in path.map { FileManager.default.fileExists(atPath: $0) } ?? false }
    let claim = SharedSamples(), finish = SharedSamples(), before = SharedSamples()
    let empty = Counter()
    try await withThrowingTaskGroup(of: Void.self) { group in
        for c in 0..<connections {
            group.addTask {
                let client = try await connectSlave(master, token: token, name: "bench-claimer-\(c)", concurrent: 1)
                var emptyHere = 0
                for i in 0..<(count + warmup) {
                    if exists(untilFile) { break }
                    let t0 = monoMs()
                    let jobs = try await pull(client, max: 1, waitMs: 1000)
                    let t1 = monoMs()
                    // By its end: a claim that began before the window and
                    // waited into it (behind the sweep) belongs to the window.
                    let during = startFile == nil || exists(startFile)
                    if jobs.isEmpty {
                        empty.add()
                        emptyHere += 1
                        if emptyHere >= 3 { break }
                        continue
                    }
                    try await finishAll(client, jobs)
                    let t2 = monoMs()
                    guard i >= warmup else { continue }
                    if during {
                        claim.add(t1 - t0)
                        finish.add(t2 - t1)
                    } else {
                        before.add(t1 - t0)
                    }
                }
                await client.close()
            }
        }
        try await group.waitForAll()
    }
    let (c, f, b) = (claim.snapshot, finish.snapshot, before.snapshot)
    var pairs = [("claims", "\(c.count)"), ("claim_p50_ms", fmt(c.percentile(50))), ("claim_p99_ms", fmt(c.percentile(99))),
                 ("claim_max_ms", fmt(c.max)), ("finish_p50_ms", fmt(f.percentile(50))), ("finish_p99_ms", fmt(f.percentile(99))),
                 ("empty_pulls", "\(empty.value)")]
    if startFile != nil {
        pairs += [("before_claims", "\(b.count)"), ("before_claim_p50_ms", fmt(b.percentile(50))),
                  ("before_claim_p99_ms", fmt(b.percentile(99)))]
    }
    emit(pairs)
}

/// `drain`: emulated slaves claim and finish `jobs` jobs in big batches
/// (pull max N, one finish per batch) — turns a filled table into history.
func drain(_ o: Options) async throws {
    let master = try o.address()
    let token = try o.token("token-file")
    let count = try o.int("jobs", min: 0)
    let maxPerPull = try o.int("max", 1000, min: 1)
    let connections = try o.int("connections", 2, min: 1)
    try o.checkAllUsed()
    let remaining = Counter()
    remaining.add(count)
    let reserveLock = NSLock()
    func reserve() -> Int {
        reserveLock.withLock {
            let take = min(maxPerPull, remaining.value)
            remaining.add(-take)
            return take
        }
    }
    let done = Counter()
    let start = monoMs()
    try await withThrowingTaskGroup(of: Void.self) { group in
        for c in 0..<connections {
            group.addTask {
                let client = try await connectSlave(master, token: token, name: "bench-drainer-\(c)", concurrent: maxPerPull)
                var emptyPulls = 0
                var nextReport = 0.1
                while true {
                    let take = reserve()
                    if take == 0 { break }
                    let jobs = try await pull(client, max: take, waitMs: 1000)
                    if jobs.count < take { remaining.add(take - jobs.count) }
                    if jobs.isEmpty {
                        emptyPulls += 1
                        if emptyPulls >= 3 { throw BenchError("drain: no claimable jobs left with \(remaining.value) still to drain") }
                        continue
                    }
                    try await finishAll(client, jobs)
                    done.add(jobs.count)
                    if c == 0 && count >= 100_000 && Double(done.value) >= nextReport * Double(count) {
                        progress("drain: \(done.value)/\(count) finished")
                        nextReport += 0.1
                    }
                }
                await client.close()
            }
        }
        try await group.waitForAll()
    }
    let seconds = (monoMs() - start) / 1000
    emit([("drained", "\(done.value)"), ("drain_s", fmt(seconds)), ("drain_jobs_per_s", fmt(Double(done.value) / seconds, 1))])
}

/// `latency`: one job at a time on an idle master. An emulated slave has a
/// pull parked; the job is submitted; the time until the pull answers with it
/// is the submit-to-start latency as a slave sees it (client clock). The rows'
/// created_at → started_at (master clock, from insert to claim) are reported too.
func latency(_ o: Options) async throws {
    let master = try o.address()
    let slaveToken = try o.token("token-file")
    let adminToken = try o.token("admin-token-file")
    let count = try o.int("jobs", 200, min: 1)
    let warmup = try o.int("warmup", 5, min: 0)
    let gap = try o.double("gap-ms", 20)
    try o.checkAllUsed()
    let slave = try await connectSlave(master, token: slaveToken, name: "bench-latency", concurrent: 1)
    let admin = try await connectAdmin(master, token: adminToken)
    var observed = Samples(), submitRTT = Samples()
    var ids: [String] = []
    for i in 0..<(count + warmup) {
        let parked = Task { try await pull(slave, max: 1, waitMs: 30_000) }
        // Give the pull time to reach the master and park, as an idle slave's would be.
        await sleepMs(gap)
        let t0 = monoMs()
        let submitted = Task { () -> Double in
            _ = try await admin.submit([NewJob(kind: JobKind.noop)])
            return monoMs()
        }
        let jobs = try await parked.value
        let t1 = monoMs()
        let t2 = try await submitted.value
        guard let job = jobs.first else { throw BenchError("latency: the parked pull returned no job") }
        try await finishAll(slave, jobs)
        if i >= warmup {
            observed.add(t1 - t0)
            submitRTT.add(t2 - t0)
            ids.append(job.id)
        }
    }
    var db = Samples()
    for job in try await fetchJobs(admin, ids: ids) { db.add(Double(job.startedAt - job.createdAt) / 1000) }
    await slave.close()
    await admin.close()
    emit([("samples", "\(observed.count)"), ("p50_ms", fmt(observed.percentile(50))), ("p99_ms", fmt(observed.percentile(99))),
          ("max_ms", fmt(observed.max)), ("db_p50_ms", fmt(db.percentile(50))), ("db_p99_ms", fmt(db.percentile(99))),
          ("submit_rtt_p50_ms", fmt(submitRTT.percentile(50))), ("submit_rtt_p99_ms", fmt(submitRTT.percentile(99)))])
}
