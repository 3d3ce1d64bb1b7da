import Foundation
import Logging
import NIOCore
import Shared

/// The committee process in the master: books members on `wdpost dbc verify`,
/// acts for automatic members (runs the probe on the target's slave in the
/// member's slot, commits the hash, reveals when the window opens), takes
/// manual members' submissions, summarises, and re-books on NoConsensus.
/// The rules are `VerifyOrder`'s; this only feeds it heights and persists it.
public final class DBCCoordinator: @unchecked Sendable {
    let config: MasterConfig
    let executor: StoreExecutor
    let logger: Logger
    let wake: WakeSignal
    let clock: BlockClock
    private var task: RepeatedTask?
    /// The last tick error, so a lasting one (a backend without DBC tables) is logged once, not every tick.
    private var lastTickError = ""

    init(config: MasterConfig, executor: StoreExecutor, logger: Logger, wake: WakeSignal) {
        self.config = config
        self.executor = executor
        self.logger = logger
        self.wake = wake
        self.clock = BlockClock(blockTime: config.dbc.blockTime)
    }

    var dbc: MasterConfig.DBC { config.dbc }

    /// Ticks once a block, but no more often than every 50 ms.
    var tickInterval: Int64 { max(50_000, dbc.blockTime) }

    func start(on loop: EventLoop) {
        guard !dbc.committee.isEmpty else { return }
        let interval = TimeAmount.microseconds(tickInterval)
        task = loop.scheduleRepeatedAsyncTask(initialDelay: interval, delay: interval) { _ in
            let promise = loop.makePromise(of: Void.self)
            promise.completeWithTask { await self.tick() }
            return promise.futureResult
        }
        logger.info("dbc: committee of \(dbc.committee.count) (\(dbc.committee.filter(dbc.isAutomatic).count) automatic), block time \(DurationText.format(micros: dbc.blockTime)), tick every \(DurationText.format(micros: tickInterval))")
    }

    func stop() { task?.cancel() }

    // MARK: the tick

    /// What one pass did, logged once it is committed.
    struct Events {
        var lines: [(String, Logger.Metadata)] = []
        var submittedJobs = false
        mutating func add(_ order: VerifyOrder, _ text: String, member: String? = nil) {
            var meta: Logger.Metadata = ["order": "\(order.id)", "machine": "\(order.machine)"]
            if let member { meta["member"] = "\(member)" }
            lines.append((text, meta))
        }
    }

    func log(_ events: Events) {
        for (line, meta) in events.lines { logger.info("dbc: \(line)", metadata: meta) }
        if events.submittedJobs { wake.signal() }
    }

    /// Advances every open order to the current height.
    func tick() async {
        let height = clock.now
        do {
            let events = try await executor.runCommittee { jobs, committee in
                var events = Events()
                for order in try committee.openOrders() {
                    try self.advance(order, at: height, jobs: jobs, committee: committee, events: &events)
                }
                return events
            }
            log(events)
            lastTickError = ""
        } catch {
            let text = "\(error)"
            if text != lastTickError { logger.error("dbc: tick at block \(height) failed: \(text)") }
            lastTickError = text
        }
    }

    /// One order, one height: open windows, act for automatic members, summarise, persist.
    func advance(_ stored: VerifyOrder, at height: Int64, jobs: JobStore, committee: CommitteeStore, events: inout Events) throws {
        var order = stored
        order.advance(to: height)
        if order.isOpen {
            for i in order.members.indices where dbc.isAutomatic(order.members[i].name) {
                try probeAndHash(&order, i, at: height, jobs: jobs, events: &events)
            }
            for i in order.members.indices where dbc.isAutomatic(order.members[i].name) {
                reveal(&order, i, at: height, events: &events)
            }
            order.advance(to: height)
        }
        try dropLateProbes(&order, at: height, jobs: jobs, events: &events)
        try persist(order, stored: stored, at: height, committee: committee, events: &events)
    }

    /// Once the order is summarised, a probe still waiting or running for a
    /// member is of no use: it is removed (a running slave aborts on its next
    /// heartbeat). Until then a late probe may still hash: the chain checks no
    /// time on a hash, and a late hasher can reveal until 48 h.
    func dropLateProbes(_ order: inout VerifyOrder, at height: Int64, jobs: JobStore, events: inout Events) throws {
        guard !order.isOpen else { return }
        for i in order.members.indices where order.members[i].hash == nil && !order.members[i].probeJob.isEmpty {
            let id = order.members[i].probeJob
            if let job = try jobs.get(id), job.state == .readyToRun || job.state == .running {
                _ = try jobs.remove([id])
                order.members[i].note = "probe job \(id) removed unfinished: the order was summarised at block \(height)"
                events.add(order, order.members[i].note, member: order.members[i].name)
            }
            order.members[i].probeJob = ""
        }
    }

    /// An automatic member without a hash: start its probe in its slot, or
    /// commit the hash of the probe's finished info (also after the slots
    /// ended, while the order is open, as the chain accepts it).
    func probeAndHash(_ order: inout VerifyOrder, _ i: Int, at height: Int64, jobs: JobStore, events: inout Events) throws {
        let m = order.members[i]
        guard m.hash == nil, order.isOpen else { return }
        if !m.probeJob.isEmpty {
            let job = try jobs.get(m.probeJob)
            switch job?.state {
            case .readyToRun?, .running?:
                return
            case .succeed?:
                do {
                    let output = try JSONDecoder().decode(DBCProbeOutput.self, from: job?.output ?? Data())
                    guard output.info.randStr == m.randStr else {
                        throw ErrorMessage("the probe answered rand_str \"\(output.info.randStr)\", not the member's \"\(m.randStr)\"")
                    }
                    guard output.info.machineID == order.machineID else {
                        throw CommitteeError.wrongMachine(expected: order.machineID, got: output.info.machineID)
                    }
                    try order.submitHash(member: m.name, hash: output.info.hashHex, at: height)
                    order.members[i].held = output.info
                    order.members[i].note = ""
                    let failed = output.checks.filter { !$0.passed }.map(\.name)
                    events.add(order, "hash \(output.info.hashHex) committed (probe job \(m.probeJob): is_support \(output.info.isSupport ? 1 : 0)\(failed.isEmpty ? "" : ", failed checks: \(failed.joined(separator: ", "))"))", member: m.name)
                } catch {
                    order.members[i].note = "probe job \(m.probeJob): \(error)"
                    order.members[i].probeJob = ""
                    events.add(order, "probe result not usable: \(error)", member: m.name)
                }
                return
            case .failed?, nil:
                order.members[i].note = "probe job \(m.probeJob) \(job == nil ? "was removed" : "failed: \(job!.error)")"
                order.members[i].probeJob = ""
                events.add(order, order.members[i].note + "; next try in the member's next slot", member: m.name)
            }
        }
        // Start a probe in the slot running now, once per slot.
        guard let k = m.slots.indices.first(where: { m.slots[$0] <= height && height < m.slots[$0] + DBCRules.slotBlocks }),
              k > order.members[i].probeSlot else { return }
        let randStr = SecureRandom.bytes(8).hex
        let input = DBCProbeInput(machineID: order.machineID, randStr: randStr, member: m.name, order: order.id)
        let job = NewJob(kind: JobKind.dbcVerify, input: try JSONEncoder().encode(input),
                         uniqueKey: "dbc:\(order.id):\(m.name):\(k)", worker: order.machine)
        let id = try jobs.insert([job], maxTry: config.task.maxRetry, now: executor.clock.now())[0]
        order.members[i].probeJob = id
        order.members[i].probeSlot = k
        order.members[i].randStr = randStr
        events.submittedJobs = true
        events.add(order, "probe job \(id) submitted on \(order.machine) in verify slot \(DBCRules.slotIndices(seq: m.seq)[k])", member: m.name)
    }

    /// An automatic member with a held info: reveal it once the window is open.
    func reveal(_ order: inout VerifyOrder, _ i: Int, at height: Int64, events: inout Events) {
        let m = order.members[i]
        guard let held = m.held, order.canReveal(m.name, at: height) else { return }
        do {
            try order.submitRaw(member: m.name, info: held, at: height)
            order.members[i].held = nil
            events.add(order, "raw info revealed", member: m.name)
        } catch {
            order.members[i].note = "reveal refused: \(error)"
            events.add(order, "reveal refused: \(error)", member: m.name)
        }
    }

    /// Saves the order if it changed; after a NoConsensus summary books the machine again.
    func persist(_ order: VerifyOrder, stored: VerifyOrder, at height: Int64, committee: CommitteeStore, events: inout Events) throws {
        guard order != stored else { return }
        guard try committee.updateOrder(order) else { throw CommitteeConflict(order: order.id) }
        guard let summary = order.summary, stored.summary == nil else { return }
        events.add(order, "summarised at block \(height): \(summary.result.rawValue); valid [\(summary.valid.joined(separator: ", "))], invalid [\(summary.invalid.joined(separator: ", "))], unruly [\(summary.unruly.joined(separator: ", "))]")
        if summary.result == .noConsensus {
            do {
                let next = try book(machine: order.machine, machineID: order.machineID, round: order.round + 1, at: height)
                try committee.insertOrder(next, now: executor.clock.now())
                events.add(next, "no consensus: booked again (round \(next.round)) with \(next.members.map(\.name).joined(separator: ", "))")
            } catch {
                events.add(order, "no consensus, and the machine cannot be booked again: \(error)")
            }
        }
    }

    func book(machine: String, machineID: String, round: Int, at height: Int64) throws -> VerifyOrder {
        var rng = SystemRandomNumberGenerator()
        return try VerifyOrder.book(id: JobID.make(), machine: machine, machineID: machineID, round: round,
                                    committee: dbc.committee, at: height, using: &rng)
    }

    // MARK: admin requests

    func requireCommittee() throws {
        guard !dbc.committee.isEmpty else {
            throw ErrorMessage("DBC verification is off: the master's [dbc] committee is empty")
        }
    }

    func verify(_ request: DBCVerifyRequest) async throws -> DBCStatus {
        try requireCommittee()
        let machine = request.machine
        guard !machine.isEmpty else { throw ErrorMessage("dbc verify: name the machine (its slave's name)") }
        let machineID = request.machineID ?? DBCMachineID.default(for: machine)
        guard !machineID.isEmpty else { throw ErrorMessage("dbc verify: the machine id must not be empty") }
        let height = clock.now
        let events = try await executor.runCommittee { _, committee -> Events in
            if let open = try committee.orders(machine: machine).last(where: \.isOpen) {
                throw ErrorMessage("machine \(machine) already has an open order \(open.id) (round \(open.round), \(open.status.rawValue)); see wdpost dbc status --machine \(machine)")
            }
            let order = try self.book(machine: machine, machineID: machineID, round: 1, at: height)
            try committee.insertOrder(order, now: self.executor.clock.now())
            var events = Events()
            events.add(order, "booked \(order.members.map(\.name).joined(separator: ", ")) at block \(height) (machine_id \(machineID))")
            return events
        }
        log(events)
        return try await status(DBCStatusRequest(machine: machine))
    }

    func status(_ request: DBCStatusRequest) async throws -> DBCStatus {
        let (orders, probes) = try await executor.runCommittee { jobs, committee -> ([VerifyOrder], [String: ProbeJobState]) in
            var orders = try committee.orders(machine: request.machine)
            if request.machine == nil {
                // The latest order of every machine.
                var latest: [String: VerifyOrder] = [:]
                for order in orders { latest[order.machine] = order }
                orders = orders.filter { latest[$0.machine]?.id == $0.id }
            }
            var probes: [String: ProbeJobState] = [:]
            for order in orders {
                for m in order.members where !m.probeJob.isEmpty {
                    if let job = try jobs.get(m.probeJob) {
                        probes[job.id] = ProbeJobState(state: job.state, worker: job.worker, tryNum: job.tryNum, error: job.error)
                    }
                }
            }
            return (orders.map(\.redacted), probes)
        }
        if let machine = request.machine, orders.isEmpty {
            throw ErrorMessage("machine \(machine) has no DBC order; start one with wdpost dbc verify --machine \(machine)")
        }
        return DBCStatus(blockTime: dbc.blockTime, height: clock.now, automatic: dbc.committee.filter(dbc.isAutomatic),
                         manual: dbc.committee.filter(dbc.isManual), orders: orders, probes: probes)
    }

    /// A manual member's submission, applied to the machine's open order at the current height.
    private func submit(machine: String, member: String, what: String,
                        _ apply: @escaping (inout VerifyOrder, Int64) throws -> Void) async throws -> DBCStatus {
        try requireCommittee()
        guard dbc.committee.contains(member) else {
            throw ErrorMessage("\(member) is not a committee member (the master's [dbc] committee: \(dbc.committee.joined(separator: ", ")))")
        }
        guard dbc.isManual(member) else {
            throw ErrorMessage("\(member) is an automatic member: the master probes and submits for it (list it in [dbc] manual to submit by hand)")
        }
        let height = clock.now
        let events = try await executor.runCommittee { _, committee -> Events in
            guard let stored = try committee.orders(machine: machine).last(where: \.isOpen) else {
                throw ErrorMessage("machine \(machine) has no open DBC order")
            }
            var order = stored
            // The order checks the windows against the height itself.
            do {
                try apply(&order, height)
            } catch let refused as CommitteeError {
                throw ErrorMessage("order \(order.id): \(refused)")
            }
            var events = Events()
            events.add(order, "\(what) accepted at block \(height)", member: member)
            order.advance(to: height)
            try self.persist(order, stored: stored, at: height, committee: committee, events: &events)
            return events
        }
        log(events)
        return try await status(DBCStatusRequest(machine: machine))
    }

    func submitHash(_ request: DBCSubmitHashRequest) async throws -> DBCStatus {
        try await submit(machine: request.machine, member: request.member, what: "hash \(request.hash)") { order, height in
            try order.submitHash(member: request.member, hash: request.hash, at: height)
        }
    }

    func submitRaw(_ request: DBCSubmitRawRequest) async throws -> DBCStatus {
        try await submit(machine: request.machine, member: request.member, what: "raw info") { order, height in
            try order.submitRaw(member: request.member, info: request.info, at: height)
        }
    }
}
