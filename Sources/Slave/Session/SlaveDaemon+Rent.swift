import Foundation
import Logging
import NIOCore
import Shared

/// Yield on rent (DBC.md §1): a DBC machine's slave gives the GPUs back
/// within seconds of its node announcing `renting`, and takes jobs again
/// after `empty` (confirmed by the chain when `[dbc] chain_rpc` is set).
/// `RentYield` decides; this carries it out.
extension SlaveDaemon {
    struct RentListenError: Error, CustomStringConvertible {
        let description: String
    }

    /// Listens when `[dbc] rent_listen` is set; a listener that cannot bind
    /// stops the slave, which would otherwise run on a rented machine.
    func startRentListener() async throws {
        guard let address = config.dbc.rentListen, let nodeID = config.dbc.nodeID else { return }
        let listener: RentListener
        do { listener = try await RentListener.start(on: address, nodeID: nodeID, group: group, logger: logger) } catch {
            throw RentListenError(description: "cannot listen for DBC rent announcements on \(address) ([dbc] rent_listen): \(error)")
        }
        rentListener = listener
        let chain = config.dbc.chainRPC.map { "; `empty` is confirmed with the chain at \($0)" } ?? ""
        let bound = HostPort(host: address.host, port: listener.localAddress?.port ?? address.port)
        logger.info("listening for DBC rent announcements of node \(nodeID) on \(bound)\(chain)")
        // One consumer: announcements are acted on in the order they came.
        Task { for await status in listener.statuses { await self.rentAnnounced(status) } }
        await perform(rent.initialAction)
    }

    func rentAnnounced(_ status: RentDatagram.Status) async {
        let before = rent.state
        let action = rent.announced(status)
        if action != .none || before != rent.state {
            logger.warning("DBC node announces the machine \(status == .renting ? "rented" : "free (empty)")")
        }
        await perform(action)
    }

    func perform(_ action: RentYield.Action) async {
        switch action {
        case .none: return
        case .yield: await yieldForRent()
        case .resume: await resumeAfterRent()
        case let .askChain(round, again):
            let delay = again ? config.dbc.chainPollInterval : 0
            Task { await self.askChain(round: round, after: delay) }
        }
    }

    /// Kills every running job at once (a processor's whole process group),
    /// tells the master, and hands the jobs back once their runners have ended.
    private func yieldForRent() async {
        let jobs = Array(running.values)
        for job in jobs { job.task.cancel() }
        logger.warning("machine rented: taking no jobs; \(jobs.count) running job(s) killed and handed back")
        if let client, client.isActive { await notifyRent(client) }
        // A killed processor is reaped before its job goes to another slave;
        // a runner that does not stop when cancelled is not waited for long.
        await withTaskGroup(of: Void.self) { group in
            group.addTask { for job in jobs { await job.task.value } }
            group.addTask { try? await Task.sleep(nanoseconds: 1_500_000_000) }
            await group.next()
            group.cancelAll()
        }
        handBackForRent(jobs.map(\.lease))
    }

    private func resumeAfterRent() async {
        logger.warning("machine free: taking jobs again")
        if let client, client.isActive { await notifyRent(client) }
        slotFreed()
    }

    /// Releases these jobs (the try is given back: renting is not the job's
    /// fault); kept for the next connection when the master cannot be reached.
    func handBackForRent(_ leases: [JobLease]) {
        rentReleases += leases
        Task { await self.flushRentReleases() }
    }

    private func flushRentReleases() async {
        guard !rentReleases.isEmpty, let client, client.isActive else { return }
        let leases = rentReleases
        rentReleases.removeAll()
        let reason = "slave \(config.name): its DBC machine is rented"
        do {
            _ = try await client.call(.release, ReleaseRequest(jobs: leases, reason: reason), as: Empty.self)
            logger.info("released \(leases.count) job(s): the machine is rented")
        } catch {
            rentReleases += leases
            logger.warning("could not release \(leases.count) job(s) of the rented machine, kept for the next connection: \(error)")
        }
    }

    /// A new connection: the master hears that this slave takes no jobs
    /// before its first pull, and gets what is left to hand back.
    func announceRent(_ client: RPCClient) async {
        guard rentListener != nil, !rent.takesJobs else { return }
        await notifyRent(client)
        await flushRentReleases()
    }

    private func notifyRent(_ client: RPCClient) async {
        let notice = RentNotice(rented: !rent.takesJobs, nodeID: config.dbc.nodeID ?? "")
        do { _ = try await client.call(.rent, notice, as: Empty.self) } catch {
            logger.warning("could not tell the master the machine is \(notice.rented ? "rented" : "free"): \(error)")
        }
    }

    private func askChain(round: Int, after delay: Int64) async {
        if delay > 0 { try? await Task.sleep(nanoseconds: UInt64(delay) * 1000) }
        guard !stopping, let url = config.dbc.chainRPC, let nodeID = config.dbc.nodeID else { return }
        var status: String?
        do {
            status = try await ChainRentCheck(url: url, group: group).machineStatus(nodeID: nodeID)
        } catch {
            let text = "\(error)"
            if text != lastChainAnswer { logger.warning("cannot confirm with the chain that the machine is free: \(text); asking again") }
            lastChainAnswer = text
        }
        if let status {
            if status != ChainRentCheck.free && status != lastChainAnswer {
                logger.warning("the chain says the machine is \(status), not \(ChainRentCheck.free): taking no jobs; asking again")
            }
            lastChainAnswer = status
        }
        await perform(rent.chainAnswered(round: round, status: status))
    }
}
