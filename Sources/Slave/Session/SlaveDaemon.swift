import Foundation
import Logging
import NIOCore
import NIOPosix
import Shared

/// `wdpost slave daemon`: connects to the master, pulls jobs, runs them,
/// heartbeats them, and reports results — keeping every finished result until
/// the master has acknowledged it, across reconnects.
public actor SlaveDaemon {
    struct RunningJob {
        let assignment: Assignment
        let task: Task<Void, Never>
        var lease: JobLease { JobLease(id: assignment.id, lease: assignment.lease) }
    }

    let config: SlaveConfig
    let logger: Logger
    let runners: [String: Runner]
    let group: MultiThreadedEventLoopGroup
    private(set) var client: RPCClient?
    private(set) var running: [String: RunningJob] = [:]
    private var unacked: [String: JobResult] = [:]
    private(set) var stopping = false
    /// DBC rent: whether jobs may be taken now, and what it needs (`SlaveDaemon+Rent.swift`).
    var rent: RentYield
    var rentListener: RentListener?
    /// Jobs to hand back because the machine is rented, until the master has them.
    var rentReleases: [JobLease] = []
    var lastChainAnswer: String?
    private var flushing = false
    /// A claim is on its way (a pull, or a finish carrying one): only one at a
    /// time, so two requests never both count the same free slot.
    private var claimInFlight = false
    /// Jobs a pull delivered after shutdown began: released with the rest.
    private var lateArrivals: [Assignment] = []
    /// Results whose "job done" / "job failed" line is not written yet (see `noteEnded`).
    private var endedUnlogged: [JobResult] = []
    private var slotWaiters: [CheckedContinuation<Void, Never>] = []
    /// The largest frame the master reads: bounds every finish request and so
    /// every job's output (`OutputLimit`). Set for each connection.
    private(set) var maxFrameBytes = Frame.defaultMaxBytes

    public init(config: SlaveConfig, logger: Logger, runners: [String: Runner]) {
        self.config = config
        self.logger = logger
        self.runners = runners
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        self.rent = RentYield(chainConfirms: config.dbc.chainRPC != nil)
    }

    var capabilities: Capabilities {
        Capabilities(kinds: config.kinds, concurrent: config.concurrent, gpus: Kernels.devices().count,
                     allowedMiners: config.allowedMiners, allowedSizes: config.allowedSizes)
    }

    /// Runs until `stop()` has been called (cancel the task to cut a reconnect wait short); throws only when the master refuses this slave for good.
    public func run() async throws {
        let gpus = Kernels.devices()
        if gpus.isEmpty {
            logger.info("kernels run on the CPU: \(Kernels.backendDetail)")
        } else {
            logger.info("kernels run on \(gpus.count) GPU(s): \(gpus.map(\.name).joined(separator: ", "))")
        }
        try await startRentListener()
        while !stopping {
            let identity = RPCClient.Identity(role: .slave, name: config.name, token: config.token, capabilities: capabilities)
            do {
                let client = try await RPCClient.connect(to: config.serverAddr, as: identity, group: group)
                self.client = client
                // The master's own limit, as its welcome announced it.
                maxFrameBytes = client.maxFrameBytes
                logger.info("connected to master \(config.serverAddr)", metadata: ["worker": "\(config.name)"])
                await session(client)
                self.client = nil
                if !stopping { logger.warning("connection to master \(config.serverAddr) lost; reconnecting") }
            } catch let refused as RPCClient.Refused where refused.fatal {
                logger.critical("\(refused.message)")
                throw refused
            } catch {
                logger.warning("cannot reach master \(config.serverAddr): \(error); retrying in \(DurationText.format(micros: config.reconnectInterval))")
            }
            if stopping { break }
            // Jitter keeps a fleet of slaves from reconnecting in lockstep after a master restart.
            let jitter = Int64.random(in: 0...max(1, config.reconnectInterval / 5))
            try? await Task.sleep(nanoseconds: UInt64(config.reconnectInterval + jitter) * 1000)
        }
    }

    /// Frees the event loop, once both `run()` and `stop()` have returned:
    /// shutting it down while either still closes a connection hangs that close.
    public func close() async {
        try? await group.shutdownGracefully()
    }

    /// One connection's life: resend kept results, then pull and heartbeat until it drops.
    private func session(_ client: RPCClient) async {
        // A pull loop parked for a free slot must notice the connection dropping.
        client.closeFuture.whenComplete { _ in Task { await self.slotFreed() } }
        await flushResults(client)
        await announceRent(client)
        let heartbeats = Task { await self.heartbeatLoop(client) }
        await pullLoop(client)
        heartbeats.cancel()
        _ = try? await client.closeFuture.get()
    }

    private func pullLoop(_ client: RPCClient) async {
        while !stopping && client.isActive {
            guard !claimInFlight, let request = claimRequest(waitMs: Int(config.pullInterval / 1000)) else {
                await waitForSlot()
                continue
            }
            claimInFlight = true
            defer { claimInFlight = false }
            do {
                let response = try await client.call(.pull, request, as: PullResponse.self)
                LineLogHandler.coalescing { for job in response.jobs { start(job, client: client) } }
            } catch {
                if client.isActive { logger.warning("pull failed: \(error)") }
                await client.close()
                return
            }
        }
    }

    /// What to ask for now: every free slot, of the kinds that have room; nil when full.
    private func claimRequest(waitMs: Int) -> PullRequest? {
        let free = config.concurrent - running.count
        let kinds = kindsWithFreeSlots()
        guard rent.takesJobs, free > 0, !kinds.isEmpty else { return nil }
        return PullRequest(max: free, kinds: kinds, waitMs: waitMs)
    }

    private func kindsWithFreeSlots() -> [String] {
        config.kinds.filter { kind in
            guard runners[kind]?.available != false else { return false }
            guard let limit = config.processorSlots(kind) else { return true }
            return running.values.filter { $0.assignment.kind == kind }.count < limit
        }
    }

    /// A runner became able (or unable) to take jobs: claim again.
    public func runnersChanged() { slotFreed() }

    private func waitForSlot() async {
        await withCheckedContinuation { slotWaiters.append($0) }
    }

    func slotFreed() {
        let waiters = slotWaiters
        slotWaiters.removeAll()
        waiters.forEach { $0.resume() }
    }

    private func start(_ job: Assignment, client: RPCClient) {
        let meta: Logger.Metadata = ["job": "\(job.id)", "kind": "\(job.kind)", "try": "\(job.tryNum)"]
        if stopping {
            // Pulled just as shutdown began: `stop()` hands it straight back.
            lateArrivals.append(job)
            return
        }
        if !rent.takesJobs {
            // Claimed just as the machine was rented: straight back to the master.
            handBackForRent([JobLease(id: job.id, lease: job.lease)])
            return
        }
        logger.info("job started", metadata: meta)
        let runner = runners[job.kind]
        let outputLimit = OutputLimit.maxOutputBytes(frameLimit: maxFrameBytes)
        let task = Task {
            let result: JobResult
            do {
                guard let runner else { throw JobFailure("slave \(self.config.name) has no runner for kind \(job.kind)") }
                let output = try await runner.run(job, outputLimit: outputLimit)
                result = JobResult(id: job.id, lease: job.lease, ok: true, output: output)
            } catch is CancellationError {
                await self.jobEnded(job.id, result: nil)
                return
            } catch {
                result = JobResult(id: job.id, lease: job.lease, ok: false, error: "\(error)")
            }
            if Task.isCancelled {
                await self.jobEnded(job.id, result: nil)
                return
            }
            await self.jobEnded(job.id, result: result)
        }
        running[job.id] = RunningJob(assignment: job, task: task)
    }

    private func jobEnded(_ id: String, result ran: JobResult?) async {
        guard running.removeValue(forKey: id) != nil else { return }
        slotFreed()
        guard let ran else {
            logger.info("job aborted", metadata: ["job": "\(id)"])
            return
        }
        let result = OutputLimit.enforce(ran, frameLimit: maxFrameBytes)
        noteEnded(result)
        unacked[id] = result
        if let client, client.isActive { await flushResults(client) }
    }

    /// A job's end is logged on the actor's next turn, together with the
    /// ends that came meanwhile: short jobs end in bursts, and a `write(2)`
    /// per line was about a tenth of a slave's CPU (microseconds later, the
    /// same lines).
    private func noteEnded(_ result: JobResult) {
        endedUnlogged.append(result)
        guard endedUnlogged.count == 1 else { return }
        Task { self.logEnded() }
    }

    private func logEnded() {
        let ended = endedUnlogged
        endedUnlogged.removeAll()
        LineLogHandler.coalescing {
            for result in ended {
                logger.info(result.ok ? "job done" : "job failed: \(result.error)", metadata: ["job": "\(result.id)"])
            }
        }
    }

    /// Sends every kept result; each stays kept until the master answers for it.
    /// One flush at a time: results that finish meanwhile ride in its next
    /// round, so a burst of finishes becomes a few batched requests, and no
    /// result is sent twice while its first answer is on the way.
    private func flushResults(_ client: RPCClient) async {
        guard !flushing else { return }
        flushing = true
        defer { flushing = false }
        // Jobs that end together (a batch of short ones) ride in one request:
        // let the others that are ready run to their end first, instead of
        // sending the first result alone and the rest a round trip later.
        await Task.yield()
        while !unacked.isEmpty && client.isActive {
            // The slots these results free are claimed again in the same request.
            let pull = stopping || claimInFlight ? nil : claimRequest(waitMs: 0)
            // Kept from a connection to a master with a larger limit: cut down to fit this one.
            for (id, result) in unacked { unacked[id] = OutputLimit.enforce(result, frameLimit: maxFrameBytes) }
            let batch = FinishBatch.next(Array(unacked.values), pull: pull, frameLimit: maxFrameBytes)
            if pull != nil { claimInFlight = true }
            do {
                let response = try await client.call(.finish, FinishRequest(results: batch, pull: pull), as: FinishResponse.self)
                for (result, status) in zip(batch, response.statuses) {
                    // Only drop the copy that was sent: a newer result for the same id may have replaced it.
                    if unacked[result.id]?.lease == result.lease { unacked[result.id] = nil }
                    if status == .stale {
                        logger.warning("master refused a stale result; dropped", metadata: ["job": "\(result.id)", "lease": "\(result.lease)"])
                    }
                }
                LineLogHandler.coalescing { for job in response.jobs ?? [] { start(job, client: client) } }
                if pull != nil {
                    claimInFlight = false
                    slotFreed()
                }
            } catch {
                if pull != nil {
                    claimInFlight = false
                    slotFreed()
                }
                logger.warning("could not report \(batch.count) result(s), kept for the next connection: \(error)")
                return
            }
        }
    }

    private func heartbeatLoop(_ client: RPCClient) async {
        while !Task.isCancelled && client.isActive {
            try? await Task.sleep(nanoseconds: UInt64(config.heartbeatInterval) * 1000)
            if Task.isCancelled || !client.isActive { return }
            await heartbeat(client)
        }
    }

    private func heartbeat(_ client: RPCClient) async {
        // A finished job's result may wait behind others' frames: it is still
        // this slave's job until the master acknowledges it, and heartbeating
        // it keeps the master from taking it back meanwhile.
        let waiting = unacked.values.filter { running[$0.id] == nil }.map { JobLease(id: $0.id, lease: $0.lease) }
        let leases = running.values.map(\.lease) + waiting
        do {
            let response = try await client.call(.heartbeat, HeartbeatRequest(jobs: leases), as: HeartbeatResponse.self)
            for id in response.abort {
                // Only abort the attempt the master refused, not a newer one for the same id.
                guard let job = running[id], leases.contains(job.lease) else { continue }
                logger.warning("master says the job is no longer ours (removed, reset or timed out): aborting", metadata: ["job": "\(id)"])
                job.task.cancel()
            }
            if !unacked.isEmpty { await flushResults(client) }
        } catch {
            logger.warning("heartbeat failed: \(error)")
        }
    }

    /// SIGTERM: stop pulling, let running jobs finish within the grace period,
    /// release the rest, report results, close.
    public func stop() async {
        stopping = true
        await rentListener?.close()
        slotFreed()
        logger.info("shutting down: \(running.count) job(s) running, grace \(DurationText.format(micros: config.shutdownGrace))")
        let deadline = nowMicros() + config.shutdownGrace
        while !running.isEmpty && nowMicros() < deadline {
            try? await Task.sleep(nanoseconds: 20_000_000)
        }
        let left = running.values.map { $0 }
        for job in left { job.task.cancel() }
        running.removeAll()
        if let client, client.isActive {
            // `final` also stops the master from answering a pull still parked there.
            var leases = left.map(\.lease)
            let reason = "slave \(config.name) shutting down"
            _ = try? await client.call(.release, ReleaseRequest(jobs: leases, reason: reason, final: true), as: Empty.self)
            // The master now claims nothing more for us and wakes a parked pull;
            // wait for claims already on their way, then hand back what they brought.
            let settle = nowMicros() + 5_000_000
            while (claimInFlight || flushing) && client.isActive && nowMicros() < settle {
                try? await Task.sleep(nanoseconds: 5_000_000)
            }
            let late = lateArrivals.map { JobLease(id: $0.id, lease: $0.lease) }
            lateArrivals.removeAll()
            if !late.isEmpty {
                _ = try? await client.call(.release, ReleaseRequest(jobs: late, reason: reason, final: true), as: Empty.self)
                leases += late
            }
            if !leases.isEmpty { logger.info("released \(leases.count) unfinished job(s)") }
            await flushResults(client)
            await client.close()
        }
        logEnded()
        if !unacked.isEmpty { logger.error("\(unacked.count) result(s) could not be reported before shutdown") }
    }
}
